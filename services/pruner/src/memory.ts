/**
 * A full garbage collection, where the process allows it (`--expose-gc`, as the deploy manifests run the
 * worker). After a plan is stored, the snapshot and the plan it was made from (hundreds of MiB at 100k
 * Images) are garbage that V8 keeps until the heap grows further, and the live view is built next: without
 * a collection in between, the two add up to the worker's peak. One collection per run costs well under
 * a second; without `--expose-gc` this does nothing.
 */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** The collector `--expose-gc` installs, with the options V8 takes. */
type ExposedCollector = (options?: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/**
 * A collection that also gives freed memory back to the system, where the process allows it
 * (`--expose-gc`). An ordinary collection leaves the pages it emptied in V8's pool for reuse; the
 * memory-reducing flavour (V8's "last resort", as under memory pressure) releases them: in isolation a
 * process that dropped 350 MiB of objects goes from 372 to 59 MiB RSS. In a 100k-image worker it takes 410 to
 * 159 MiB after the plan is stored and 476 to 294 MiB after the live view's first lists (whose pages had
 * filled the pool again). It runs the collector a few times, about 0.2 s at these sizes, so it is kept for
 * the moments after a large structure was dropped: a plan stored, a live view built, a run finished, a live
 * view stopped.
 */
export function releaseMemory(): void {
  (globalThis as { gc?: ExposedCollector }).gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}

/** Objects read between two collections while a snapshot is taken. */
const SNAPSHOT_COLLECT_EVERY = 10_000;

/** How {@link collectWhileReading} collects: which collection, and after how many objects read. */
export interface ReadingCollection {
  collect?: () => void;
  every?: number;
}

/**
 * A snapshot progress listener that collects garbage every {@link SNAPSHOT_COLLECT_EVERY} objects read.
 * While a snapshot is read, V8 lets the pages already converted pile up as garbage until the heap has grown
 * well past what the snapshot holds (at 100k Images about 300 MiB of heap for 160 MiB of snapshot and
 * plan): the worker's peak. A collection every 10k objects keeps that garbage to a few pages, for about
 * 1.5 s per 100k Images. Without `--expose-gc` it does nothing. `options` picks another collection (the
 * live view's first lists use {@link releaseMemory}) or another interval.
 */
export function collectWhileReading(
  options: ReadingCollection = {},
): (progress: { source: string; items: number; done: boolean }) => void {
  const collect = options.collect ?? collectGarbage;
  const every = options.every ?? SNAPSHOT_COLLECT_EVERY;
  let since = 0;
  // Several lists are read at once; each reports the count of its own objects so far.
  const counted = new Map<string, number>();
  return ({ source, items, done }) => {
    since += Math.max(0, items - (counted.get(source) ?? 0));
    if (done) counted.delete(source);
    else counted.set(source, items);
    if (since < every) return;
    since = 0;
    collect();
  };
}
