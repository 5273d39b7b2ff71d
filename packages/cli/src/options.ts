import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { RegistryPushError } from '@registry-push/core/push';

/** One command-line option; every one can also come from `REGISTRY_PUSH_<NAME>` in the environment. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  /** One line for `--help`. */
  help: string;
  /** Placeholder shown in `--help`. */
  value?: string;
  /** Allowed values. */
  choices?: readonly string[];
}

/** Every option of every subcommand, with the same names as the GitHub Action's inputs. */
export const OPTIONS = {
  // cluster
  server: { type: 'string', value: 'URL', help: 'API server URL (with a token)' },
  token: {
    type: 'string',
    value: 'TOKEN',
    help: 'API token; prefer REGISTRY_PUSH_TOKEN or --token-file (argv is visible to other users)',
  },
  'token-file': { type: 'string', value: 'FILE', help: 'read the token from FILE' },
  kubeconfig: { type: 'string', value: 'PATH', help: 'kubeconfig path or content (default $KUBECONFIG)' },
  context: { type: 'string', value: 'NAME', help: 'kubeconfig context' },
  'insecure-skip-tls-verify': { type: 'boolean', help: 'do not verify the API server certificate' },
  // target
  namespace: { type: 'string', short: 'n', value: 'PROJECT', help: 'the project to push to' },
  image: { type: 'string', value: 'NAME', help: 'image name inside the project' },
  registry: { type: 'string', value: 'HOST', help: 'registry host (skips discovery)' },
  // exposure
  expose: {
    type: 'string',
    value: 'MODE',
    choices: ['auto', 'default-route', 'custom-route', 'none'],
    help: 'auto (default), default-route, custom-route or none',
  },
  'route-name': { type: 'string', value: 'NAME', help: 'custom route name' },
  'route-hostname': { type: 'string', value: 'HOST', help: 'custom route host' },
  'route-cert': { type: 'string', value: 'FILE', help: 'custom route certificate (PEM)' },
  'route-key': { type: 'string', value: 'FILE', help: 'custom route private key (PEM)' },
  'route-ca': { type: 'string', value: 'FILE', help: 'CA of the custom route certificate (PEM)' },
  revert: {
    type: 'string',
    value: 'FILE',
    help: 'expose: undo the changes recorded in FILE (an --output json result)',
  },
  // trust
  'ca-file': { type: 'string', value: 'FILE', help: 'CA bundle (PEM) to trust for the registry' },
  'ca-data': { type: 'string', value: 'PEM', help: 'CA bundle (PEM text) to trust for the registry' },
  trust: {
    type: 'string',
    value: 'WHERE',
    choices: ['registry', 'docker', 'system', 'none'],
    help: 'registry (private cert dir, default), docker (/etc/docker/certs.d), system, or none',
  },
  'cert-dir': {
    type: 'string',
    value: 'DIR',
    help: 'certs.d root to install the CA into (<DIR>/<host>/ca.crt)',
  },
  'tls-verify': {
    type: 'string',
    value: 'BOOL',
    choices: ['true', 'false'],
    help: 'verify the registry certificate (default true)',
  },
  // login
  username: { type: 'string', value: 'NAME', help: 'registry username (default registry-push; no ":")' },
  authfile: {
    type: 'string',
    value: 'FILE',
    help: 'auth file to write or read (default: a new private one)',
  },
  'login-tool': {
    type: 'string',
    value: 'TOOL',
    choices: ['skopeo', 'podman', 'buildah', 'docker'],
    help: 'also log in with this tool (token on stdin)',
  },
  timeout: {
    type: 'string',
    value: 'SECONDS',
    help: 'seconds to wait, 1 to 3600: expose for the operator and router (default 180), enable for Available (default 300)',
  },
  // push
  source: {
    type: 'string',
    value: 'SOURCE',
    help: 'oci:DIR[:REF], oci-archive:FILE, docker-archive:FILE, containers-storage:IMG, docker-daemon:IMG',
  },
  tag: {
    type: 'string',
    multiple: true,
    short: 't',
    value: 'TAG',
    help: 'tag to push (repeatable; default latest)',
  },
  tags: { type: 'string', value: 'LIST', help: 'tags as a comma or newline separated list' },
  'push-tool': {
    type: 'string',
    value: 'TOOL',
    choices: ['native', 'skopeo', 'podman', 'buildah', 'docker'],
    help: 'native (default) or a tool for sources only it reads',
  },
  retries: {
    type: 'string',
    value: 'N',
    help: 'retries of transient registry failures, 0 to 10 (default 4)',
  },
  concurrency: { type: 'string', value: 'N', help: 'blob uploads in parallel, 1 to 32 (default 4)' },
  'plain-http': { type: 'boolean', help: 'talk plain HTTP to the registry (local registries only)' },
  logout: {
    type: 'string',
    value: 'BOOL',
    choices: ['true', 'false'],
    help: 'all: remove the auth file and cert dir afterwards (default true)',
  },
  // pull and copy: the source's and the destination's own access, over the shared options above
  'src-authfile': { type: 'string', value: 'FILE', help: 'copy: auth file with the source registry login' },
  'dest-authfile': {
    type: 'string',
    value: 'FILE',
    help: 'copy: auth file with the destination registry login',
  },
  'src-token-file': { type: 'string', value: 'FILE', help: 'copy: read the source registry token from FILE' },
  'dest-token-file': {
    type: 'string',
    value: 'FILE',
    help: 'copy: read the destination registry token from FILE',
  },
  'src-kubeconfig': {
    type: 'string',
    value: 'PATH',
    help: "copy: the source cluster's kubeconfig (its token logs in to the source registry)",
  },
  'dest-kubeconfig': {
    type: 'string',
    value: 'PATH',
    help: "copy: the destination cluster's kubeconfig (its token logs in to the destination registry)",
  },
  'src-ca-file': { type: 'string', value: 'FILE', help: 'copy: CA bundle (PEM) of the source registry' },
  'dest-ca-file': {
    type: 'string',
    value: 'FILE',
    help: 'copy: CA bundle (PEM) of the destination registry',
  },
  'src-tls-verify': {
    type: 'string',
    value: 'BOOL',
    choices: ['true', 'false'],
    help: 'copy: verify the source registry certificate (default: --tls-verify)',
  },
  'dest-tls-verify': {
    type: 'string',
    value: 'BOOL',
    choices: ['true', 'false'],
    help: 'copy: verify the destination registry certificate (default: --tls-verify)',
  },
  'src-plain-http': { type: 'boolean', help: 'copy: talk plain HTTP to the source registry' },
  'dest-plain-http': { type: 'boolean', help: 'copy: talk plain HTTP to the destination registry' },
  // registry admin (status, doctor, enable, metrics)
  storage: {
    type: 'string',
    value: 'KIND',
    help: 'enable: emptydir (non-production), pvc, pvc=CLAIM, s3, gcs, azure, swift, ibmcos or oss',
  },
  replicas: {
    type: 'string',
    value: 'N',
    help: 'enable: registry replicas, 1 to 100 (more than one needs shared storage)',
  },
  'rollout-strategy': {
    type: 'string',
    value: 'STRATEGY',
    choices: ['RollingUpdate', 'Recreate'],
    help: 'enable: RollingUpdate or Recreate (ReadWriteOnce claims need Recreate)',
  },
  bucket: { type: 'string', value: 'NAME', help: 'enable: s3, gcs, ibmcos or oss bucket' },
  region: { type: 'string', value: 'REGION', help: 'enable: s3, gcs or oss region' },
  'region-endpoint': { type: 'string', value: 'URL', help: 'enable: s3-compatible endpoint' },
  'project-id': { type: 'string', value: 'ID', help: 'enable: gcs project' },
  'account-name': { type: 'string', value: 'NAME', help: 'enable: azure storage account' },
  container: { type: 'string', value: 'NAME', help: 'enable: azure blob container or swift container' },
  'auth-url': { type: 'string', value: 'URL', help: 'enable: swift (OpenStack Keystone) auth URL' },
  'auth-version': { type: 'string', value: 'VERSION', help: 'enable: swift auth version (e.g. 3)' },
  domain: { type: 'string', value: 'NAME', help: 'enable: swift (Keystone v3) domain' },
  tenant: { type: 'string', value: 'NAME', help: 'enable: swift tenant (project)' },
  'region-name': { type: 'string', value: 'NAME', help: 'enable: swift region' },
  location: { type: 'string', value: 'LOCATION', help: 'enable: ibmcos bucket location (e.g. us-east)' },
  'resource-group-name': { type: 'string', value: 'NAME', help: 'enable: ibmcos resource group' },
  'resource-key-crn': { type: 'string', value: 'CRN', help: 'enable: ibmcos resource key CRN' },
  'service-instance-crn': { type: 'string', value: 'CRN', help: 'enable: ibmcos service instance CRN' },
  'endpoint-accessibility': {
    type: 'string',
    value: 'WHERE',
    choices: ['Internal', 'Public'],
    help: 'enable: oss endpoint, Internal or Public',
  },
  's3-access-key-file': {
    type: 'string',
    value: 'FILE',
    help: 'enable: S3 access key from FILE (or REGISTRY_PUSH_S3_ACCESS_KEY)',
  },
  's3-secret-key-file': {
    type: 'string',
    value: 'FILE',
    help: 'enable: S3 secret key from FILE (or REGISTRY_PUSH_S3_SECRET_KEY)',
  },
  'gcs-keyfile': { type: 'string', value: 'FILE', help: 'enable: GCS service account key (JSON) file' },
  'azure-account-key-file': {
    type: 'string',
    value: 'FILE',
    help: 'enable: Azure account key from FILE (or REGISTRY_PUSH_AZURE_ACCOUNT_KEY)',
  },
  'swift-username-file': {
    type: 'string',
    value: 'FILE',
    help: 'enable: Swift user name from FILE (or REGISTRY_PUSH_SWIFT_USERNAME)',
  },
  'swift-password-file': {
    type: 'string',
    value: 'FILE',
    help: 'enable: Swift password from FILE (or REGISTRY_PUSH_SWIFT_PASSWORD)',
  },
  'ibmcos-api-key-file': {
    type: 'string',
    value: 'FILE',
    help: 'enable: IBM Cloud IAM API key from FILE (or REGISTRY_PUSH_IBMCOS_API_KEY)',
  },
  'oss-access-key-id-file': {
    type: 'string',
    value: 'FILE',
    help: 'enable: Alibaba OSS access key id from FILE (or REGISTRY_PUSH_OSS_ACCESS_KEY_ID)',
  },
  'oss-access-key-secret-file': {
    type: 'string',
    value: 'FILE',
    help: 'enable: Alibaba OSS access key secret from FILE (or REGISTRY_PUSH_OSS_ACCESS_KEY_SECRET)',
  },
  'storage-credential': {
    type: 'string',
    multiple: true,
    value: 'KEY=FILE',
    help: 'config set: a storage credential from FILE (- for stdin) under its documented key, e.g. REGISTRY_STORAGE_S3_ACCESSKEY=./key (repeatable)',
  },
  'dry-run': {
    type: 'boolean',
    help: 'enable, config set, config undo and trusted-ca: check and print the patch, change nothing',
  },
  prune: { type: 'boolean', help: 'doctor: also check what pruning needs' },
  'metrics-secret-file': {
    type: 'string',
    value: 'FILE',
    help: "metrics: send the registry's legacy metrics secret (REGISTRY_OPENSHIFT_METRICS_SECRET) from FILE (- for stdin) instead of your token",
  },
  'basic-auth-user': {
    type: 'string',
    value: 'NAME',
    help: 'metrics: send the token as the Basic auth password with this user name (curl -u NAME:TOKEN, as the docs)',
  },
  // logs
  pod: { type: 'string', value: 'NAME', help: 'logs: one registry pod (default: all of them)' },
  follow: { type: 'boolean', short: 'f', help: 'logs: keep printing new lines until the pods are gone' },
  since: {
    type: 'string',
    value: 'DURATION',
    help: 'logs: only lines newer than DURATION (5s, 2m, 3h, 1h30m)',
  },
  'since-time': { type: 'string', value: 'TIME', help: 'logs: only lines since TIME (RFC 3339)' },
  tail: { type: 'string', value: 'N', help: 'logs: the last N lines of each pod (-1: all, the default)' },
  timestamps: { type: 'boolean', help: 'logs: prefix each line with the time the registry wrote it' },
  // output
  output: {
    type: 'string',
    short: 'o',
    value: 'FORMAT',
    choices: ['text', 'json'],
    help: 'text (default) or json',
  },
  help: { type: 'boolean', short: 'h', help: 'show help' },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;
/** Parsed option values. */
export type Options = Partial<Record<OptionName, string | boolean>>;

/** `route-cert` → `REGISTRY_PUSH_ROUTE_CERT`. */
export function envName(option: string): string {
  return `REGISTRY_PUSH_${option.toUpperCase().replace(/-/g, '_')}`;
}

/** A mistake in how the command was called: one line, code OPTION_INVALID, exit code 2. */
export class UsageError extends Error {}

/**
 * `--ca-data "$(cat ca.pem)"` and `--retries -1`: a PEM value and a negative number start with a dash, which
 * parseArgs takes for an option and refuses as "ambiguous" (with a three-line message); pass them on as
 * `--ca-data=<PEM>` and `--retries=-1`, as the user meant, so the option's own check can say what is wrong.
 */
function joinDashValues(argv: readonly string[]): string[] {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    const dashValue = next !== undefined && (next.startsWith('-----BEGIN ') || /^-\.?\d/.test(next));
    if (/^--[a-z-]+$/.test(arg) && dashValue) {
      args.push(`${arg}=${next}`);
      i++;
    } else {
      args.push(arg);
    }
  }
  return args;
}

