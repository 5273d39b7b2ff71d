// Worker and CLI processes for the tests: the built `registry-pruner` binary started as a child process,
// its JSON log lines collected, stopped by PID (SIGTERM, or SIGKILL to simulate a crash).
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli.js');

/** A JSON log line of the worker. */
export type LogLine = Record<string, unknown> & { msg?: string };

/** A running worker process. */
export interface WorkerProcess {
  readonly name: string;
  readonly pid: number;
  readonly logs: LogLine[];
  readonly stderr: string[];
  /** Resolves with the exit code (or the signal name) when the process ends. */
  readonly exited: Promise<number | string>;
  /** Waits for a log line matching `match`; rejects after `timeoutMs`. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** The HTTP port it serves on (from its start-up line). */
  port(): Promise<number>;
  kill(signal: NodeJS.Signals): void;
}

const running = new Set<ChildProcess>();

/** Kills every child process still running (afterAll safety net). */
export function killAll(): void {
  for (const child of running)
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  running.clear();
}

function collectLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffer = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffer += chunk;
    for (let index = buffer.indexOf('\n'); index >= 0; index = buffer.indexOf('\n')) {
      onLine(buffer.slice(0, index));
      buffer = buffer.slice(index + 1);
    }
  });
}

/** Starts `registry-pruner worker` with the given environment. */
export function startWorkerProcess(
  name: string,
  env: Record<string, string>,
  args: string[] = [],
): WorkerProcess {
  const child = spawn(process.execPath, [CLI, 'worker', ...args], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
      PRUNER_WORKER_NAME: name,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const logs: LogLine[] = [];
  const stderr: string[] = [];
  const waiters: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  collectLines(child.stdout, (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { msg: text };
    }
    logs.push(line);
    for (const waiter of [...waiters]) {
      if (waiter.match(line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  collectLines(child.stderr, (text) => stderr.push(text));
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(code ?? signal ?? -1);
    });
  });
  const waitForLog = (match: (line: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> => {
    const seen = logs.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `${name}: no matching log line within ${timeoutMs} ms; last lines:\n${logs
                .slice(-15)
                .map((l) => JSON.stringify(l))
                .join('\n')}\n${stderr.slice(-10).join('\n')}`,
            ),
          ),
        timeoutMs,
      );
      waiters.push({
        match,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(
          new Error(
            `${name} exited (${String(code)}) before the log line; last lines:\n${logs
              .slice(-15)
              .map((l) => JSON.stringify(l))
              .join('\n')}\n${stderr.slice(-10).join('\n')}`,
          ),
        );
      });
    });
  };
  return {
    name,
    pid: child.pid!,
    logs,
    stderr,
    exited,
    waitForLog,
    port: async () => Number((await waitForLog((line) => line.msg === 'worker started')).port),
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, signal);
    },
  };
}

/**
 * The worker processes one test file starts: each test's are stopped after it (`stopAll` in `afterEach`),
 * with SIGTERM (the clean stop) or SIGKILL (a crash).
 */
export class WorkerSet {
  readonly #running: WorkerProcess[] = [];

  /** Starts `registry-pruner worker` and remembers it. */
  start(name: string, env: Record<string, string>): WorkerProcess {
    const started = startWorkerProcess(name, env);
    this.#running.push(started);
    return started;
  }

  /** A worker the test stopped itself. */
  forget(worker: WorkerProcess): void {
    const at = this.#running.indexOf(worker);
    if (at >= 0) this.#running.splice(at, 1);
  }

  /** Stops every remembered worker and waits for it to exit. */
  async stopAll(signal: NodeJS.Signals): Promise<void> {
    for (const worker of this.#running.splice(0)) {
      worker.kill(signal);
      await worker.exited;
    }
  }
}

/** What a CLI command printed and how it ended. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `registry-pruner <args>` to the end. */
export function runCli(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      process.kill(child.pid!, 'SIGKILL');
      reject(
        new Error(
          `registry-pruner ${args.join(' ')} did not end within ${timeoutMs} ms:\n${stdout}\n${stderr}`,
        ),
      );
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}
