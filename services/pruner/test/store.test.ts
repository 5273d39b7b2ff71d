// What only the Redis stores promise, on a real redis-server: the key layout deployed pruners read and write
// (names, types, encodings, expiry), and the older formats earlier versions wrote, which are still read.
// The behaviour every implementation shares is in the contract suite (store-contract.ts).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RunningRedis } from '@registry-push/testkit';
import type { UnitResult } from '@registry-push/core';
import { connectRedis, type RedisConnection } from '../src/redis.js';
import { wholePlan } from '../src/store/plan-reading.js';
import { RedisRunStore } from '../src/store/redis-run-store.js';
import { RedisUndoStore } from '../src/store/redis-undo-store.js';
import type { StoredPlan } from '../src/store/run-store.js';
import { RESULT_HEAD as resultHead, doneUnit as done } from './support/result-fixtures.js';

let redis: RunningRedis;
let connection: RedisConnection;

const newQueue = (): string => `q-${randomUUID().slice(0, 8)}`;

/** Every key under `base`, with its type and whether it expires. */
async function layout(base: string): Promise<string[]> {
  const keys = await connection.keys(`${base}*`);
  const described = await Promise.all(
    keys.map(async (key) => {
      const expires = (await connection.pttl(key)) > 0 ? ' expires' : '';
      return `${key.slice(base.length)} ${await connection.type(key)}${expires}`;
    }),
  );
  return described.sort();
}

