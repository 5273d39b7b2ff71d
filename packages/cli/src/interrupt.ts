// The light entry: a pull or copy with a token must not load the Kubernetes client just to handle signals.
import {
  RegistryPushError,
  formatError,
  removeHeldTemporaries,
  stopRunningTools,
} from '@registry-push/core/push';
import type { Io } from './context.js';

/** The signals a cancelled CI job or Ctrl-C sends, with their numbers for the 128+n exit code. */
const SIGNALS = { SIGINT: 2, SIGTERM: 15 } as const;
type HandledSignal = keyof typeof SIGNALS;

/** What an interrupted command removes: its own files (synchronously), named for the report. */
export interface InterruptCleanup {
  /** Remove the private temporary auth and cert directories still held (default true). */
  removeTemporaries?: boolean;
  /** More to remove (entries of user-given files); synchronous, never throws; returns what it removed. */
  more?: () => string[];
}

/**
 * Run `run` so that SIGINT/SIGTERM end it cleanly: running tools are stopped, what it wrote is removed
 * (the auth directory holds base64 `user:token`), one line says so, and the process exits with 128+signal
 * (130, 143) as a shell would report. Everything in the handler is synchronous: after it, the process
 * exits without letting the interrupted work go on to print errors about the files that vanished.
 */
export async function interruptible<T>(
  io: Io,
  command: string,
  run: () => Promise<T>,
  cleanup: () => InterruptCleanup = () => ({}),
): Promise<T> {
  const handler = (signal: HandledSignal): void => {
    stopRunningTools('SIGTERM');
    const what = cleanup();
    const removed = [
      ...(what.more?.() ?? []),
      ...(what.removeTemporaries === false ? [] : removeHeldTemporaries()),
    ];
    const done =
      removed.length === 0 ? 'nothing it wrote was left to remove' : `removed ${removed.join(', ')}`;
    const error = new RegistryPushError('INTERRUPTED', `Interrupted by ${signal}; ${done}.`, {
      hint:
        what.removeTemporaries === false
          ? 'Files kept on purpose (--logout false) are still there; run the command again.'
          : 'Run the command again.',
    });
    io.stderr(`registry-push ${command}: ${formatError(error)}`);
    process.exit(128 + SIGNALS[signal]);
  };
  for (const signal of Object.keys(SIGNALS) as HandledSignal[]) process.once(signal, handler);
  try {
    return await run();
  } finally {
    for (const signal of Object.keys(SIGNALS) as HandledSignal[]) process.off(signal, handler);
  }
}
