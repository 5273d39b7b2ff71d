import { existsSync, readFileSync } from 'node:fs';
import {
  RegistryPushError,
  isValidTag,
  parseReference,
  parseSource,
  type ClusterAccessOptions,
  type CustomRouteOptions,
  type ExposeMode,
  type PushTool,
} from '@registry-push/core';
import { isPlainlyPath } from './secrets.js';

/** Where the registry CA is installed besides the process itself (the `trust` input). */
export type TrustTarget = 'registry' | 'docker' | 'system' | 'none';

/** How the cluster is reached (the inputs `server`, `token`, `server-ca`, `kubeconfig`, `context`, ...). */
export interface ClusterInputs {
  server?: string;
  /** The OpenShift token: the API token with `server`, and always the registry password. */
  token?: string;
  /** PEM of the API server's CA (with `server`). */
  serverCaPem?: string;
  /** A kubeconfig path or content; default `$KUBECONFIG`. */
  kubeconfig?: string;
  context?: string;
  insecureSkipTlsVerify: boolean;
}

/** Every input, typed, validated and with its default applied. */
export interface Inputs {
  cluster: ClusterInputs;
  namespace: string;
  image: string;
  tags: string[];
  /** An explicit registry host: discovery is skipped. */
  registry?: string;
  source: string;
  expose: ExposeMode;
  /** The route to look for (`route-name`), or to create in custom-route mode. */
  routeName?: string;
  route?: CustomRouteOptions;
  revertExpose: boolean;
  /** The registry CA from `ca-file` or `ca-data`. */
  caPem?: string;
  trust: TrustTarget;
  tlsVerify: boolean;
  username?: string;
  pushTool: 'native' | PushTool;
  retries: number;
  timeoutMs: number;
  logout: boolean;
}

/**
 * The inputs and their defaults, exactly as `action.yml` declares them (a test keeps the two, and the
 * README's table, in step). An empty value means "not given".
 */
export const INPUT_DEFAULTS = {
  server: '',
  token: '',
  'server-ca': '',
  kubeconfig: '',
  context: '',
  'insecure-skip-tls-verify': 'false',
  namespace: '',
  image: '',
  tags: 'latest',
  registry: '',
  source: '',
  expose: 'auto',
  'route-name': '',
  'route-hostname': '',
  'route-cert': '',
  'route-key': '',
  'route-ca': '',
  'revert-expose': 'false',
  'ca-file': '',
  'ca-data': '',
  trust: 'registry',
  'tls-verify': 'true',
  username: '',
  'push-tool': 'native',
  retries: '3',
  timeout: '180',
  logout: 'true',
} as const;

export type InputName = keyof typeof INPUT_DEFAULTS;

/** Reads one raw input (the runner's `INPUT_<NAME>`); returns '' when unset. */
export type InputReader = (name: InputName) => string;

const EXPOSE_MODES: readonly ExposeMode[] = ['auto', 'default-route', 'custom-route', 'none'];
const TRUST_TARGETS: readonly TrustTarget[] = ['registry', 'docker', 'system', 'none'];
const PUSH_TOOLS: readonly Inputs['pushTool'][] = ['native', 'skopeo', 'podman', 'buildah', 'docker'];
/** A Kubernetes namespace name (DNS-1123 label). */
const PROJECT_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** One path component of the distribution grammar. */
const NAME_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/** The runner's environment variable for an input, as `@actions/core` reads it. */
export function inputVariable(name: InputName): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`;
}

/**
 * The runner hands inputs over as `INPUT_*` variables, which every child process would inherit (a push tool's
 * environment is readable in /proc). Once read, they are dropped from this process's environment.
 */
export function withholdInputs(env: NodeJS.ProcessEnv): void {
  for (const name of Object.keys(env)) if (name.startsWith('INPUT_')) delete env[name];
}

/** Reads inputs from the environment the runner sets up; the runner has already applied action.yml defaults. */
export function environmentReader(env: NodeJS.ProcessEnv = process.env): InputReader {
  return (name) => (env[inputVariable(name)] ?? '').trim();
}

function invalid(name: InputName, problem: string, hint: string): RegistryPushError {
  return new RegistryPushError('OPTION_INVALID', `The "${name}" input ${problem}.`, { hint });
}

/** The value, or the action.yml default when empty (runs outside the runner have no defaults applied). */
function valueOf(read: InputReader, name: InputName): string {
  const value = read(name);
  return value === '' ? INPUT_DEFAULTS[name] : value;
}

function optional(read: InputReader, name: InputName): string | undefined {
  const value = valueOf(read, name);
  return value === '' ? undefined : value;
}

function required(read: InputReader, name: InputName, example: string): string {
  const value = optional(read, name);
  if (value === undefined)
    throw invalid(name, 'is required', `Set it in the step's "with:", e.g. ${example}.`);
  return value;
}

