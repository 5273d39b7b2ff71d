// The bad-input table's machinery: run the CLI, the pruner or the action (as the GitHub runner runs it) as
// child processes, and say what is wrong with how one failed. A failure a user causes must end with one line
// that says what happened and what to do, carry its error code, exit non-zero, show no stack trace and leak
// no secret. The checks return a list of problems instead of asserting, so a table row can be expected to
// fail (a known bug) without the checks knowing about the test framework.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// test/src and test/dist are both two levels below the repository root.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** `registry-push`, from its bin as a user runs it. */
export const registryPushBin = join(root, 'packages', 'cli', 'bin', 'registry-push.js');
/** `registry-pruner`, from its bin. */
export const registryPrunerBin = join(root, 'services', 'pruner', 'bin', 'registry-pruner.js');
/** The action's committed bundle and its metadata. */
export const actionDir = join(root, 'actions', 'registry-push');

/** Everything a run could show to a user or leave for later steps. */
export interface RunResult {
  /** Exit code; null when it was killed (see `timedOut`). */
  code: number | null;
  stdout: string;
  stderr: string;
  /** The run did not end by itself within the time allowed and was killed. */
  timedOut: boolean;
  /** Action only: outputs, state and job summary files of both steps, and the post step's log and code. */
  files?: string;
  postCode?: number | null;
  postLog?: string;
}

/** Run a node script without blocking this process (the simulator serves its API from it). */
export function runScript(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 90_000,
  cwd?: string,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(cwd === undefined ? {} : { cwd }),
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    // A hung command is a finding, not a reason to hang the table: kill the child we started, by its PID.
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

/** The inputs action.yml declares, with their defaults ('' when none), as the runner fills them in. */
export async function actionDefaults(): Promise<Map<string, string>> {
  const text = await readFile(join(actionDir, 'action.yml'), 'utf8');
  const section = text.slice(text.indexOf('\ninputs:\n'), text.indexOf('\noutputs:\n'));
  const inputs = new Map<string, string>();
  let current: string | undefined;
  for (const line of section.split('\n')) {
    const name = /^ {2}([a-z-]+):\s*$/.exec(line)?.[1];
    if (name !== undefined) inputs.set((current = name), '');
    const value = /^ {4}default:\s*'([^']*)'\s*$/.exec(line)?.[1];
    if (value !== undefined && current !== undefined) inputs.set(current, value);
  }
  return inputs;
}

/**
 * One job of the action as a GitHub runner runs it: `node dist/main.js`, then `node dist/post.js` with the
 * state main saved, INPUT_* for every declared input, fresh GITHUB_OUTPUT, GITHUB_STATE and
 * GITHUB_STEP_SUMMARY files per step and one private RUNNER_TEMP.
 */
export async function runAction(
  inputs: Readonly<Record<string, string>>,
  workDir: string,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<RunResult> {
  await mkdir(workDir, { recursive: true });
  const dir = await mkdtemp(join(workDir, 'job-'));
  const runnerTemp = join(dir, 'runner-temp');
  await mkdir(runnerTemp);
  await mkdir(join(dir, 'home'));
  const defaults = await actionDefaults();
  for (const name of Object.keys(inputs)) {
    if (!defaults.has(name)) throw new Error(`action.yml declares no input "${name}"`);
  }
  const steps: { name: 'main' | 'post'; result: RunResult; files: string }[] = [];
  let state: Record<string, string> = {};
  for (const step of ['main', 'post'] as const) {
    const files = {
      output: join(dir, `${step}-output`),
      state: join(dir, `${step}-state`),
      summary: join(dir, `${step}-summary`),
    };
    for (const file of Object.values(files)) await writeFile(file, '');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'] ?? '',
      HOME: join(dir, 'home'),
      GITHUB_ACTIONS: 'true',
      RUNNER_TEMP: runnerTemp,
      GITHUB_OUTPUT: files.output,
      GITHUB_STATE: files.state,
      GITHUB_STEP_SUMMARY: files.summary,
      ...extraEnv,
    };
    for (const [name, value] of defaults) env[`INPUT_${name.toUpperCase()}`] = inputs[name] ?? value;
    for (const [name, value] of Object.entries(state)) env[`STATE_${name}`] = value;
    const result = await runScript([join(actionDir, 'dist', `${step}.js`)], env);
    const stateText = await readFile(files.state, 'utf8');
    const texts = await Promise.all(Object.values(files).map((file) => readFile(file, 'utf8')));
    steps.push({ name: step, result, files: texts.join('\n') });
    if (step === 'main') state = parseFileCommands(stateText);
  }
  await rm(dir, { recursive: true, force: true });
  const [main, post] = steps;
  if (main === undefined || post === undefined) throw new Error('the job ran no steps');
  return {
    ...main.result,
    files: steps.map((step) => step.files).join('\n'),
    postCode: post.result.code,
    postLog: post.result.stdout + post.result.stderr,
  };
}

/** `name<<delimiter` blocks of a file-command file; a later value wins, as on the runner. */
function parseFileCommands(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const header = /^([^<]+)<<(.+)$/.exec(lines[i] ?? '');
    if (header === null) continue;
    const [, name = '', delimiter = ''] = header;
    const end = lines.indexOf(delimiter, i + 1);
    values[name] = lines.slice(i + 1, end).join('\n');
    i = end;
  }
  return values;
}

