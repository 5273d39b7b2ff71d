import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TestkitError } from './errors.js';

/** How to start one long-running service process and tell when it is ready. */
export interface ServiceProcessOptions {
  /** Shown in messages, e.g. `redis-server`. */
  name: string;
  /** Absolute path of the program. */
  command: string;
  args: readonly string[];
  /** Directory that receives `<name>.log` (stdout and stderr of the child). */
  workDir: string;
  /** Environment of the child; defaults to the current one. */
  env?: NodeJS.ProcessEnv;
  /** Resolves true once the service answers real requests. Called repeatedly until then. */
  ready: () => Promise<boolean>;
  /** How long to wait for `ready` before giving up. Default 30 s. */
  startTimeoutMs?: number;
}

/** A started service process, owned by the caller until `stop()`. */
export interface ServiceProcess {
  readonly pid: number;
  readonly logFile: string;
  /** The last lines the process wrote (for failure messages). */
  logTail(lines?: number): string;
  /** Whether the process has exited. */
  readonly exited: boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

// Every PID this module started and has not yet seen exit. If the test process exits without teardown
// (a crash, process.exit), the exit hook still kills them so no service outlives its tests.
const livePids = new Set<number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const pid of livePids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** PIDs started by this process that are still running; tests use it to prove teardown is complete. */
export function runningServicePids(): number[] {
  return [...livePids];
}

function readTail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Spawns a service with its output in a log file, waits until `ready()` says it serves requests, and
 * returns a handle that stops it by PID. Fails with the log tail if the process exits or never gets ready.
 */
export async function startServiceProcess(options: ServiceProcessOptions): Promise<ServiceProcess> {
  installExitHook();
  const logFile = join(options.workDir, `${options.name}.log`);
  const logFd = openSync(logFile, 'a', 0o600);
  let exited = false;
  let exitDescription = '';
  let onExit: () => void = () => undefined;
  const exitPromise = new Promise<void>((resolve) => {
    onExit = resolve;
  });
  const child = spawn(options.command, options.args, {
    cwd: options.workDir,
    env: options.env ?? process.env,
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  child.on('error', (err) => {
    exitDescription = err.message;
    exited = true;
    onExit();
  });
  child.on('exit', (code, signal) => {
    exitDescription = signal !== null ? `killed by ${signal}` : `exited with code ${String(code)}`;
    exited = true;
    if (child.pid !== undefined) livePids.delete(child.pid);
    onExit();
  });
  const pid = child.pid;
  if (pid === undefined) {
    await exitPromise;
    throw new TestkitError(
      'service-start-failed',
      `${options.name} could not be started: ${exitDescription}`,
    );
  }
  livePids.add(pid);

  const handle: ServiceProcess = {
    pid,
    logFile,
    logTail: (lines = 20) => readTail(logFile, lines),
    get exited() {
      return exited;
    },
    async stop(graceMs = 5_000): Promise<void> {
      if (exited) return;
      child.kill('SIGTERM');
      const gone = await Promise.race([exitPromise.then(() => true), sleep(graceMs).then(() => false)]);
      if (!gone) {
        child.kill('SIGKILL');
        await exitPromise;
      }
    },
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  for (;;) {
    if (exited) {
      throw new TestkitError(
        'service-start-failed',
        `${options.name} ${exitDescription} before it was ready. Its log (${logFile}) ends with:\n${handle.logTail()}`,
      );
    }
    if (await options.ready().catch(() => false)) return handle;
    if (Date.now() > deadline) {
      await handle.stop(1_000);
      throw new TestkitError(
        'service-timeout',
        `${options.name} did not become ready within ${options.startTimeoutMs ?? 30_000} ms. ` +
          `Its log (${logFile}) ends with:\n${handle.logTail()}`,
      );
    }
    await sleep(50);
  }
}

/**
 * Starts a service on a free loopback port, retrying with another port when the one picked was taken
 * between choosing and binding (the only race `freePort` leaves open).
 */
export async function startOnFreePort<T>(
  start: (port: number) => Promise<T>,
  pickPort: () => Promise<number>,
  attempts = 3,
): Promise<T> {
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await start(await pickPort());
    } catch (err) {
      lastError = err;
      const text = err instanceof Error ? err.message : String(err);
      if (!/address already in use/i.test(text)) throw err;
    }
  }
  throw lastError;
}
