// The collections the plan job asks for while a snapshot is read: one per 10k objects, counted across the
// lists read at the same time, each list reporting its own running count.
import { afterEach, describe, expect, it } from 'vitest';
import { collectGarbage, collectWhileReading } from '../src/memory.js';

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

  it('does nothing where the process does not expose the collector', () => {
    delete host.gc;
    const progress = collectWhileReading();
    expect(() => progress({ source: 'images', items: 50_000, done: false })).not.toThrow();
    expect(() => collectGarbage()).not.toThrow();
  });
});
