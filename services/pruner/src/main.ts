/**
 * The `registry-pruner` command line: `run`, `worker`, `enqueue`, `status`, `restore`, `completion`. Returns the exit code:
 * 0 done, 1 failed, 2 usage error, 3 the trigger was rejected because another run is in progress.
 */
import { parseArgs } from 'node:util';
import { formatPlan, formatRunResult, parseDuration, type ClusterAccessOptions } from '@registry-push/core';
import {
  COMPLETION_SHELLS,
  completionScript,
  type CompletionOption,
  type CompletionSpec,
} from '@registry-push/core/completion';
import { PrunerClient } from './client.js';
import { PrunerError, describeError, errorBody } from './errors.js';
import { formatRun, formatStatus } from './format.js';
import { writeJsonLines } from './json-lines.js';
import { runOnce } from './oneshot.js';
import { formatRestore, restoreRun, restoreSelection } from './restore.js';
import {
  MAX_SETTING,
  loadSettings,
  rangeText,
  parseMode,
  readRegistryCa,
  type Settings,
} from './settings.js';
import { startWorker } from './worker.js';
import { approvableRun } from './web/approve.js';
import { explain, formatExplanation, parseExplainRef } from './web/explain.js';

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

/**
 * What a command leaves for the stop signal: the connections to close before exiting, and what the coded
 * line says about the work it was waiting on.
 */
interface Interruptible {
  /** Closes this (bounded) when the process is asked to stop. */
  closeOnStop(close: () => Promise<void>): void;
  /** What the interruption line says happens to the work: set once it is known (a run id). */
  afterStop: string;
}

/** Exit codes of a command ended by a signal: 128 + the signal's number, as shells report them. */
const SIGNAL_EXIT: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143 };

/** Most time the connections get to close after a stop signal (the client's own close is bounded too). */
const STOP_CLOSE_MS = 5_000;

/** What an interruption leaves behind, per command (the worker stops on the signal itself). */
const AFTER_STOP: Readonly<Record<string, string>> = {
  run: 'The one-shot run stopped where it was: a dry run changed nothing; a confirmed one may have carried out part of its plan, run it again to finish.',
  enqueue: 'The trigger may have been added: see `registry-pruner status`; a run goes on in the workers.',
  restore: 'The restore stopped part-way: what is back stays back; run it again to put back the rest.',
};

/** One option: how it parses, and what `--help` and completion show. */
interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  help: string;
  /** The placeholder of its value (FILE completes file names). */
  value?: string;
  choices?: readonly string[];
}

const CLUSTER = {
  kubeconfig: {
    type: 'string',
    value: 'FILE',
    help: 'the kubeconfig (default $KUBECONFIG, then ~/.kube/config)',
  },
  context: { type: 'string', value: 'NAME', help: 'the kubeconfig context to use' },
  'in-cluster': { type: 'boolean', help: "use the pod's service account" },
} as const satisfies Record<string, OptionSpec>;
const HELP = { type: 'boolean', short: 'h', help: 'show this help' } as const satisfies OptionSpec;
const OUTPUT = {
  output: {
    type: 'string',
    short: 'o',
    value: 'FORMAT',
    choices: ['table', 'json'],
    help: 'table (default) or json',
  },
  help: HELP,
} as const satisfies Record<string, OptionSpec>;
const MODE = {
  type: 'string',
  value: 'MODE',
  choices: ['auto', 'metadata', 'full'],
  help: "auto (default) follows the registry's managementState",
} as const satisfies OptionSpec;

/** Most runs `status --limit` lists (the store keeps far fewer). */
const MAX_LIMIT = 10_000;

