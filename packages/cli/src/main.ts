import { RegistryPushError, formatError, isRegistryPushError } from '@registry-push/core/push';
import {
  ALL_OPTIONS,
  CONFIG_OPTIONS,
  DOCTOR_OPTIONS,
  ENABLE_OPTIONS,
  EXPOSE_OPTIONS,
  LOGIN_OPTIONS,
  COPY_OPTIONS,
  LOGS_OPTIONS,
  METRICS_OPTIONS,
  PULL_OPTIONS,
  PUSH_OPTIONS,
  STATUS_OPTIONS,
  TRUST_OPTIONS,
  TRUSTED_CA_OPTIONS,
} from './command-options.js';
import {
  COMPLETION_SHELLS,
  completionScript,
  type CompletionCommand,
  type CompletionOption,
  type CompletionShell,
} from '@registry-push/core/completion';
import type { CommandResult, Io } from './context.js';
import {
  OPTIONS,
  UsageError,
  type OptionSpec,
  describeOptions,
  parseOptions,
  type OptionName,
  type Options,
} from './options.js';
import { cliVersion } from './version.js';

const CLUSTER_OPTIONS: readonly OptionName[] = [
  'server',
  'token',
  'token-file',
  'kubeconfig',
  'context',
  'insecure-skip-tls-verify',
];
const COMMON_OPTIONS: readonly OptionName[] = ['output', 'help'];

interface Command {
  summary: string;
  options: readonly OptionName[];
  usesCluster: boolean;
  /** Names of the positional arguments it takes (all optional), for usage and checking. */
  positionals?: readonly string[];
  /** Whether the last positional may repeat (`config set SETTING...`). */
  variadic?: boolean;
  /** Words completion offers as arguments (the actions of `config`). */
  arguments?: readonly string[];
  /** More help after the summary (what the positionals take). */
  details?: string;
  run: (options: Options, io: Io, positionals: readonly string[]) => Promise<CommandResult>;
}

const CONFIG_DETAILS = `actions:
  get [PATH]           print the spec (httpSecret left out) or one field by dotted path
  diff PATH=VALUE...   print what the settings would change, as - old / + new lines
  set PATH=VALUE...    change the fields (--dry-run: print the merge patch); the spec before is recorded
  undo                 restore the recorded spec (and record the current one: undo twice returns)

settable PATHs (checked against the CRD before anything is sent; PATH=null removes an optional field):
  managementState=Managed|Unmanaged|Force|Removed   readOnly=true|false   replicas=N
  logLevel=Normal|Debug|Trace|TraceAll   rolloutStrategy=RollingUpdate|Recreate
  defaultRoute=true|false   disableRedirect=true|false   proxy.http|proxy.https|proxy.noProxy=TEXT
  requests.read|requests.write .maxRunning=N .maxInQueue=N .maxWaitInQueue=DURATION (e.g. 30s)
  nodeSelector, tolerations, affinity, topologySpreadConstraints, resources = JSON
  storage.managementState=Managed|Unmanaged   storage.BACKEND='{}' (whole stanza) or =null (remove it)
  storage.emptyDir='{}'   storage.pvc.claim=NAME
  storage.s3 .bucket .region .regionEndpoint .keyID .encrypt .virtualHostedStyle .chunkSizeMiB .trustedCA.name
             .cloudFront=JSON   storage.gcs .bucket .region .projectID .keyID
  storage.azure .accountName .container .cloudName=AzurePublicCloud|AzureUSGovernmentCloud|AzureChinaCloud|...
                .networkAccess=JSON   storage.swift .authURL .authVersion .container .domain .domainID .tenant
                .tenantID .regionName   storage.ibmcos .bucket .location .resourceGroupName .resourceKeyCRN
                .serviceInstanceCRN   storage.oss .bucket .region .endpointAccessibility .encryption.method
                .encryption.kms.keyID
storage credentials: --storage-credential KEY=FILE (FILE - for stdin), the documented keys of
image-registry-private-configuration-user: REGISTRY_STORAGE_S3_ACCESSKEY and _SECRETKEY, _GCS_KEYFILE,
_AZURE_ACCOUNTKEY, _SWIFT_USERNAME and _PASSWORD, _IBMCOS_IAMAPIKEY; OSS: credentials (an ini profile).
storage rules: exactly one backend (switch with storage.OLD=null); replicas > 1 is refused on emptyDir and on a
claim that is not ReadWriteMany; a ReadWriteOnce claim needs rolloutStrategy=Recreate; a claim under 100Gi warns.`;