/** What a row expects of a failed run. */
export interface Expectation {
  /** Which program ran: the message line is found differently for each. */
  program: 'registry-push' | 'registry-pruner' | 'action';
  /**
   * The error code the message line ends with (`[CODE]`, or the `::error::` line's), any of a list; or
   * `usage`: a command-line mistake, one coded line and exit 2 (OPTION_INVALID for registry-push,
   * PRUNER_USAGE for registry-pruner), never the help text.
   */
  code: string | readonly string[];
  /** What the message line must say (what happened, and what to do). */
  says?: RegExp;
  /** A warning that must show on stderr (or in the action's log) besides the error. */
  warns?: RegExp;
  /** Texts that must show nowhere: tokens, passwords, kubeconfig contents. */
  secrets: readonly string[];
}

/** Every form a secret takes on its way out: as is, base64, and base64 of the `user:secret` of auth files. */
export function leakForms(secret: string, usernames: readonly string[]): string[] {
  const b64 = (text: string): string => Buffer.from(text).toString('base64');
  return [secret, b64(secret), ...usernames.map((user) => b64(`${user}:${secret}`))];
}

/** The `code` of a row that is a command-line mistake (see {@link Expectation.code}). */
export const USAGE = 'usage';
const CODE_AT_END = /\[([A-Z][A-Z0-9_]+)\]\s*$/;
/** The code of a usage mistake, per program. */
const USAGE_CODES: Readonly<Record<Expectation['program'], string>> = {
  'registry-push': 'OPTION_INVALID',
  'registry-pruner': 'PRUNER_USAGE',
  action: 'OPTION_INVALID',
};
const STACK = /^\s+at \S|node:internal|^\S*Error: .*\n\s+at /m;

/** The problems with how a run failed; empty when it failed the way a user should see. */
export function problemsOf(result: RunResult, expected: Expectation): string[] {
  const problems = outputProblems(result, expected);
  const line = messageLine(result, expected, problems);
  if (line === undefined) return problems;
  if (expected.says !== undefined && !expected.says.test(line)) {
    problems.push(`the message line does not match ${String(expected.says)}: ${line}`);
  }
  return [...problems, ...codeProblems(result, expected, line)];
}

/** Hangs, a zero exit, stack traces, secrets and a missing warning, anywhere in what the run left. */
function outputProblems(result: RunResult, expected: Expectation): string[] {
  const problems: string[] = [];
  // The runner takes the action's mask commands out of the log (and masks their values): they are no leak.
  const unmasked = (text: string): string => text.replace(/^::add-mask::.*$/gm, '');
  const everything = [result.stdout, result.stderr, result.files ?? '', result.postLog ?? '']
    .map(unmasked)
    .join('\n');
  if (result.timedOut) problems.push('it did not end by itself: it hung and was killed');
  if (result.code === 0) problems.push('it exited 0, as if nothing were wrong');
  if (STACK.test(everything)) problems.push('it printed a stack trace or node:internal frames');
  for (const secret of expected.secrets) {
    if (secret !== '' && everything.includes(secret)) {
      problems.push(`a secret shows in the output: ${secret.slice(0, 12)}…`);
    }
  }
  if (expected.warns !== undefined && !expected.warns.test(result.stderr + result.stdout)) {
    problems.push(`no warning matching ${String(expected.warns)}`);
  }
  return problems;
}

/** The code at the end of the message line, and a fix before it; a usage mistake exits 2. */
function codeProblems(result: RunResult, expected: Expectation, line: string): string[] {
  const usage = expected.code === USAGE;
  const codes = usage
    ? [USAGE_CODES[expected.program]]
    : typeof expected.code === 'string'
      ? [expected.code]
      : expected.code;
  const problems: string[] = [];
  if (usage && expected.program !== 'action' && result.code !== 2) {
    problems.push(`a usage mistake exits 2, not ${String(result.code)}`);
  }
  const code = CODE_AT_END.exec(line)?.[1];
  if (code === undefined || !codes.includes(code)) {
    problems.push(`the message line should end with [${codes.join('|')}], not: ${line}`);
  }
  // What to do, not only what happened: a sentence after the first one (the hint).
  const body = line.replace(CODE_AT_END, '').trim();
  if (!/[.:;!?]["'`)]?\s+\S.*\S/.test(body)) problems.push(`the message line gives no fix: ${line}`);
  return problems;
}

const namesProgram = (line: string, program: string): boolean => new RegExp(`^${program}[ :]`).test(line);

/**
 * The one line that says what went wrong: the `::error::` line of the action (there must be exactly one),
 * else the last line of stderr, which must be the only one carrying an error code.
 */
function messageLine(result: RunResult, expected: Expectation, problems: string[]): string | undefined {
  if (expected.program === 'action') return actionErrorLine(result, problems);
  const lines = result.stderr.split('\n').filter((l) => l.trim() !== '');
  if (lines.some((l) => l.startsWith('usage:'))) problems.push('it printed the usage text, not one line');
  const last = lines.at(-1);
  if (last === undefined) {
    problems.push('nothing on stderr');
    return undefined;
  }
  if (!namesProgram(last, expected.program))
    problems.push(`the last line does not name the program: ${last}`);
  const coded = [...result.stdout.split('\n'), ...lines].filter((l) => CODE_AT_END.test(l));
  if (coded.length > 1) problems.push(`more than one message line with a code: ${coded.join(' / ')}`);
  return last;
}

/** The action's one `::error::` line (its post step must still clean up without failing). */
function actionErrorLine(result: RunResult, problems: string[]): string | undefined {
  const errors = result.stdout.split('\n').filter((l) => l.startsWith('::error'));
  if (errors.length !== 1) problems.push(`expected one ::error:: line, found ${String(errors.length)}`);
  if (result.postCode !== 0) problems.push(`the post step failed too (exit ${String(result.postCode)})`);
  return errors[0]?.replace(/^::error[^:]*::/, '');
}

/** Run jobs with at most `limit` at a time, keeping the results in order. */
export async function inBatches<T, R>(
  items: readonly T[],
  limit: number,
  job: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await job(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
