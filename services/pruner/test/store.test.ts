// The pruner's Redis state on a real redis-server: the run lock and the history limits.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RunningRedis } from '@registry-push/testkit';
import { connectRedis, type RedisConnection } from '../src/redis.js';
import { RunStore, type RunRecord } from '../src/store.js';

let redis: RunningRedis;
let connection: RedisConnection;

const store = (): RunStore => new RunStore(connection, '{test}', `q-${randomUUID().slice(0, 8)}`);

describe('run store', () => {
  beforeAll(async () => {
    redis = await startRedis();
    connection = connectRedis({ url: redis.url }, 'client');
  });

  afterAll(async () => {
    await connection?.quit();
    await redis?.stop();
  });

  it('lets one run hold the lock, renews it for that run, and releases it only for that run', async () => {
    const runs = store();
    expect(await runs.acquireLock('a', 60_000)).toBe('a');
    expect(await runs.acquireLock('a', 60_000)).toBe('a');
    expect(await runs.acquireLock('b', 60_000)).toBe('a');
    expect(await runs.renewLock('a', 60_000)).toBe(true);
    expect(await runs.renewLock('b', 60_000)).toBe(false);
    expect(await runs.releaseLock('b')).toBe(false);
    expect(await runs.lockHolder()).toBe('a');
    expect(await runs.releaseLock('a')).toBe(true);
    // Renewing never takes a free lock.
    expect(await runs.renewLock('a', 60_000)).toBe(false);
    expect(await runs.lockHolder()).toBeUndefined();
    expect(await runs.acquireLock('b', 200)).toBe('b');
    await new Promise((resolve) => setTimeout(resolve, 300));
    // An expired lock (a run that stopped making progress) lets the next run in.
    expect(await runs.acquireLock('c', 60_000)).toBe('c');
  });

  it('keeps the newest runs within the history limits, and every run in progress', async () => {
    const runs = store();
    const statuses: RunRecord['status'][] = [
      'succeeded',
      'failed',
      'succeeded',
      'rejected',
      'running',
      'succeeded',
      'failed',
    ];
    for (const [index, status] of statuses.entries()) {
      await runs.putRun({
        runId: `r${index}`,
        trigger: 'manual',
        status,
        dryRun: true,
        createdAt: new Date(Date.UTC(2026, 0, 1, index)).toISOString(),
      });
      await runs.putPlan(`r${index}`, { id: `p${index}` } as never);
    }
    expect(await runs.trimHistory({ successful: 2, failed: 1 })).toBe(3);
    expect((await runs.listRuns()).map((r) => r.runId)).toEqual(['r6', 'r5', 'r4', 'r2']);
    expect(await runs.getPlan('r0')).toBeUndefined();
    expect(await runs.getPlan('r2')).toBeDefined();
  });
});