describe('run store in redis', () => {
  beforeAll(async () => {
    redis = await startRedis();
    connection = connectRedis({ url: redis.url }, 'client');
  });

  afterAll(async () => {
    await connection?.quit();
    await redis?.stop();
  });

  it('keeps the key layout deployed pruners read and write', async () => {
    const queue = newQueue();
    const base = `{test}:${queue}:pruner:`;
    const runs = new RedisRunStore(connection, '{test}', queue);
    const undo = new RedisUndoStore(connection, '{test}', queue);
    const createdAt = new Date(1000).toISOString();
    await runs.acquireLock('r', 60_000);
    await runs.putRun({ runId: 'r', trigger: 'manual', status: 'running', dryRun: false, createdAt });
    const units = [
      { id: 'image/1', type: 'image' },
      { id: 'stream/ns/s', type: 'stream' },
    ];
    await runs.putPlan('r', { id: 'p', units } as unknown as StoredPlan);
    await runs.putBatches('r', [['image/1']]);
    const blob = { kind: 'blob', target: 'b', outcome: 'deleted', attempts: 1, bytes: 5, at: 'w' } as const;
    const result: UnitResult = { unit: 'image/1', status: 'done', items: [{ ...blob, unit: 'image/1' }] };
    await runs.putUnitResult('r', { result, worker: 'w', at: 'now' });
    await runs.putUnsettled('r', ['stream/ns/s']);
    await runs.startResult('r');
    await runs.appendResult('r', [done(1)]);
    await runs.putResultHead('r', resultHead);
    await runs.setLastSuccess(new Date(1234));
    await runs.putAppliedConfig({
      generation: 1,
      resourceVersion: '1',
      schedule: 's',
      suspend: false,
      historyLimits: { successful: 1, failed: 1 },
      appliedAt: 'a',
      appliedBy: 'b',
    });
    await runs.expireWorkingData('r');
    await undo.begin({ runId: 'r', mode: 'full', windowMs: 5, protectAnnotation: 'a/b', createdAt }, 60_000);
    await undo.append('r', { type: 'image', unit: { ...units[0], blobs: [{ size: 3 }] } } as never);
    await undo.countRestores({ restored: 1 });
    expect(await layout(base)).toEqual([
      'config string',
      'last-success string',
      'lock string expires',
      'progress-run string',
      'run:r string',
      'run:r:plan string expires',
      'run:r:plan-batches list expires',
      'run:r:plan-ids list expires',
      'run:r:plan-units hash expires',
      'run:r:progress hash expires',
      'run:r:result string',
      'run:r:result-units list',
      'run:r:results hash expires',
      'run:r:unsettled string expires',
      'runs zset',
      'undo:r:head hash expires',
      'undo:r:records list expires',
      'undo:restores hash',
      'undo:runs zset',
    ]);
    // Encodings: plain text and JSON, counters as decimal hash fields (only those counted), TTLs in Redis.
    expect(await connection.get(`${base}lock`)).toBe('r');
    expect(await connection.get(`${base}last-success`)).toBe('1234');
    expect(await connection.get(`${base}progress-run`)).toBe('r');
    expect(await connection.zrange(`${base}runs`, '0', '-1', 'WITHSCORES')).toEqual(['r', '1000']);
    expect(await connection.lrange(`${base}run:r:plan-ids`, 0, -1)).toEqual(['image/1', 'stream/ns/s']);
    expect(await connection.hget(`${base}run:r:plan-units`, 'image/1')).toBe(JSON.stringify(units[0]));
    expect(await connection.get(`${base}run:r:plan`)).toBe(JSON.stringify({ id: 'p', unitCount: 2 }));
    expect(await connection.lrange(`${base}run:r:plan-batches`, 0, -1)).toEqual(['["image/1"]']);
    expect(await connection.hgetall(`${base}run:r:progress`)).toEqual({
      unitsTotal: '2',
      unitsDone: '1',
      itemsDeleted: '1',
      bytesFreed: '5',
    });
    expect(await connection.hget(`${base}run:r:results`, 'image/1')).toBe(
      JSON.stringify({ result, worker: 'w', at: 'now' }),
    );
    expect(await connection.get(`${base}run:r:unsettled`)).toBe('["stream/ns/s"]');
    expect(await connection.lrange(`${base}run:r:result-units`, 0, -1)).toEqual([JSON.stringify(done(1))]);
    expect(await connection.ttl(`${base}run:r:plan`)).toBeGreaterThan(24 * 3600 - 60);
    expect(await connection.hgetall(`${base}undo:r:head`)).toMatchObject({
      runId: 'r',
      state: 'recording',
      windowMs: '5',
      recorded: '1',
      bytesPending: '3',
    });
    expect(await connection.hgetall(`${base}undo:restores`)).toEqual({ restored: '1' });
  });

  it('reads a result log an earlier version wrote whole', async () => {
    const queue = newQueue();
    const runs = new RedisRunStore(connection, '{test}', queue);
    await connection.set(
      `{test}:${queue}:pruner:run:old:result`,
      JSON.stringify({ ...resultHead, units: [done(1), done(2)] }),
    );
    expect((await runs.getResult('old'))?.units).toEqual([done(1), done(2)]);
    // The run page reads it too.
    expect(await runs.unitResultPage('old', 1, 5)).toEqual({ total: 2, units: [done(2)] });
  });

  it('keeps no single value holding the whole plan; a plan missing units under its head cannot be read', async () => {
    const queue = newQueue();
    const runs = new RedisRunStore(connection, '{test}', queue);
    const units = Array.from({ length: 2500 }, (_, i) => ({ id: `image/${i}`, type: 'image' }));
    await runs.putPlan('r', { id: 'p', mode: 'full', units } as unknown as StoredPlan);
    const stored = await connection.get(`{test}:${queue}:pruner:run:r:plan`);
    expect(stored?.length).toBeLessThan(200);
    // Units lost under the head (expired, trimmed): the run cannot be carried on or finished on part of it.
    await connection.hdel(`{test}:${queue}:pruner:run:r:plan-units`, 'image/1');
    await expect(wholePlan(runs, 'r')).rejects.toMatchObject({ code: 'PRUNER_RUN_NOT_FOUND' });
  });

  it('reads a plan an earlier version wrote whole, by id and page by page', async () => {
    const queue = newQueue();
    const runs = new RedisRunStore(connection, '{test}', queue);
    const units = Array.from({ length: 2500 }, (_, i) => ({ id: `image/${i}`, type: 'image' }));
    const plan = { id: 'p', mode: 'full', units } as unknown as StoredPlan;
    await connection.set(`{test}:${queue}:pruner:run:old:plan`, JSON.stringify(plan));
    expect(await runs.getPlanHead('old')).toEqual({ id: 'p', mode: 'full', unitCount: 2500 });
    expect([...(await runs.getUnits('old', ['image/7'])).values()]).toEqual([units[7]]);
    const pages: number[] = [];
    for await (const page of runs.unitPages('old', 1000)) pages.push(page.length);
    expect(pages).toEqual([1000, 1000, 500]);
    expect(await wholePlan(runs, 'old')).toEqual(plan);
  });
});