const COMMANDS = {
  run: {
    summary: 'plan and carry out one prune in this process (no Redis); a dry run unless --confirm',
    options: {
      ...CLUSTER,
      ...OUTPUT,
      confirm: { type: 'boolean', help: 'delete for real (default: a dry run)' },
      mode: MODE,
      'keep-tag-revisions': { type: 'string', value: 'N', help: 'revisions kept per tag (default: the CR)' },
      'keep-younger-than': {
        type: 'string',
        value: 'DURATION',
        help: 'keep images younger than this, e.g. 60m (default: the CR)',
      },
    },
    usage:
      '[--confirm] [--mode auto|metadata|full] [--keep-tag-revisions N] [--keep-younger-than 60m] [--output table|json]',
  },
  worker: {
    summary: 'consume the queue and keep the schedule of the ImagePruner CR (runs until SIGTERM)',
    options: {
      ...CLUSTER,
      help: HELP,
      confirm: { type: 'boolean', help: 'scheduled runs delete for real (PRUNER_CONFIRM)' },
      mode: MODE,
      'http-host': { type: 'string', value: 'HOST', help: 'where /healthz, /readyz and /metrics listen' },
      'http-port': { type: 'string', value: 'PORT', help: 'their port (0: any free port)' },
    },
    usage:
      '[--confirm] [--mode auto|metadata|full] [--http-host 127.0.0.1] [--http-port 8080]\n' +
      '  /healthz, /readyz and /metrics listen on --http-host (PRUNER_HTTP_HOST; default 127.0.0.1,\n' +
      '  0.0.0.0 in a pod) and --http-port (PRUNER_HTTP_PORT; default 8080, 0 any free port).',
  },
  enqueue: {
    summary: 'trigger a run now; --wait follows it and prints its result',
    options: {
      ...OUTPUT,
      confirm: { type: 'boolean', help: 'the run deletes for real (default: a dry run)' },
      wait: { type: 'boolean', help: 'follow the run and print its result' },
      timeout: { type: 'string', value: 'DURATION', help: 'how long --wait waits, e.g. 30m' },
      plan: {
        type: 'string',
        value: 'ID',
        help: "with --confirm: carry out this dry run's approved plan (its run id or plan id)",
      },
    },
    usage:
      '[--confirm [--plan ID]] [--wait [--timeout 30m]] [--output table|json]\n' +
      "  --plan approves a dry run's plan: the run carries out only its changes, each checked again.\n" +
      '  --wait rides out a Redis restart until --timeout; if Redis stays away or loses the run, it says\n' +
      '  so and exits 1 (a run whose data survived goes on in the workers: follow it with `status`).',
  },
  status: {
    summary: 'the schedule, the run in progress and the last runs',
    options: { ...OUTPUT, limit: { type: 'string', value: 'N', help: `runs to list, 0 to ${MAX_LIMIT}` } },
    usage: `[--limit 10] [--output table|json]   (--limit: 0 to ${MAX_LIMIT})`,
  },
  restore: {
    summary: 'put back what a confirmed run removed, while its undo window is open',
    options: {
      ...CLUSTER,
      ...OUTPUT,
      image: { type: 'string', value: 'DIGEST', help: 'only this Image and its history items' },
      stream: {
        type: 'string',
        value: 'NS/NAME[:TAG]',
        help: 'only the history items of this stream (or tag) and their Images',
      },
      'dry-run': { type: 'boolean', help: 'show what would be restored; change nothing' },
    },
    usage: 'RUN [--image DIGEST] [--stream NS/NAME[:TAG]] [--dry-run] [--output table|json]',
  },
  explain: {
    summary: 'why a dry run keeps or would delete an image: REF is sha256:…, ns/name:tag or ns/name@sha256:…',
    options: {
      ...OUTPUT,
      run: { type: 'string', value: 'ID', help: 'the dry run to ask (default: the newest with a plan)' },
    },
    usage: 'REF [--run ID] [--output table|json]',
  },
  completion: {
    summary: 'print a completion script: source <(registry-pruner completion bash), or zsh',
    options: { help: HELP },
    usage: 'bash|zsh',
  },
} as const satisfies Record<string, { summary: string; options: Record<string, OptionSpec>; usage: string }>;

