// Runs the built `registry-push` binary as a child process, with exactly the environment given: for what
// only a real process shows (its environment as children inherit it, signals, exit codes).
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built CLI entry (`npm run build` first). */
export const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

/** A finished run of the binary. */
export interface BinaryRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A started run: the child, and its end. */
export interface StartedBinary {
  child: ChildProcess;
  done: Promise<BinaryRun>;
  /** Everything printed to stderr so far. */
  stderr: () => string;
}

/** Start `registry-push argv...` with `env` as its whole environment. */
export function startBinary(argv: readonly string[], env: NodeJS.ProcessEnv): StartedBinary {
  const child = spawn(process.execPath, [CLI, ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const done = new Promise<BinaryRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done, stderr: () => stderr };
}

/** Run `registry-push argv...` to its end. */
export function runBinary(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<BinaryRun> {
  return startBinary(argv, env).done;
}