const TRUSTED_CA_DETAILS = `actions:
  add HOST[:PORT] --ca-file FILE   put the CA (PEM certificates, never a key) under key HOST..PORT of the config
                                   map images.config.openshift.io/cluster spec.additionalTrustedCA names in
                                   openshift-config; creates the config map (registry-cas) and the reference
  list                             the registries the cluster trusts this way, with their certificates
  remove HOST[:PORT]               remove the registry's key; other keys, the config map and the reference stay
--dry-run prints the merge patches and changes nothing. IPv6 literals cannot be config map keys: use a DNS name.`;

const PULL_DETAILS = `SOURCE is docker://HOST/REPOSITORY[:TAG][@DIGEST] (docker:// may be left out); the layout gets
oci-layout, index.json (REF, default the source's tag, as org.opencontainers.image.ref.name) and every blob,
each checked against its digest. An existing layout keeps its other images. Logs in as push does: --authfile,
a token (REGISTRY_PUSH_TOKEN, --token-file) or the kubeconfig's. A failed or cancelled pull removes what it wrote.`;

const COPY_DETAILS = `SOURCE and DESTINATION are docker://HOST/REPOSITORY[:TAG] (the tag defaults to the source's). Blobs stream from
the source into the destination without a local copy; within one registry they are mounted instead. The shared
options (--authfile, --token-file, --kubeconfig, --ca-file, --tls-verify, --plain-http) apply to both registries;
--src-* and --dest-* override them for one, e.g. two clusters: --src-kubeconfig dev.kubeconfig
--dest-kubeconfig prod.kubeconfig --src-ca-file dev-ingress.pem --dest-ca-file prod-ingress.pem`;