type CommandName = keyof typeof COMMANDS;

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(
    ([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`,
  );
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
    'Exit codes: 0 done, 1 failed, 2 usage, 3 rejected (another run is in progress), 130/143 interrupted (SIGINT/SIGTERM).',
  ].join('\n');
}

function usageError(message: string): PrunerError {
  return new PrunerError('PRUNER_USAGE', message);
}

/** The one stderr line of a failed command; a usage error points at the command's --help. */
function failureLine(command: CommandName | undefined, error: unknown): string {
  const prefix = command === undefined ? 'registry-pruner' : `registry-pruner ${command}`;
  const shown =
    error instanceof PrunerError && error.code === 'PRUNER_USAGE' && error.hint === ''
      ? new PrunerError('PRUNER_USAGE', error.message, { hint: `See \`${prefix} --help\`.` })
      : error;
  return `${prefix}: ${describeError(shown)
    .replace(/\s*\n\s*/g, ' ')
    .trim()}`;
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

/** A numeric option: digits only (no sign, exponent or hex), within `[min, max]`. */
function wholeNumber(
  name: string,
  raw: string | boolean | undefined,
  min: number,
  max: number,
): number | undefined {
  if (raw === undefined) return undefined;
  const value = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw usageError(`--${name} must be a whole number ${rangeText(min, max, value)}, not "${String(raw)}".`);
  return value;
}

/** A duration option (`30m`, `1h30m`); zero only when `allowZero`. */
function durationOption(
  name: string,
  raw: string | boolean | undefined,
  example: string,
  allowZero: boolean,
): number | undefined {
  if (raw === undefined) return undefined;
  const value = typeof raw === 'string' ? parseDuration(raw) : undefined;
  if (value === undefined || (!allowZero && value <= 0))
    throw usageError(
      `--${name} must be a ${allowZero ? '' : 'positive '}duration such as ${example} (units ms, s, m, h), not "${String(raw)}".`,
    );
  return value;
}

function settingsWith(values: Values, env: Io['env']): Settings {
  // Flags override the variables they stand for, before the variables are checked.
  const settings = loadSettings({
    ...env,
    ...(typeof values['http-host'] === 'string' ? { PRUNER_HTTP_HOST: values['http-host'] } : {}),
    ...(typeof values['http-port'] === 'string' ? { PRUNER_HTTP_PORT: values['http-port'] } : {}),
  });
  return {
    ...settings,
    confirm: values.confirm === true || settings.confirm,
    mode: typeof values.mode === 'string' ? parseMode(values.mode, '--mode') : settings.mode,
  };
}

async function runCommand(values: Values, io: Io): Promise<number> {
  const json = outputOf(values) === 'json';
  const keepTagRevisions = wholeNumber('keep-tag-revisions', values['keep-tag-revisions'], 0, MAX_SETTING);
  durationOption('keep-younger-than', values['keep-younger-than'], '60m or 24h', true);
  const keepYoungerThan = values['keep-younger-than'];
  const settings = settingsWith(values, io.env);
  // A CA file that cannot be read stops the command now, not after the plan.
  readRegistryCa(settings.registry);
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
    rates: settings,
    // The table shows counts only: the plan need not list its items.
    ...(json ? {} : { onProgress: (line: string) => io.stderr(line), detail: 'summary' as const }),
  });
  if (json) await writeJsonLines({ plan, result }, (text) => io.stdout(text));
  else await io.stdout(`${formatPlan(plan)}\n\n${formatRunResult(result)}`);
  return Object.keys(result.summary.errors).length > 0 ? 1 : 0;
}

async function workerCommand(values: Values, io: Io): Promise<number> {
  const settings = settingsWith(values, io.env);
  readRegistryCa(settings.registry);
  const worker = await startWorker({ settings, access: accessOf(values, io.env) });
  const signal = await (io.stopSignal ?? new Promise<string>(() => undefined));
  await worker.stop(signal);
  return 0;
}

