// The waits of the live view's decisions on a watch: woken by the version they wait for or a later one,
// never by an earlier one; by a wake-all; or by their time.
import { describe, expect, it } from 'vitest';
import { VersionWaits } from '../../src/prune/version-waits.js';

/** Resolves to what settled first: the wait, or `ms` of patience. */
async function settledWithin(wait: Promise<void>, ms: number): Promise<'woken' | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<'pending'>((resolve) => (timer = setTimeout(() => resolve('pending'), ms)));
  const result = await Promise.race([wait.then(() => 'woken' as const), pending]);
  clearTimeout(timer);
  return result;
}

describe('version waits', () => {
  it('wake the waits for the version reached and earlier ones only', async () => {
    const waits = new VersionWaits();
    const early = waits.wait('100', 60_000);
    const exact = waits.wait('120', 60_000);
    const late = waits.wait('1000000000000000000001', 60_000);
    expect(waits.size).toBe(3);
    waits.reached('99');
    expect(await settledWithin(early, 20)).toBe('pending');
    waits.reached('120');
    expect(await settledWithin(early, 20)).toBe('woken');
    expect(await settledWithin(exact, 20)).toBe('woken');
    // Beyond 2^53: compared exactly.
    waits.reached('1000000000000000000000');
    expect(await settledWithin(late, 20)).toBe('pending');
    expect(waits.size).toBe(1);
    waits.wakeAll();
    expect(await settledWithin(late, 20)).toBe('woken');
    expect(waits.size).toBe(0);
  });

  it('end by their time, and only time a version that is not a number', async () => {
    const waits = new VersionWaits();
    const started = Date.now();
    await waits.wait('5', 30);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    expect(waits.size).toBe(0);
    const opaque = waits.wait('abc', 30);
    expect(waits.size).toBe(0);
    waits.reached('999');
    waits.wakeAll();
    expect(await settledWithin(opaque, 5)).toBe('pending');
    await opaque;
  });
});