// Commands load their code when run, so `push` with a token never loads the Kubernetes client.
const COMMANDS: Record<string, Command> = {
  expose: {
    summary:
      'make the integrated registry reachable from outside (or find how it is), or --revert a previous expose',
    options: EXPOSE_OPTIONS,
    usesCluster: true,
    run: async (...args) => (await import('./commands/expose.js')).exposeCommand(args[0], args[1]),
  },
  trust: {
    summary:
      "find the registry route's CA, prove it with a TLS handshake, and install it in a private cert dir",
    options: TRUST_OPTIONS,
    usesCluster: true,
    run: async (...args) => (await import('./commands/trust.js')).trustCommand(args[0], args[1]),
  },
  login: {
    summary: 'check the token against the registry and write a private auth file (token never on argv)',
    options: LOGIN_OPTIONS,
    usesCluster: true,
    run: async (...args) => (await import('./commands/login.js')).loginCommand(args[0], args[1]),
  },
  logout: {
    summary: 'remove exactly what login wrote',
    options: ['authfile'],
    usesCluster: false,
    run: async (options) => (await import('./commands/login.js')).logoutCommand(options),
  },
  push: {
    summary: 'push build output (OCI layout or archive, docker archive, or a local store through a tool)',
    options: PUSH_OPTIONS,
    usesCluster: true,
    positionals: ['SOURCE', 'HOST/PROJECT/NAME'],
    run: async (...args) => (await import('./commands/push.js')).pushCommand(...args),
  },
  pull: {
    summary:
      'pull an image (or a whole manifest list) from a registry into an OCI layout directory, digests kept',
    options: PULL_OPTIONS,
    usesCluster: true,
    positionals: ['SOURCE', 'oci:DIR[:REF]'],
    details: PULL_DETAILS,
    run: async (...args) => (await import('./commands/transfer.js')).pullCommand(...args),
  },
  copy: {
    summary:
      'copy an image between registries or clusters (promotion), streamed blob to blob, mounted within one registry',
    options: COPY_OPTIONS,
    usesCluster: true,
    positionals: ['SOURCE', 'DESTINATION'],
    details: COPY_DETAILS,
    run: async (...args) => (await import('./commands/transfer.js')).copyCommand(...args),
  },
  all: {
    summary: 'expose, trust, log in and push in one go, then clean up (like the GitHub Action)',
    options: ALL_OPTIONS,
    usesCluster: true,
    run: async (...args) => (await import('./commands/all.js')).allCommand(args[0], args[1]),
  },
  status: {
    summary:
      'the registry as an admin sees it: state, storage, replicas, routes, conditions, pruner, metrics',
    options: STATUS_OPTIONS,
    usesCluster: true,
    run: async (...args) => (await import('./commands/status.js')).statusCommand(args[0], args[1]),
  },
  doctor: {
    summary: 'check everything a push or prune needs, from your point of view, with the fix for each failure',
    options: DOCTOR_OPTIONS,
    usesCluster: true,
    run: async (...args) => (await import('./commands/doctor.js')).doctorCommand(args[0], args[1]),
  },
  enable: {
    summary:
      'configure registry storage, set it Managed and wait until it is Available (--dry-run: print the patch)',
    options: ENABLE_OPTIONS,
    usesCluster: true,
    run: async (...args) => (await import('./commands/enable.js')).enableCommand(args[0], args[1]),
  },
  metrics: {
    summary: "read the registry's imageregistry_* metrics with your token",
    options: METRICS_OPTIONS,
    usesCluster: true,
    run: async (...args) => (await import('./commands/metrics.js')).metricsCommand(args[0], args[1]),
  },
  logs: {
    summary:
      "print the registry pods' logs (all pods, or --pod NAME; --follow, --since, --tail as kubectl logs)",
    options: LOGS_OPTIONS,
    usesCluster: true,
    run: async (...args) => (await import('./commands/logs.js')).logsCommand(args[0], args[1]),
  },
  config: {
    summary:
      "read or change the registry operator's spec (replicas, logLevel, proxy, requests, placement...) and undo a change",
    options: CONFIG_OPTIONS,
    usesCluster: true,
    positionals: ['get|set|diff|undo', 'PATH | PATH=VALUE...'],
    variadic: true,
    arguments: ['get', 'set', 'diff', 'undo'],
    details: CONFIG_DETAILS,
    run: async (...args) => (await import('./commands/config.js')).configCommand(...args),
  },
  'trusted-ca': {
    summary:
      'make the cluster trust an external registry CA (additionalTrustedCA): add HOST[:PORT] --ca-file FILE, list, remove HOST[:PORT]',
    options: TRUSTED_CA_OPTIONS,
    usesCluster: true,
    positionals: ['add|list|remove', 'HOST[:PORT]'],
    arguments: ['add', 'list', 'remove'],
    details: TRUSTED_CA_DETAILS,
    run: async (...args) => (await import('./commands/trusted-ca.js')).trustedCaCommand(...args),
  },
};

const COMPLETION_SUMMARY = 'print a completion script: source <(registry-push completion bash), or zsh';

function usage(): string {
  const commands = [
    ...Object.entries(COMMANDS).map(([name, command]) => [name, command.summary] as const),
    ['completion', COMPLETION_SUMMARY] as const,
  ]
    .map(([name, summary]) => `  ${name.padEnd(10)} ${summary}`)
    .join('\n');
  return `usage: registry-push <command> [options]
       registry-push --version | -V

Expose, trust, log in to and push to the OpenShift integrated image registry from any CI system.
Every option can also be set as REGISTRY_PUSH_<OPTION> (e.g. REGISTRY_PUSH_TOKEN, REGISTRY_PUSH_NAMESPACE).

commands:
${commands}

Run \`registry-push <command> --help\` for its options.`;
}