/** A boolean the way YAML 1.2 and `core.getBooleanInput` spell it. */
function boolean(read: InputReader, name: InputName): boolean {
  const value = valueOf(read, name);
  if (['true', 'True', 'TRUE'].includes(value)) return true;
  if (['false', 'False', 'FALSE'].includes(value)) return false;
  throw invalid(name, `is "${value}", not true or false`, 'Write true or false.');
}

function choice<T extends string>(read: InputReader, name: InputName, choices: readonly T[]): T {
  const value = valueOf(read, name);
  if (!(choices as readonly string[]).includes(value)) {
    throw invalid(
      name,
      `is "${value}", not one of ${choices.join(', ')}`,
      `Use one of ${choices.join(', ')}.`,
    );
  }
  return value as T;
}

function integer(read: InputReader, name: InputName, min: number, max: number): number {
  const value = valueOf(read, name);
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < min || number > max) {
    throw invalid(
      name,
      `is "${value}", not a whole number from ${min} to ${max}`,
      `Give a number such as ${INPUT_DEFAULTS[name]}.`,
    );
  }
  return number;
}

/** PEM given inline (it starts with `-----BEGIN`) or as a file path. */
function pem(read: InputReader, name: InputName): string | undefined {
  const value = optional(read, name);
  if (value === undefined) return undefined;
  // The runner trims inputs; PEM files end with a newline.
  if (value.includes('-----BEGIN')) return `${value}\n`;
  return readInputFile(name, value);
}

