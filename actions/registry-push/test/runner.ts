// A stand-in for the GitHub runner: runs the committed bundle the way the runner does (a child `node` with
// INPUT_* variables and fresh GITHUB_OUTPUT, GITHUB_STATE and GITHUB_STEP_SUMMARY files per step, STATE_*
// from the main step's state file for the post step, one RUNNER_TEMP per job), and records everything a
// secret could leak into: stdout, stderr, the files, what is left in RUNNER_TEMP, and the argv and
// environment of every push tool (through a recording wrapper put first on PATH).
import { spawn } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findOnPath } from '@registry-push/testkit';

export const ACTION_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The inputs of action.yml with their defaults ('' when none), read the way the runner reads them. */
export async function actionInputs(path = join(ACTION_DIR, 'action.yml')): Promise<Map<string, string>> {
  const text = await readFile(path, 'utf8');
  const inputs = new Map<string, string>();
  const section = text.slice(text.indexOf('\ninputs:\n'), text.indexOf('\noutputs:\n'));
  let current: string | undefined;
  for (const line of section.split('\n')) {
    const name = /^ {2}([a-z-]+):\s*$/.exec(line);
    if (name?.[1] !== undefined) {
      current = name[1];
      inputs.set(current, '');
    }
    const value = /^ {4}default:\s*'([^']*)'\s*$/.exec(line);
    if (value?.[1] !== undefined && current !== undefined) inputs.set(current, value[1]);
  }
  return inputs;
}

/** The names of the outputs action.yml declares. */
export async function actionOutputs(path = join(ACTION_DIR, 'action.yml')): Promise<string[]> {
  const text = await readFile(path, 'utf8');
  const section = text.slice(text.indexOf('\noutputs:\n'), text.indexOf('\nruns:\n'));
  return [...section.matchAll(/^ {2}([a-z-]+):\s*$/gm)].map((match) => match[1] ?? '');
}

/** Parse a file-command file (`name<<delimiter`, value lines, `delimiter`); a later value wins, as on the runner. */
export function parseFileCommands(text: string): Record<string, string> {
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

/** What one step did. */
export interface StepResult {
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  /** The state file as written (raw) and parsed. */
  stateFile: string;
  state: Record<string, string>;
  summary: string;
  /** Masks the step registered (`::add-mask::`); the runner takes these lines out of the log. */
  masks: string[];
  /** The log as the runner would keep it: stdout without the mask commands, then stderr. */
  log: string;
}

/** A job on the fake runner: one RUNNER_TEMP, steps run in order. */
export class FakeRunner {
  readonly runnerTemp: string;
  readonly binDir: string;
  readonly toolLog: string;
  private stepCount = 0;

  private constructor(readonly dir: string) {
    this.runnerTemp = join(dir, 'runner-temp');
    this.binDir = join(dir, 'bin');
    this.toolLog = join(dir, 'tools.log');
  }

  /** A new job in `dir`, with recording wrappers for the push tools found on this machine. */
  static async create(dir: string): Promise<FakeRunner> {
    const runner = new FakeRunner(dir);
    await mkdir(runner.runnerTemp, { recursive: true });
    await mkdir(runner.binDir, { recursive: true });
    await mkdir(join(dir, 'home'), { recursive: true });
    await writeFile(runner.toolLog, '');
    for (const tool of ['skopeo', 'podman', 'buildah', 'docker'] as const) {
      const real = findOnPath(tool);
      if (real === undefined) continue;
      const wrapper = join(runner.binDir, tool);
      await writeFile(
        wrapper,
        `#!/bin/sh\n{ echo "argv: ${tool} $*"; env | sed 's/^/env: /'; } >> '${runner.toolLog}'\nexec '${real}' "$@"\n`,
      );
      await chmod(wrapper, 0o755);
    }
    return runner;
  }

  /**
   * Run `main` or `post` with the inputs (action.yml defaults filled in, as the runner does), and `callerEnv`
   * as the workflow's own `env:` (where a job keeps its secrets).
   */
  async step(
    entry: 'main' | 'post',
    inputs: Record<string, string>,
    state: Record<string, string> = {},
    callerEnv: Record<string, string> = {},
  ): Promise<StepResult> {
    const n = ++this.stepCount;
    const files = {
      output: join(this.dir, `step${n}-output`),
      state: join(this.dir, `step${n}-state`),
      summary: join(this.dir, `step${n}-summary`),
    };
    await Promise.all(Object.values(files).map((file) => writeFile(file, '')));
    const env: NodeJS.ProcessEnv = {
      PATH: `${this.binDir}:${process.env.PATH ?? ''}`,
      HOME: join(this.dir, 'home'),
      GITHUB_ACTIONS: 'true',
      RUNNER_DEBUG: '1',
      RUNNER_TEMP: this.runnerTemp,
      GITHUB_OUTPUT: files.output,
      GITHUB_STATE: files.state,
      GITHUB_STEP_SUMMARY: files.summary,
      ...callerEnv,
    };
    for (const [name, value] of await actionInputs()) {
      env[`INPUT_${name.toUpperCase()}`] = inputs[name] ?? value;
    }
    for (const [name, value] of Object.entries(state)) env[`STATE_${name}`] = value;
    const { code, stdout, stderr } = await runNode(join(ACTION_DIR, 'dist', `${entry}.js`), env);
    const stateFile = await readFile(files.state, 'utf8');
    const masks = [...stdout.matchAll(/^::add-mask::(.*)$/gm)].map((match) => match[1] ?? '');
    return {
      code,
      stdout,
      stderr,
      outputs: parseFileCommands(await readFile(files.output, 'utf8')),
      stateFile,
      state: parseFileCommands(stateFile),
      summary: await readFile(files.summary, 'utf8'),
      masks,
      log: stdout.replace(/^::add-mask::.*\n/gm, '') + stderr,
    };
  }

  /** Main, then post with the state main saved (the runner runs post whether main failed or not). */
  async job(
    inputs: Record<string, string>,
    callerEnv: Record<string, string> = {},
  ): Promise<{ main: StepResult; post: StepResult }> {
    const main = await this.step('main', inputs, {}, callerEnv);
    const post = await this.step('post', inputs, main.state, callerEnv);
    return { main, post };
  }

  /** Files and directories left under RUNNER_TEMP. */
  async leftInTemp(): Promise<string[]> {
    return readdir(this.runnerTemp, { recursive: true });
  }

  /** The contents of everything left under RUNNER_TEMP. */
  async tempContents(): Promise<string> {
    const texts: string[] = [];
    for (const entry of await this.leftInTemp()) {
      texts.push(await readFile(join(this.runnerTemp, entry), 'utf8').catch(() => ''));
    }
    return texts.join('\n');
  }
}

/** The Node 24 the tests run under (npx puts the repository's own node first); the runner uses node24 too. */
function runNode(
  script: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [script], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}
