// The collections the plan job asks for while a snapshot is read: one per 10k objects, counted across the
// lists read at the same time, each list reporting its own running count; and the memory-reducing one that
// gives a dropped plan's pages back to the system.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { collectGarbage, collectWhileReading, releaseMemory } from '../src/memory.js';

const execFileAsync = promisify(execFile);
// Node 24 runs the TypeScript source itself (its types stripped).
const MEMORY_MODULE = fileURLToPath(new URL('../src/memory.ts', import.meta.url));

const host = globalThis as { gc?: () => void };
const original = host.gc;
afterEach(() => {
  if (original === undefined) delete host.gc;
  else host.gc = original;
});

function counting(): () => number {
  let calls = 0;
  host.gc = () => void calls++;
  return () => calls;
}

describe('garbage collection while a snapshot is read', () => {
  it('collects once per 10k objects, adding up lists read side by side by their own counts', () => {
    const calls = counting();
    const progress = collectWhileReading();
    // Two lists in pages of 500, interleaved: 2 × 9,500 objects = 19,000 → one collection.
    for (let items = 500; items <= 9_500; items += 500) {
      progress({ source: 'pods', items, done: false });
      progress({ source: 'deployments.apps', items, done: false });
    }
    expect(calls()).toBe(1);
    // A list's final report repeats its total: nothing new is counted.
    progress({ source: 'pods', items: 9_500, done: true });
    progress({ source: 'deployments.apps', items: 9_500, done: true });
    expect(calls()).toBe(1);
    // A new list of the same source counts from zero again: 1,000 more reach the second 10k.
    progress({ source: 'pods', items: 1_000, done: false });
    expect(calls()).toBe(2);
  });

  it('runs the collection it is given at the interval it is given (the live view: a release per 25k)', () => {
    const calls = counting();
    let released = 0;
    const progress = collectWhileReading({ collect: () => void released++, every: 25_000 });
    for (let items = 500; items <= 60_000; items += 500) progress({ source: 'images', items, done: false });
    expect(released).toBe(2);
    // The ordinary collection is not asked for as well.
    expect(calls()).toBe(0);
  });

  it('does nothing where the process does not expose the collector', () => {
    delete host.gc;
    const progress = collectWhileReading();
    expect(() => progress({ source: 'images', items: 50_000, done: false })).not.toThrow();
    expect(() => collectGarbage()).not.toThrow();
  });
});

describe('giving memory back', () => {
  it('asks V8 for its memory-reducing collection', () => {
    const seen: unknown[] = [];
    host.gc = (options?: unknown) => void seen.push(options);
    releaseMemory();
    expect(seen).toEqual([{ type: 'major', execution: 'sync', flavor: 'last-resort' }]);
  });

  it('returns the pages an ordinary collection keeps to the system (a real process)', async () => {
    // A worker's plan at 100k Images: a few hundred MiB of small objects, then dropped.
    const script = `
      import { collectGarbage, releaseMemory } from ${JSON.stringify(MEMORY_MODULE)};
      let kept = [];
      for (let i = 0; i < 2_000_000; i++) kept.push({ name: 'image-' + i, layers: [i, i + 1] });
      kept = undefined;
      collectGarbage();
      const afterCollect = process.memoryUsage().rss;
      releaseMemory();
      const afterRelease = process.memoryUsage().rss;
      console.log(JSON.stringify({ afterCollect, afterRelease }));
    `;
    const { stdout } = await execFileAsync(process.execPath, [
      '--expose-gc',
      '--input-type=module',
      '-e',
      script,
    ]);
    const { afterCollect, afterRelease } = JSON.parse(stdout) as {
      afterCollect: number;
      afterRelease: number;
    };
    const MiB = 1024 * 1024;
    // Measured: about 300 MiB kept after the ordinary collection, about 60 after the release.
    expect(afterCollect - afterRelease).toBeGreaterThan(100 * MiB);
  });
});