function commandUsage(name: string, command: Command): string {
  const sections = [
    `usage: registry-push ${name} [options]${(command.positionals ?? []).map((p) => ` [${p}]`).join('')}\n\n${command.summary}${command.details === undefined ? '' : `\n\n${command.details}`}\n\noptions:\n${describeOptions(command.options)}`,
  ];
  if (command.usesCluster) sections.push(`cluster access:\n${describeOptions(CLUSTER_OPTIONS)}`);
  sections.push(`output:\n${describeOptions(COMMON_OPTIONS)}`);
  return sections.join('\n\n');
}

interface Parsed {
  options: Options;
  positionals: string[];
}

/**
 * The one line of a usage mistake (exit code 2): what is wrong, where the options are listed, and the code
 * scripts match on. The whole help is not dumped: it would bury the one line that matters.
 */
function usageMistake(io: Io, name: string | undefined, message: string, json: boolean): number {
  const where = name === undefined ? 'registry-push' : `registry-push ${name}`;
  const error = new RegistryPushError('OPTION_INVALID', `${message}.`, {
    hint: `Run "${where} --help" for the ${name === undefined ? 'commands' : 'options'}.`,
  });
  io.stderr(`${where}: ${formatError(error)}`);
  if (json) io.stdout(JSON.stringify({ error: error.toJSON() }, null, 2));
  return 2;
}

/** A stray argument is named only when it is plainly a word: it may be a piece of an unquoted secret. */
function describeArgument(argument: string): string {
  return /^[\w./:@+=-]{1,80}$/.test(argument) ? `"${argument}"` : '(not repeated here)';
}

function wantsJson(argv: readonly string[], env: NodeJS.ProcessEnv): boolean {
  const index = argv.findIndex((arg) => arg === '--output' || arg === '-o');
  return (
    argv.includes('--output=json') ||
    (index >= 0 && argv[index + 1] === 'json') ||
    (index < 0 && env.REGISTRY_PUSH_OUTPUT === 'json')
  );
}

/** Every option a command takes: its own, cluster access if it uses the cluster, and output. */
function allowedOptions(command: Command): OptionName[] {
  return [...command.options, ...(command.usesCluster ? CLUSTER_OPTIONS : []), ...COMMON_OPTIONS];
}

function parseFor(name: string, command: Command, argv: readonly string[], io: Io): Parsed | number {
  try {
    const parsed = parseOptions(argv, allowedOptions(command), io.env);
    const extra = parsed.positionals[command.positionals?.length ?? 0];
    if (extra !== undefined && command.variadic !== true)
      throw new UsageError(`unexpected argument ${describeArgument(extra)}`);
    return parsed;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return usageMistake(io, name, error.message, wantsJson(argv, io.env));
  }
}

async function execute(name: string, command: Command, parsed: Parsed, io: Io): Promise<number> {
  const options = parsed.options;
  const json = options.output === 'json';
  warnAboutArgvToken(options, io);
  if (SENDS_CREDENTIALS.has(name)) warnAboutUnverifiedTls(options, io);
  try {
    const result = await command.run(options, io, parsed.positionals);
    for (const warning of result.warnings ?? []) io.stderr(`warning: ${warning}`);
    if (result.streamed !== true) {
      io.stdout(json ? JSON.stringify(result.json, null, 2) : result.text.join('\n'));
    }
    return result.exitCode ?? 0;
  } catch (error) {
    if (error instanceof UsageError) return usageMistake(io, name, error.message, json);
    io.stderr(`registry-push ${name}: ${formatError(error)}`);
    if (json) {
      const body = isRegistryPushError(error)
        ? error.toJSON()
        : { code: 'INTERNAL', message: formatError(error) };
      io.stdout(JSON.stringify({ error: body }, null, 2));
    }
    return 1;
  }
}