/**
 * One line for a parseArgs error, whose own messages run over several lines and suggest `-- "--x"`. The
 * option is named; a value never is (it could be a token given to a misspelled option).
 */
function parseArgsProblem(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code;
  const option = /'(--?[A-Za-z0-9-]+)/.exec(message)?.[1] ?? 'an option';
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${option}`;
  if (/does not take an argument/.test(message)) return `${option} takes no value`;
  if (/argument missing/.test(message)) return `${option} needs a value`;
  if (/ambiguous/.test(message)) {
    return `${option} needs a value; give a value that starts with "-" as ${option}=VALUE`;
  }
  return message.split('\n')[0] ?? message;
}

/** How an option was given, for messages: `--token`, or `REGISTRY_PUSH_TOKEN` when it came from there. */
function given(name: OptionName, fromEnv: ReadonlySet<OptionName>): string {
  return fromEnv.has(name) ? `--${name} (as ${envName(name)})` : `--${name}`;
}

/** Options that cannot both be meant: which one wins would be a silent guess. */
const CONTRADICTIONS: readonly {
  names: readonly [OptionName, OptionName];
  applies: (options: Options) => boolean;
  why: string;
}[] = [
  {
    names: ['token', 'token-file'],
    applies: () => true,
    why: 'give the token once',
  },
  {
    names: ['ca-file', 'ca-data'],
    applies: () => true,
    why: 'give the registry CA once, as a file or as PEM text',
  },
  {
    names: ['tls-verify', 'ca-file'],
    applies: (options) => options['tls-verify'] === 'false',
    why: 'a CA is only used to verify the registry certificate; keep the CA and drop --tls-verify false',
  },
  {
    names: ['tls-verify', 'ca-data'],
    applies: (options) => options['tls-verify'] === 'false',
    why: 'a CA is only used to verify the registry certificate; keep the CA and drop --tls-verify false',
  },
  {
    names: ['plain-http', 'ca-file'],
    applies: () => true,
    why: 'plain HTTP has no certificate to verify; drop one of them',
  },
  {
    names: ['plain-http', 'ca-data'],
    applies: () => true,
    why: 'plain HTTP has no certificate to verify; drop one of them',
  },
];

function checkContradictions(options: Options, fromEnv: ReadonlySet<OptionName>): void {
  for (const { names, applies, why } of CONTRADICTIONS) {
    const [first, second] = names;
    // A flag set to false (REGISTRY_PUSH_PLAIN_HTTP=false) is as good as not given.
    const set = (name: OptionName): boolean => options[name] !== undefined && options[name] !== false;
    if (!set(first) || !set(second) || !applies(options)) continue;
    const shown = (name: OptionName): string =>
      name === 'tls-verify' ? `${given(name, fromEnv)} false` : given(name, fromEnv);
    throw new UsageError(`${shown(first)} and ${shown(second)} contradict each other: ${why}`);
  }
}

/** An option's value on argv; repeated options are kept as one newline-separated string (see listOption). */
function argvValue(value: unknown): string | boolean | undefined {
  if (Array.isArray(value)) return value.filter((v) => typeof v === 'string').join('\n');
  return typeof value === 'string' || typeof value === 'boolean' ? value : undefined;
}

/** An option's value from `REGISTRY_PUSH_<NAME>`; empty means unset. */
function envValue(spec: OptionSpec, text: string | undefined): string | boolean | undefined {
  if (text === undefined || text === '') return undefined;
  return spec.type === 'boolean' ? /^(1|true|yes)$/i.test(text) : text;
}

/** Parse argv, then fill unset options from the environment, then check choices. */
export function parseOptions(
  argv: readonly string[],
  allowed: readonly OptionName[],
  env: NodeJS.ProcessEnv,
): { options: Options; positionals: string[] } {
  const specs = Object.fromEntries(
    allowed.map((name) => {
      const spec: OptionSpec = OPTIONS[name];
      return [
        name,
        {
          type: spec.type,
          ...(spec.short === undefined ? {} : { short: spec.short }),
          ...(spec.multiple === true ? { multiple: true } : {}),
        },
      ];
    }),
  );
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: joinDashValues(argv), options: specs, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(parseArgsProblem(error));
  }
  const options: Options = {};
  const fromEnvironment = new Set<OptionName>();
  for (const name of allowed) {
    const spec: OptionSpec = OPTIONS[name];
    const fromArgv = argvValue(parsed.values[name]);
    const value = fromArgv ?? envValue(spec, env[envName(name)]);
    if (value === undefined) continue;
    if (fromArgv === undefined) fromEnvironment.add(name);
    if (typeof value === 'string' && spec.choices !== undefined && !spec.choices.includes(value)) {
      throw new UsageError(`--${name} must be one of ${spec.choices.join(', ')}, not "${value}"`);
    }
    options[name] = value;
  }
  checkContradictions(options, fromEnvironment);
  // Numbers are checked here, before any command starts work, not when the command first needs them.
  for (const name of Object.keys(NUMBER_RANGES) as NumberOptionName[]) numberOption(options, name);
  return { options, positionals: parsed.positionals };
}

/** The string value of an option, if set. */
export function stringOption(options: Options, name: OptionName): string | undefined {
  const value = options[name];
  return typeof value === 'string' ? value : undefined;
}

/** The items of a list option: split on commas and newlines, trimmed, empty ones dropped. */
export function listOption(options: Options, name: OptionName): string[] {
  const value = stringOption(options, name);
  if (value === undefined) return [];
  return value
    .split(/[,\n]/)
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** The allowed range of each numeric option (the GitHub Action's inputs use the same). */
export const NUMBER_RANGES = {
  retries: { min: 0, max: 10 },
  concurrency: { min: 1, max: 32 },
  timeout: { min: 1, max: 3600 },
  replicas: { min: 1, max: 100 },
} as const satisfies Partial<Record<OptionName, { min: number; max: number }>>;

export type NumberOptionName = keyof typeof NUMBER_RANGES;

/**
 * A whole number within `range`, or one line that names the option and the range. Only digits are taken:
 * `Number()` would also accept "", "0x10", "1e3" and " 5 ".
 */
export function wholeNumberIn(
  label: string,
  text: string,
  range: { readonly min: number; readonly max: number },
): number {
  const value = Number(text);
  if (!/^\d{1,9}$/.test(text) || value < range.min || value > range.max) {
    const shown = text.length > 20 ? `${text.slice(0, 20)}…` : text;
    throw new UsageError(`${label} must be a whole number from ${range.min} to ${range.max}, not "${shown}"`);
  }
  return value;
}

/** A numeric option within its range ({@link NUMBER_RANGES}), if set. */
export function numberOption(options: Options, name: NumberOptionName): number | undefined {
  const text = stringOption(options, name);
  if (text === undefined) return undefined;
  return wholeNumberIn(`--${name}`, text, NUMBER_RANGES[name]);
}

/** Read a file an option names, with an error that names the option. */
export function readOptionFile(options: Options, name: OptionName): string | undefined {
  const path = stringOption(options, name);
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new RegistryPushError(
      'OPTION_INVALID',
      `--${name} ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
      {
        hint: `Check the path given to --${name}.`,
      },
    );
  }
}

/** `--timeout` in milliseconds. */
export function timeoutMs(options: Options): number | undefined {
  const seconds = numberOption(options, 'timeout');
  return seconds === undefined ? undefined : seconds * 1000;
}

/** The help lines of some options. */
export function describeOptions(names: readonly OptionName[]): string {
  return names
    .map((name) => {
      const spec: OptionSpec = OPTIONS[name];
      const flag = `${spec.short === undefined ? '    ' : `-${spec.short}, `}--${name}${spec.value === undefined ? '' : ` ${spec.value}`}`;
      return `  ${flag.padEnd(34)} ${spec.help}`;
    })
    .join('\n');
}
