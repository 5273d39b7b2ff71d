/**
 * Decisions waiting for a watch to reach a resourceVersion. Each is woken when the watch reports that
 * version or a later one, when it is woken with all the others (the watch failed, the view stopped), or
 * when its time is up — instead of every waiting decision polling the watch every few milliseconds, which
 * with hundreds of deletes in flight was tens of thousands of timer wake-ups a second.
 */
import { isRevision } from './changes-since.js';

interface Waiting {
  target: bigint;
  wake: () => void;
}

/** The waits on one watch. */
export class VersionWaits {
  readonly #waiting = new Set<Waiting>();

  /** Decisions waiting now. */
  get size(): number {
    return this.#waiting.size;
  }

  /**
   * Resolves once {@link reached} reports `target` or later, {@link wakeAll} is called, or `ms` have passed,
   * whichever comes first; the caller checks which. A version that is not a number is only timed.
   */
  wait(target: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry: Waiting = {
        target: isRevision(target) ? BigInt(target) : -1n,
        wake: () => {
          clearTimeout(timer);
          this.#waiting.delete(entry);
          resolve();
        },
      };
      const timer = setTimeout(entry.wake, ms);
      if (entry.target >= 0n) this.#waiting.add(entry);
    });
  }

  /** The watch is at `version` now: wakes every wait for it or an earlier one. */
  reached(version: string): void {
    if (this.#waiting.size === 0 || !isRevision(version)) return;
    const at = BigInt(version);
    for (const entry of this.#waiting) if (entry.target <= at) entry.wake();
  }

  /** Wakes every wait (the watch failed or the view stopped: each waiter looks for itself). */
  wakeAll(): void {
    for (const entry of this.#waiting) entry.wake();
  }
}