/** Once per run, whether the command uses the token or not: argv is visible to every user of the machine. */
function warnAboutArgvToken(options: Options, io: Io): void {
  const token = options.token;
  if (typeof token === 'string' && io.env.REGISTRY_PUSH_TOKEN !== token) {
    io.stderr(
      'warning: --token puts the token on the command line, where other users of this machine can see it; prefer REGISTRY_PUSH_TOKEN or --token-file',
    );
  }
}

/** The commands that send the token (or the kubeconfig's) to the registry. */
const SENDS_CREDENTIALS: ReadonlySet<string> = new Set([
  'login',
  'push',
  'pull',
  'copy',
  'all',
  'doctor',
  'metrics',
]);

/**
 * Once per run: without verification anyone on the path can take the token and change the image. The
 * GitHub Action says the same as an annotation. Plain HTTP has no certificate, so it is not this warning.
 */
function warnAboutUnverifiedTls(options: Options, io: Io): void {
  const unverified =
    (options['tls-verify'] === 'false' && options['plain-http'] !== true) ||
    options['src-tls-verify'] === 'false' ||
    options['dest-tls-verify'] === 'false';
  if (!unverified) return;
  io.stderr(
    'warning: --tls-verify false: the registry certificate is NOT checked, so anyone on the path can read the token and change the image; give the registry CA with --ca-file or --ca-data instead',
  );
}

function completionOption(name: OptionName): CompletionOption {
  const spec: OptionSpec = OPTIONS[name];
  return {
    name,
    help: spec.help,
    ...(spec.short === undefined ? {} : { short: spec.short }),
    ...(spec.type === 'string' ? { value: spec.value ?? 'VALUE' } : {}),
    ...(spec.choices === undefined ? {} : { choices: spec.choices }),
  };
}

/** The commands and options for completion: the tables `--help` prints, and nothing else. */
function completionCommands(): CompletionCommand[] {
  return [
    ...Object.entries(COMMANDS).map(([name, command]) => ({
      name,
      summary: command.summary,
      options: allowedOptions(command).map(completionOption),
      ...(command.arguments === undefined ? {} : { arguments: command.arguments }),
    })),
    {
      name: 'completion',
      summary: COMPLETION_SUMMARY,
      options: [completionOption('help')],
      arguments: COMPLETION_SHELLS,
    },
  ];
}

const COMPLETION_USAGE = `usage: registry-push completion bash|zsh

${COMPLETION_SUMMARY}.
  bash: add \`source <(registry-push completion bash)\` to ~/.bashrc
  zsh:  add \`source <(registry-push completion zsh)\` to ~/.zshrc after compinit, or save the output as
        _registry-push in a directory of $fpath`;

function completionCommand(argv: readonly string[], io: Io): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout(COMPLETION_USAGE);
    return 0;
  }
  const [shell, extra] = argv;
  if (shell === undefined || extra !== undefined || !COMPLETION_SHELLS.includes(shell as CompletionShell)) {
    const given = shell === undefined ? 'no shell' : `"${describeArgument(argv.join(' '))}"`;
    return usageMistake(io, 'completion', `expected one shell, bash or zsh, not ${given}`, false);
  }
  io.stdout(
    completionScript(
      {
        program: 'registry-push',
        commands: completionCommands(),
        globalOptions: [
          completionOption('help'),
          { name: 'version', short: 'V', help: 'print the version of registry-push' },
        ],
      },
      shell as CompletionShell,
    ).trimEnd(),
  );
  return 0;
}

/** Run the CLI; returns the exit code (0 success, 1 failure, 2 usage error). */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    io.stdout(cliVersion());
    return 0;
  }
  if (name === 'completion') return completionCommand(rest, io);
  const command = COMMANDS[name];
  if (command === undefined) {
    return usageMistake(io, undefined, `unknown command ${describeArgument(name)}`, wantsJson(rest, io.env));
  }
  const parsed = parseFor(name, command, rest, io);
  if (typeof parsed === 'number') return parsed;
  if (parsed.options.help === true) {
    io.stdout(commandUsage(name, command));
    return 0;
  }
  return execute(name, command, parsed, io);
}
