/**
 * The reading half of a live view's short watch: which changes the server holds after a point, found by
 * reading a watch opened there until a bookmark at or past the target or a moment of silence. The server
 * writes those changes at once as the watch opens, so silence means there are no more — provided the
 * silence is real: on a busy worker a timer can fire before the event loop has read what the socket already
 * holds, so a silence is believed only after the reads have had one more turn.
 */
import type { KubeObject } from '../cluster/client.js';
import type { WatchEvent } from '../cluster/watch.js';

/** What the short watch is read through: the next event, or undefined at its end. */
export interface EventSource {
  next(): Promise<WatchEvent<KubeObject> | undefined>;
}

/**
 * Whether a resourceVersion can be compared: Kubernetes resourceVersions are etcd revisions, decimal
 * integers that only grow (another port's may be opaque).
 */
export function isRevision(version: string): boolean {
  return /^\d+$/.test(version);
}

/** Whether `version` is at or past `target` (false when either cannot be compared). */
export function atLeast(version: string, target: string): boolean {
  if (!isRevision(version) || !isRevision(target)) return false;
  return BigInt(version) >= BigInt(target);
}

/** A promise, and whether it has settled yet. */
function settling<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let settled = false;
  const mark = (): void => {
    settled = true;
  };
  promise.then(mark, mark);
  return { promise, settled: () => settled };
}

/**
 * Reads `events` until a bookmark at or past `target`, its end, or `quietMs` without an event.
 *
 * @returns The newest resourceVersion of a change read (`from` when there was none).
 * @throws What the source throws (a GONE error when the server's history no longer reaches `from`).
 */
export async function newestChange(
  events: EventSource,
  from: string,
  target: string,
  quietMs: number,
): Promise<string> {
  let newest = from;
  for (;;) {
    const pending = settling(events.next());
    let timer: NodeJS.Timeout | undefined;
    const quiet = new Promise<'quiet'>((resolve) => (timer = setTimeout(() => resolve('quiet'), quietMs)));
    let event = await Promise.race([pending.promise, quiet]).finally(() => clearTimeout(timer));
    if (event === 'quiet') {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (!pending.settled()) return newest;
      event = await pending.promise;
    }
    if (event === undefined) return newest;
    const version = event.object.metadata.resourceVersion ?? '';
    if (event.type === 'BOOKMARK') {
      if (atLeast(version, target)) return newest;
      continue;
    }
    if (atLeast(version, newest)) newest = version;
  }
}