function readInputFile(name: InputName, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw invalid(
      name,
      `names ${path}, which cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      'Give the path of a PEM file in the workspace, or the PEM text itself.',
    );
  }
}

/** `a, b` or one tag per line; duplicates dropped, order kept. */
export function parseTags(text: string): string[] {
  const tags = text
    .split(/[\n,]/)
    .map((tag) => tag.trim())
    .filter((tag) => tag !== '');
  for (const tag of tags) {
    if (!isValidTag(tag)) {
      throw invalid(
        'tags',
        `has "${tag}", which is not a valid tag`,
        'A tag is up to 128 letters, digits, "_", "." and "-", not starting with "." or "-"; separate tags with commas or newlines.',
      );
    }
  }
  return [...new Set(tags.length === 0 ? ['latest'] : tags)];
}

function namespaceInput(read: InputReader): string {
  const namespace = required(read, 'namespace', 'namespace: demo');
  if (!PROJECT_RE.test(namespace) || namespace.length > 63) {
    throw invalid(
      'namespace',
      `is "${namespace}", which is not a project name`,
      'A project name is lowercase letters, digits and "-", at most 63 characters.',
    );
  }
  return namespace;
}

function imageInput(read: InputReader): string {
  const image = required(read, 'image', 'image: my-app');
  if (image.includes('/')) {
    throw invalid(
      'image',
      `is "${image}", which contains "/"`,
      'The OpenShift registry takes exactly PROJECT/NAME: put the project in "namespace" and only the name in "image".',
    );
  }
  if (image.includes(':') || image.includes('@')) {
    throw invalid(
      'image',
      `is "${image}", which has a tag or digest`,
      'Give the name only and put tags in "tags".',
    );
  }
  if (!NAME_RE.test(image)) {
    throw invalid(
      'image',
      `is "${image}", which is not a valid image name`,
      'Use lowercase letters and digits, separated by ".", "_", "__" or "-".',
    );
  }
  return image;
}

function registryInput(read: InputReader): string | undefined {
  const registry = optional(read, 'registry');
  if (registry === undefined) return undefined;
  if (/^[a-z]+:\/\//i.test(registry) || registry.includes('/')) {
    throw invalid(
      'registry',
      `is "${registry}", which is not a bare host`,
      'Give the host (and port) only, e.g. default-route-openshift-image-registry.apps.example.com.',
    );
  }
  try {
    parseReference(`${registry}/project/name`);
  } catch {
    throw invalid(
      'registry',
      `is "${registry}", which is not a registry host`,
      'Give a host name with a dot, or host:port.',
    );
  }
  return registry;
}

function sourceInput(read: InputReader): string {
  const source = required(read, 'source', 'source: oci-archive:image.tar');
  parseSource(source);
  return source;
}

function routeInput(read: InputReader, expose: ExposeMode): CustomRouteOptions | undefined {
  if (expose !== 'custom-route') return undefined;
  const name = required(read, 'route-name', 'route-name: public-registry');
  const hostname = required(read, 'route-hostname', 'route-hostname: registry.apps.example.com');
  const certPem = pem(read, 'route-cert');
  const keyPem = pem(read, 'route-key');
  const caPem = pem(read, 'route-ca');
  if ((certPem === undefined) !== (keyPem === undefined)) {
    throw invalid(
      certPem === undefined ? 'route-cert' : 'route-key',
      'is missing: route-cert and route-key go together',
      'Give both (the route serves that certificate), or neither (the ingress default certificate is used).',
    );
  }
  return {
    name,
    hostname,
    ...(certPem === undefined ? {} : { certPem }),
    ...(keyPem === undefined ? {} : { keyPem }),
    ...(caPem === undefined ? {} : { caPem }),
  };
}

function caInput(read: InputReader): string | undefined {
  const file = optional(read, 'ca-file');
  const data = optional(read, 'ca-data');
  if (file !== undefined && data !== undefined) {
    throw invalid(
      'ca-data',
      'is set, and so is ca-file',
      'Give the registry CA once: a file path or the PEM text.',
    );
  }
  if (file !== undefined) return readInputFile('ca-file', file);
  if (data === undefined) return undefined;
  if (!data.includes('-----BEGIN')) {
    throw invalid(
      'ca-data',
      'is not PEM text',
      'Give the PEM text ("-----BEGIN CERTIFICATE-----…"), or use ca-file for a path.',
    );
  }
  // The runner trims inputs; PEM files end with a newline.
  return `${data}\n`;
}

function usernameInput(read: InputReader): string | undefined {
  const username = optional(read, 'username');
  if (username?.includes(':') === true) {
    throw invalid(
      'username',
      `is "${username}", which contains ":" (the OpenShift registry refuses such a login)`,
      'Use any name without a colon, or leave it unset; the token is what authenticates.',
    );
  }
  return username;
}

/**
 * A kubeconfig input that is neither content (a newline or a leading brace) nor an existing path. The value
 * is named only when it is plainly a short path: otherwise it may be content flattened onto one line, token
 * and all, and the masking of a one-line value is all that would stand between it and the log.
 */
function checkKubeconfig(kubeconfig: string): void {
  if (kubeconfig.includes('\n') || kubeconfig.trimStart().startsWith('{') || existsSync(kubeconfig)) return;
  if (isPlainlyPath(kubeconfig)) {
    throw invalid(
      'kubeconfig',
      `names ${kubeconfig}, which does not exist`,
      'Give a kubeconfig path or its content.',
    );
  }
  throw invalid(
    'kubeconfig',
    'is neither a readable file nor kubeconfig content (it is not repeated here, as it may hold a token)',
    'Give the path of a kubeconfig file in the workspace, or its whole YAML content with its line breaks (e.g. from a secret: kubeconfig: ${{ secrets.KUBECONFIG }}).',
  );
}

/** The cluster inputs only; the post step needs these and nothing else. */
export function readClusterInputs(read: InputReader): ClusterInputs {
  const server = optional(read, 'server');
  if (server !== undefined && !server.startsWith('https://')) {
    throw invalid(
      'server',
      `is "${server}", which is not an https URL`,
      'Give the API server as https://api.<cluster>:6443.',
    );
  }
  const serverCaPem = pem(read, 'server-ca');
  const token = optional(read, 'token');
  if (server !== undefined && token === undefined) {
    throw invalid(
      'server',
      'is set without a token',
      'Give "token" with "server", or use "kubeconfig" instead.',
    );
  }
  const kubeconfig = optional(read, 'kubeconfig');
  const context = optional(read, 'context');
  if (kubeconfig !== undefined) checkKubeconfig(kubeconfig);
  const insecureSkipTlsVerify = boolean(read, 'insecure-skip-tls-verify');
  if (insecureSkipTlsVerify && serverCaPem !== undefined) {
    throw invalid(
      'server-ca',
      'is set, and insecure-skip-tls-verify is true: the CA would not be used',
      'Keep server-ca and drop insecure-skip-tls-verify.',
    );
  }
  return {
    insecureSkipTlsVerify,
    ...(server === undefined ? {} : { server }),
    ...(token === undefined ? {} : { token }),
    ...(serverCaPem === undefined ? {} : { serverCaPem }),
    ...(kubeconfig === undefined ? {} : { kubeconfig }),
    ...(context === undefined ? {} : { context }),
  };
}

/** Read and check every input; the first problem is thrown as an OPTION_INVALID error naming the input. */
export function readInputs(read: InputReader): Inputs {
  const expose = choice(read, 'expose', EXPOSE_MODES);
  const route = routeInput(read, expose);
  const routeName = optional(read, 'route-name');
  const registry = registryInput(read);
  if (registry !== undefined && (expose === 'default-route' || expose === 'custom-route')) {
    throw invalid(
      'registry',
      `is set, which contradicts expose: ${expose}`,
      'Leave "registry" unset to expose the registry, or set expose to auto or none to push to the given host.',
    );
  }
  const caPem = caInput(read);
  const tlsVerify = boolean(read, 'tls-verify');
  if (!tlsVerify && caPem !== undefined) {
    throw invalid(
      optional(read, 'ca-file') === undefined ? 'ca-data' : 'ca-file',
      'is set, and tls-verify is false: the CA would not be used',
      'Keep the CA and drop tls-verify: false; the registry certificate is then verified against it.',
    );
  }
  const username = usernameInput(read);
  return {
    cluster: readClusterInputs(read),
    namespace: namespaceInput(read),
    image: imageInput(read),
    tags: parseTags(valueOf(read, 'tags')),
    source: sourceInput(read),
    expose,
    revertExpose: boolean(read, 'revert-expose'),
    trust: choice(read, 'trust', TRUST_TARGETS),
    tlsVerify,
    pushTool: choice(read, 'push-tool', PUSH_TOOLS),
    retries: integer(read, 'retries', 0, 10),
    timeoutMs: integer(read, 'timeout', 1, 3600) * 1000,
    logout: boolean(read, 'logout'),
    ...(registry === undefined ? {} : { registry }),
    ...(routeName === undefined ? {} : { routeName }),
    ...(route === undefined ? {} : { route }),
    ...(caPem === undefined ? {} : { caPem }),
    ...(username === undefined ? {} : { username }),
  };
}

/** Cluster access options for `ClusterClient.fromOptions`; undefined fields fall back to `$KUBECONFIG`. */
export function clusterAccess(cluster: ClusterInputs, env: NodeJS.ProcessEnv): ClusterAccessOptions {
  const serverAccess = cluster.server !== undefined && cluster.token !== undefined;
  return {
    env,
    ...(serverAccess ? { server: cluster.server, token: cluster.token } : {}),
    ...(serverAccess && cluster.serverCaPem !== undefined ? { caPem: cluster.serverCaPem } : {}),
    ...(cluster.insecureSkipTlsVerify ? { insecureSkipTlsVerify: true } : {}),
    ...(cluster.kubeconfig === undefined
      ? {}
      : { kubeconfig: cluster.kubeconfig, kubeconfigName: '"kubeconfig" input' }),
    ...(cluster.context === undefined ? {} : { context: cluster.context }),
  };
}

/**
 * The secrets among the parsed inputs to mask before anything is logged, besides the token (masked with every
 * form of it when the step's credentials are created, see `credentials.ts`): the route key as read.
 */
export function secretInputs(inputs: Pick<Inputs, 'route'>): string[] {
  return inputs.route?.keyPem === undefined ? [] : [inputs.route.keyPem];
}
