/**
 * The `registry-pruner` command line: `run`, `worker`, `enqueue`, `status`. Returns the exit code:
 * 0 done, 1 failed, 2 usage error, 3 the trigger was rejected because another run is in progress.
 */
import { parseArgs } from 'node:util';
import { formatPlan, formatRunResult, parseDuration, type ClusterAccessOptions } from '@registry-push/core';
import { PrunerClient } from './client.js';
import { PrunerError, describeError, errorBody } from './errors.js';
import { formatRun, formatStatus } from './format.js';
import { writeJsonLines } from './json-lines.js';
import { runOnce } from './oneshot.js';
import { loadSettings, parseMode, type Settings } from './settings.js';
import { startWorker } from './worker.js';

/** Where output goes. */
export interface Io {
  /** Writes a line; a promise, when given, resolves once the output can take more. */
  stdout(text: string): void | Promise<void>;
  stderr(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
  /** Resolves when the process is asked to stop (SIGTERM, SIGINT), with the signal's name. */
  stopSignal?: Promise<string>;
}

type Values = Record<string, string | boolean | undefined>;

const CLUSTER = {
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  'in-cluster': { type: 'boolean' },
} as const;
const OUTPUT = { output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } } as const;

const COMMANDS = {
  run: {
    summary: 'plan and carry out one prune in this process (no Redis); a dry run unless --confirm',
    options: {
      ...CLUSTER,
      ...OUTPUT,
      confirm: { type: 'boolean' },
      mode: { type: 'string' },
      'keep-tag-revisions': { type: 'string' },
      'keep-younger-than': { type: 'string' },
    },
    usage:
      '[--confirm] [--mode auto|metadata|full] [--keep-tag-revisions N] [--keep-younger-than 60m] [--output table|json]',
  },
  worker: {
    summary: 'consume the queue and keep the schedule of the ImagePruner CR (runs until SIGTERM)',
    options: { ...CLUSTER, help: OUTPUT.help, confirm: { type: 'boolean' }, mode: { type: 'string' } },
    usage: '[--confirm] [--mode auto|metadata|full]',
  },
  enqueue: {
    summary: 'trigger a run now; --wait follows it and prints its result',
    options: {
      ...OUTPUT,
      confirm: { type: 'boolean' },
      wait: { type: 'boolean' },
      timeout: { type: 'string' },
    },
    usage: '[--confirm] [--wait [--timeout 30m]] [--output table|json]',
  },
  status: {
    summary: 'the schedule, the run in progress and the last runs',
    options: { ...OUTPUT, limit: { type: 'string' } },
    usage: '[--limit 10] [--output table|json]',
  },
} as const;

