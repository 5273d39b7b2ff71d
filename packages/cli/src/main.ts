import { formatError, isRegistryPushError } from '@registry-push/core';
import { EXPOSE_OPTIONS, exposeCommand } from './commands/expose.js';
import { LOGIN_OPTIONS, loginCommand, logoutCommand } from './commands/login.js';
import { TRUST_OPTIONS, trustCommand } from './commands/trust.js';
import { DOCTOR_OPTIONS, doctorCommand } from './commands/doctor.js';
import { ENABLE_OPTIONS, enableCommand } from './commands/enable.js';
import { METRICS_OPTIONS, metricsCommand } from './commands/metrics.js';
import { STATUS_OPTIONS, statusCommand } from './commands/status.js';
import type { CommandResult, Io } from './context.js';
import { UsageError, describeOptions, parseOptions, type OptionName, type Options } from './options.js';

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
  run: (options: Options, io: Io) => Promise<CommandResult>;
}

const COMMANDS: Record<string, Command> = {
  expose: {
    summary:
      'make the integrated registry reachable from outside (or find how it is), or --revert a previous expose',
    options: EXPOSE_OPTIONS,
    usesCluster: true,
    run: exposeCommand,
  },
  trust: {
    summary:
      "find the registry route's CA, prove it with a TLS handshake, and install it in a private cert dir",
    options: TRUST_OPTIONS,
    usesCluster: true,
    run: trustCommand,
  },
  login: {
    summary: 'check the token against the registry and write a private auth file (token never on argv)',
    options: LOGIN_OPTIONS,
    usesCluster: true,
    run: loginCommand,
  },
  logout: {
    summary: 'remove exactly what login wrote',
    options: ['authfile'],
    usesCluster: false,
    run: (options) => logoutCommand(options),
  },
  status: {
    summary:
      'the registry as an admin sees it: state, storage, replicas, routes, conditions, pruner, metrics',
    options: STATUS_OPTIONS,
    usesCluster: true,
    run: statusCommand,
  },
  doctor: {
    summary: 'check everything a push or prune needs, from your point of view, with the fix for each failure',
    options: DOCTOR_OPTIONS,
    usesCluster: true,
    run: doctorCommand,
  },
  enable: {
    summary:
      'configure registry storage, set it Managed and wait until it is Available (--dry-run: print the patch)',
    options: ENABLE_OPTIONS,
    usesCluster: true,
    run: enableCommand,
  },
  metrics: {
    summary: "read the registry's imageregistry_* metrics with your token",
    options: METRICS_OPTIONS,
    usesCluster: true,
    run: metricsCommand,
  },
};

function usage(): string {
  const commands = Object.entries(COMMANDS)
    .map(([name, command]) => `  ${name.padEnd(8)} ${command.summary}`)
    .join('\n');
  return `usage: registry-push <command> [options]

Expose, trust, log in to and push to the OpenShift integrated image registry from any CI system.
Every option can also be set as REGISTRY_PUSH_<OPTION> (e.g. REGISTRY_PUSH_TOKEN, REGISTRY_PUSH_NAMESPACE).

commands:
${commands}

Run \`registry-push <command> --help\` for its options.`;
}

function commandUsage(name: string, command: Command): string {
  const sections = [
    `usage: registry-push ${name} [options]\n\n${command.summary}\n\noptions:\n${describeOptions(command.options)}`,
  ];
  if (command.usesCluster) sections.push(`cluster access:\n${describeOptions(CLUSTER_OPTIONS)}`);
  sections.push(`output:\n${describeOptions(COMMON_OPTIONS)}`);
  return sections.join('\n\n');
}

function parseFor(name: string, command: Command, argv: readonly string[], io: Io): Options | number {
  const allowed = [...command.options, ...(command.usesCluster ? CLUSTER_OPTIONS : []), ...COMMON_OPTIONS];
  try {
    const parsed = parseOptions(argv, allowed, io.env);
    if (parsed.positionals.length > 0)
      throw new UsageError(`unexpected argument "${parsed.positionals[0] ?? ''}"`);
    return parsed.options;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`registry-push ${name}: ${error.message}\n\n${commandUsage(name, command)}`);
    return 2;
  }
}

async function execute(name: string, command: Command, options: Options, io: Io): Promise<number> {
  const json = options.output === 'json';
  try {
    const result = await command.run(options, io);
    for (const warning of result.warnings ?? []) io.stderr(`warning: ${warning}`);
    io.stdout(json ? JSON.stringify(result.json, null, 2) : result.text.join('\n'));
    return result.exitCode ?? 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`registry-push ${name}: ${error.message}`);
      return 2;
    }
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

/** Run the CLI; returns the exit code (0 success, 1 failure, 2 usage error). */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    io.stderr(`registry-push: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  const options = parseFor(name, command, rest, io);
  if (typeof options === 'number') return options;
  if (options.help === true) {
    io.stdout(commandUsage(name, command));
    return 0;
  }
  return execute(name, command, options, io);
}
