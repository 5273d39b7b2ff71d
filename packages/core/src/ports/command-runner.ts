/**
 * The command-runner port: how the core starts skopeo, podman, buildah, docker and the system trust update.
 * Each call says the whole environment the program gets (`env`), so nothing of the caller's environment —
 * which holds the token and CI secrets — reaches a tool by accident; `childEnvironment` builds it from an
 * allow-list. `nodeCommandRunner` (`node:child_process`) is the implementation the CLI and the pruner use;
 * the action passes its own, on `@actions/exec`, which streams each tool's output into a group of the job log.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** One program to run. */
export interface CommandRun {
  /** The program, looked up on the `PATH` of `env`. */
  program: string;
  args: readonly string[];
  /** The program's complete environment: the runner adds nothing from its own. */
  env: Readonly<Record<string, string>>;
  /** Written to the program's stdin, which is then closed (the only way a secret may travel). */
  stdin?: string;
  /** Killed (SIGTERM) after this long. */
  timeoutMs?: number;
}

/** How a program ended. */
export interface CommandResult {
  /** The exit code, or null when a signal ended it. */
  exitCode: number | null;
  /** The signal that ended it (a timeout or {@link CommandRunner.stopAll}), else null. */
  signal: string | null;
  /** stdout and stderr interleaved as they came, as text. */
  output: string;
}

/**
 * Runs programs. `run` resolves with how the program ended, whatever its exit code; it rejects only when
 * the program could not be started, with an error whose `code` is the system's (`ENOENT`: not installed).
 */
export interface CommandRunner {
  run(command: CommandRun): Promise<CommandResult>;
  /** Sends `signal` to every program still running (an interrupted run); returns how many. */
  stopAll(signal?: NodeJS.Signals): number;
}

/** The runner on `node:child_process`: stdin piped, stdout and stderr collected, no shell. */
export function nodeCommandRunner(): CommandRunner {
  const running = new Set<ChildProcess>();
  return {
    run: (command) =>
      new Promise((resolve, reject) => {
        const child = spawn(command.program, [...command.args], {
          env: { ...command.env },
          stdio: ['pipe', 'pipe', 'pipe'],
          ...(command.timeoutMs === undefined ? {} : { timeout: command.timeoutMs }),
        });
        running.add(child);
        let output = '';
        child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
        child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
        child.on('error', (error) => {
          running.delete(child);
          reject(error);
        });
        child.on('close', (exitCode, signal) => {
          running.delete(child);
          resolve({ exitCode, signal, output });
        });
        // A program that exits without reading stdin closes the pipe: that is not our failure.
        child.stdin.on('error', () => undefined);
        child.stdin.end(command.stdin ?? '');
      }),
    stopAll: (signal = 'SIGTERM') => {
      for (const child of running) child.kill(signal);
      return running.size;
    },
  };
}

/** The runner the core uses when a caller passes none (one per process, so `stopAll` sees every tool). */
export const defaultCommandRunner: CommandRunner = nodeCommandRunner();