type CommandName = keyof typeof COMMANDS;

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(8)} ${command.summary}`);
  return [
    'usage: registry-pruner <command> [options]',
    '',
    'Prune the OpenShift integrated registry: one-shot, or as a queue-driven worker (BullMQ on Redis).',
    '',
    'commands:',
    ...lines,
    '',
    'Cluster access: --kubeconfig, --context, --in-cluster (default: $KUBECONFIG, ~/.kube/config, then the pod).',
    'Redis: REDIS_URL (default redis://127.0.0.1:6379), REDIS_SENTINELS, REDIS_CLUSTER_NODES. Other settings: PRUNER_* (see the README).',
    'Exit codes: 0 done, 1 failed, 2 usage, 3 rejected (another run is in progress).',
  ].join('\n');
}

function usageError(message: string): PrunerError {
  return new PrunerError('PRUNER_USAGE', message);
}

function accessOf(values: Values, env: Io['env']): ClusterAccessOptions {
  return {
    ...(typeof values.kubeconfig === 'string' ? { kubeconfig: values.kubeconfig } : {}),
    ...(typeof values.context === 'string' ? { context: values.context } : {}),
    ...(values['in-cluster'] === true ? { inCluster: true } : {}),
    env: env,
  };
}

function outputOf(values: Values): 'table' | 'json' {
  const output = values.output ?? 'table';
  if (output !== 'table' && output !== 'json')
    throw usageError(`--output must be table or json, not "${String(output)}".`);
  return output;
}

function wholeNumber(name: string, raw: string | boolean | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (typeof raw !== 'string' || !Number.isInteger(value) || value < 0)
    throw usageError(`--${name} must be a whole number of 0 or more.`);
  return value;
}

function settingsWith(values: Values, env: Io['env']): Settings {
  const settings = loadSettings(env);
  return {
    ...settings,
    confirm: values.confirm === true || settings.confirm,
    mode: typeof values.mode === 'string' ? parseMode(values.mode) : settings.mode,
  };
}

async function runCommand(values: Values, io: Io): Promise<number> {
  const settings = settingsWith(values, io.env);
  const json = outputOf(values) === 'json';
  const keepTagRevisions = wholeNumber('keep-tag-revisions', values['keep-tag-revisions']);
  const keepYoungerThan = values['keep-younger-than'];
  if (
    keepYoungerThan !== undefined &&
    (typeof keepYoungerThan !== 'string' || parseDuration(keepYoungerThan) === undefined)
  ) {
    throw usageError('--keep-younger-than must be a duration such as 60m or 24h.');
  }
  if (!settings.confirm)
    io.stderr('Dry run: nothing will be changed. Add --confirm (or PRUNER_CONFIRM=true) to prune.');
  const { plan, result } = await runOnce({
    access: accessOf(values, io.env),
    confirm: settings.confirm,
    mode: settings.mode,
    policy: {
      ...settings.policy,
      ...(keepTagRevisions !== undefined ? { keepTagRevisions } : {}),
      ...(typeof keepYoungerThan === 'string' ? { keepYoungerThan } : {}),
    },
    registry: settings.registry,
    rate: settings.rate,
    minRate: settings.minRate,
    // The table shows counts only: the plan need not list its items.
    ...(json ? {} : { onProgress: (line: string) => io.stderr(line), detail: 'summary' as const }),
  });
  if (json) await writeJsonLines({ plan, result }, (text) => io.stdout(text));
  else await io.stdout(`${formatPlan(plan)}\n\n${formatRunResult(result)}`);
  return Object.keys(result.summary.errors).length > 0 ? 1 : 0;
}

async function workerCommand(values: Values, io: Io): Promise<number> {
  const settings = settingsWith(values, io.env);
  const worker = await startWorker({ settings, access: accessOf(values, io.env) });
  const signal = await (io.stopSignal ?? new Promise<string>(() => undefined));
  await worker.stop(signal);
  return 0;
}

async function enqueueCommand(values: Values, io: Io): Promise<number> {
  const settings = settingsWith(values, io.env);
  const json = outputOf(values) === 'json';
  const timeout = typeof values.timeout === 'string' ? parseDuration(values.timeout) : 30 * 60_000;
  if (timeout === undefined) throw usageError('--timeout must be a duration such as 30m.');
  const client = await PrunerClient.connect(settings);
  try {
    const runId = await client.enqueue(settings.confirm);
    if (values.wait !== true) {
      await io.stdout(
        json
          ? JSON.stringify({ runId, status: 'queued' }, null, 2)
          : `Run ${runId} queued${settings.confirm ? '' : ' (dry run)'}.`,
      );
      return 0;
    }
    const { record, result } = await client.waitForRun(runId, timeout);
    if (json) await writeJsonLines({ run: record, result }, (text) => io.stdout(text));
    else await io.stdout(formatRun(record, result));
    return record.status === 'succeeded' ? 0 : record.status === 'rejected' ? 3 : 1;
  } finally {
    await client.close();
  }
}

async function statusCommand(values: Values, io: Io): Promise<number> {
  const settings = loadSettings(io.env);
  const limit = wholeNumber('limit', values.limit) ?? 10;
  const json = outputOf(values) === 'json';
  const client = await PrunerClient.connect(settings);
  try {
    const report = await client.status(limit);
    await io.stdout(json ? JSON.stringify(report, null, 2) : formatStatus(report));
    return 0;
  } finally {
    await client.close();
  }
}

const HANDLERS: Record<CommandName, (values: Values, io: Io) => Promise<number>> = {
  run: runCommand,
  worker: workerCommand,
  enqueue: enqueueCommand,
  status: statusCommand,
};

function parse(name: CommandName, argv: readonly string[]): Values {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: COMMANDS[name].options,
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > 0) throw usageError(`unexpected argument "${positionals[0]}"`);
  return values as Values;
}

/**
 * Runs one command.
 *
 * @param argv The arguments after the program name.
 * @param io Output and environment.
 * @returns The exit code.
 */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    await io.stdout(usage());
    return name === undefined ? 2 : 0;
  }
  if (!(name in COMMANDS)) {
    io.stderr(`registry-pruner: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  const command = name as CommandName;
  let values: Values;
  try {
    values = parse(command, rest);
  } catch (error) {
    io.stderr(
      `registry-pruner ${command}: ${(error as Error).message}\nusage: registry-pruner ${command} ${COMMANDS[command].usage}`,
    );
    return 2;
  }
  if (values.help === true) {
    await io.stdout(
      `usage: registry-pruner ${command} ${COMMANDS[command].usage}\n\n${COMMANDS[command].summary}`,
    );
    return 0;
  }
  try {
    return await HANDLERS[command](values, io);
  } catch (error) {
    io.stderr(`registry-pruner ${command}: ${describeError(error)}`);
    if (values.output === 'json') await io.stdout(JSON.stringify({ error: errorBody(error) }, null, 2));
    return error instanceof PrunerError && error.code === 'PRUNER_USAGE' ? 2 : 1;
  }
}