async function enqueueCommand(values: Values, io: Io, stop?: Interruptible): Promise<number> {
  const json = outputOf(values) === 'json';
  const timeout = durationOption('timeout', values.timeout, '30m', false) ?? 30 * 60_000;
  const settings = settingsWith(values, io.env);
  const plan = typeof values.plan === 'string' ? values.plan : undefined;
  if (plan !== undefined && values.confirm !== true)
    throw usageError('--plan approves a plan for a confirmed run: add --confirm.');
  const client = await PrunerClient.connect(settings);
  stop?.closeOnStop(() => client.close());
  try {
    const approved = plan === undefined ? undefined : await approvableRun(client.store, plan);
    const runId = await client.enqueue(settings.confirm, approved?.runId);
    if (stop !== undefined)
      stop.afterStop = `Run ${runId} goes on in the workers: follow it with \`registry-pruner status\`.`;
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

async function statusCommand(values: Values, io: Io, stop?: Interruptible): Promise<number> {
  const limit = wholeNumber('limit', values.limit, 0, MAX_LIMIT) ?? 10;
  const json = outputOf(values) === 'json';
  const settings = loadSettings(io.env);
  const client = await PrunerClient.connect(settings);
  stop?.closeOnStop(() => client.close());
  try {
    const report = await client.status(limit);
    await io.stdout(json ? JSON.stringify(report, null, 2) : formatStatus(report));
    return 0;
  } finally {
    await client.close();
  }
}

async function explainCommand(values: Values, io: Io, stop?: Interruptible): Promise<number> {
  const json = outputOf(values) === 'json';
  if (typeof values.ref !== 'string')
    throw usageError('Name what to explain: sha256:…, ns/name:tag or ns/name@sha256:….');
  const ref = values.ref;
  parseExplainRef(ref);
  const client = await PrunerClient.connect(loadSettings(io.env));
  stop?.closeOnStop(() => client.close());
  try {
    const runId = typeof values.run === 'string' ? values.run : await newestExplorable(client);
    const answer = await explain(client.explorer, runId, ref);
    await io.stdout(json ? JSON.stringify(answer, null, 2) : formatExplanation(answer));
    return answer.lines.length > 0 ? 0 : 1;
  } finally {
    await client.close();
  }
}

/** The newest dry run that succeeded and still has its explorer index. */
async function newestExplorable(client: PrunerClient): Promise<string> {
  for (const run of await client.store.listRuns(100)) {
    if (run.dryRun && run.status === 'succeeded' && (await client.explorer.head(run.runId)) !== undefined)
      return run.runId;
  }
  throw new PrunerError(
    'PRUNER_RUN_NOT_FOUND',
    'No dry run with a stored plan is in the history (plans are kept 24 h).',
    {
      hint: 'Start one with `registry-pruner enqueue --wait`, then ask again.',
    },
  );
}

/** The commands and options for completion: the tables `--help` prints, and nothing else. */
function completionSpec(): CompletionSpec {
  const option = ([name, spec]: [string, OptionSpec]): CompletionOption => ({
    name,
    help: spec.help,
    ...(spec.short === undefined ? {} : { short: spec.short }),
    ...(spec.value === undefined ? {} : { value: spec.value }),
    ...(spec.choices === undefined ? {} : { choices: spec.choices }),
  });
  return {
    program: 'registry-pruner',
    commands: Object.entries(COMMANDS).map(([name, command]) => ({
      name,
      summary: command.summary,
      options: Object.entries<OptionSpec>(command.options).map(option),
      ...(name === 'completion' ? { arguments: COMPLETION_SHELLS } : {}),
    })),
    globalOptions: [option(['help', HELP]), { name: 'version', short: 'V', help: 'print the version' }],
  };
}

async function completionCommand(values: Values, io: Io): Promise<number> {
  const shell = values.shell;
  if (typeof shell !== 'string' || !(COMPLETION_SHELLS as readonly string[]).includes(shell)) {
    throw usageError(
      shell === undefined
        ? `Name the shell: ${COMPLETION_SHELLS.join(' or ')}.`
        : `Unknown shell "${String(shell)}" (shells: ${COMPLETION_SHELLS.join(', ')}).`,
    );
  }
  await io.stdout(completionScript(completionSpec(), shell as (typeof COMPLETION_SHELLS)[number]));
  return 0;
}

/** `usage: …`, the summary, and each option with its help. */
function commandHelp(command: CommandName): string {
  const entries = Object.entries<OptionSpec>(COMMANDS[command].options);
  const flags = entries.map(([name, spec]) => {
    const short = spec.short === undefined ? '    ' : `-${spec.short}, `;
    return `${short}--${name}${spec.value === undefined ? '' : ` ${spec.value}`}`;
  });
  const width = Math.max(...flags.map((flag) => flag.length)) + 2;
  return [
    `usage: registry-pruner ${command} ${COMMANDS[command].usage}`,
    '',
    COMMANDS[command].summary,
    '',
    'options:',
    ...entries.map(([, spec], i) => `  ${flags[i]!.padEnd(width)}${spec.help}`),
  ].join('\n');
}

async function restoreCommand(values: Values, io: Io): Promise<number> {
  const runId = values.runId;
  if (typeof runId !== 'string')
    throw usageError('restore needs the run id (`registry-pruner status` lists the runs in their window).');
  const json = outputOf(values) === 'json';
  const selection = restoreSelection(values.image, values.stream);
  const dryRun = values['dry-run'] === true;
  const { report } = await restoreRun({
    runId,
    selection,
    dryRun,
    access: accessOf(values, io.env),
    settings: loadSettings(io.env),
  });
  await io.stdout(
    json ? JSON.stringify({ runId, dryRun, ...report }, null, 2) : formatRestore(runId, report, dryRun),
  );
  return (report.counts.failed ?? 0) + (report.counts['too-late'] ?? 0) > 0 ? 1 : 0;
}

const HANDLERS: Record<CommandName, (values: Values, io: Io, stop?: Interruptible) => Promise<number>> = {
  run: runCommand,
  worker: workerCommand,
  enqueue: enqueueCommand,
  status: statusCommand,
  restore: restoreCommand,
  explain: explainCommand,
  completion: completionCommand,
};

/**
 * Reads the options of a command. Node's strict parser refuses `--limit -3` as "ambiguous" and prints
 * several lines; here a value may start with "-" (the number check then says what is allowed), a value
 * starting with "--" is taken as a missing value, and every mistake is one line.
 */
function parse(name: CommandName, argv: readonly string[]): Values {
  const options: Record<string, OptionSpec> = COMMANDS[name].options;
  const { tokens } = parseArgs({
    args: [...argv],
    options: Object.fromEntries(
      Object.entries(options).map(([key, { type, short }]) => [
        key,
        short === undefined ? { type } : { type, short },
      ]),
    ),
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  const values: Values = {};
  for (const token of tokens) {
    if (token.kind === 'positional') {
      // `completion` takes the shell, `explain` the reference, `restore` the run; no other command takes an
      // argument.
      const slot = { completion: 'shell', explain: 'ref', restore: 'runId' }[name as string];
      if (slot === undefined || values[slot] !== undefined)
        throw usageError(`Unexpected argument "${token.value}".`);
      values[slot] = token.value;
      continue;
    }
    if (token.kind === 'option-terminator') continue;
    const option = options[token.name];
    if (option === undefined) throw usageError(`Unknown option "${token.rawName}".`);
    if (option.type === 'boolean') {
      if (token.value !== undefined) throw usageError(`${token.rawName} takes no value.`);
      values[token.name] = true;
    } else {
      if (token.value === undefined || (!token.inlineValue && token.value.startsWith('--')))
        throw usageError(`${token.rawName} needs a value.`);
      values[token.name] = token.value;
    }
  }
  return values;
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
    if (name !== undefined) return 0;
    io.stderr(failureLine(undefined, usageError('No command given.')));
    return 2;
  }
  if (!Object.hasOwn(COMMANDS, name)) {
    io.stderr(
      failureLine(
        undefined,
        usageError(`Unknown command "${name}" (commands: ${Object.keys(COMMANDS).join(', ')}).`),
      ),
    );
    return 2;
  }
  const command = name as CommandName;
  let values: Values;
  try {
    values = parse(command, rest);
  } catch (error) {
    io.stderr(failureLine(command, error));
    return 2;
  }
  if (values.help === true) {
    await io.stdout(commandHelp(command));
    return 0;
  }
  const fail = async (error: unknown): Promise<number> => {
    io.stderr(failureLine(command, error));
    if (values.output === 'json') await io.stdout(JSON.stringify({ error: errorBody(error) }, null, 2));
    return error instanceof PrunerError && error.code === 'PRUNER_USAGE' ? 2 : 1;
  };
  // The worker stops on the signal itself (it hands its job back); every other command is ended by it here.
  if (command === 'worker' || io.stopSignal === undefined) {
    try {
      return await HANDLERS[command](values, io);
    } catch (error) {
      return fail(error);
    }
  }
  return interruptible(command, values, io, io.stopSignal, fail);
}

/**
 * Runs a command until it ends or the stop signal comes; then closes what it holds (bounded) and reports
 * the interruption in one coded line, with the shell's exit code for the signal.
 */
async function interruptible(
  command: CommandName,
  values: Values,
  io: Io,
  stopSignal: Promise<string>,
  fail: (error: unknown) => Promise<number>,
): Promise<number> {
  const closers: (() => Promise<void>)[] = [];
  const stop: Interruptible = {
    closeOnStop: (close) => void closers.push(close),
    afterStop: AFTER_STOP[command] ?? 'Nothing was changed.',
  };
  const outcome = await Promise.race([
    HANDLERS[command](values, io, stop).then(
      (code) => ({ code }),
      (error: unknown) => ({ error }),
    ),
    stopSignal.then((signal) => ({ signal })),
  ]);
  if ('code' in outcome) return outcome.code;
  if ('error' in outcome) return fail(outcome.error);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(closers.map((close) => close().catch(() => undefined))),
    new Promise((resolve) => (timer = setTimeout(resolve, STOP_CLOSE_MS))),
  ]);
  clearTimeout(timer);
  await fail(
    new PrunerError('PRUNER_INTERRUPTED', `Interrupted by ${outcome.signal}.`, { hint: stop.afterStop }),
  );
  return SIGNAL_EXIT[outcome.signal] ?? 1;
}
