// The pruner's Redis state on a real redis-server: the run lock, the history limits, and a run's progress
// counted by several workers at once.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RunningRedis } from '@registry-push/testkit';
import type { UnitResult } from '@registry-push/core';
import { connectRedis, type RedisConnection } from '../src/redis.js';
import { RunStore, type RunRecord, type StoredPlan } from '../src/store.js';

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

  it('keeps a result log in pages, in order, replaced when written again, and reads one written whole', async () => {
    const runs = store();
    const head = {
      schema: 'registry-push.prune-result/v1',
      planId: 'p',
      mode: 'full',
      dryRun: false,
      startedAt: 's',
      finishedAt: 'f',
      summary: { counts: {}, bytesFreed: 0, errors: {} },
    } as const;
    const unit = (i: number): UnitResult => ({ unit: `image/${i}`, status: 'done', items: [] });
    await runs.startResult('r');
    for (let start = 0; start < 2500; start += 500) {
      await runs.appendResult(
        'r',
        Array.from({ length: 500 }, (_, i) => unit(start + i)),
      );
    }
    await runs.putResultHead('r', head);
    const read = await runs.getResult('r');
    expect(read?.units.map((u) => u.unit)).toEqual(Array.from({ length: 2500 }, (_, i) => `image/${i}`));
    expect(read).toMatchObject(head);
    // Written again (a repeated finalize), the log is the new one.
    await runs.startResult('r');
    await runs.appendResult('r', [unit(7)]);
    await runs.putResultHead('r', head);
    expect((await runs.getResult('r'))?.units).toEqual([unit(7)]);
    // A log an earlier version wrote whole is read as it is.
    const queue = `q-${randomUUID().slice(0, 8)}`;
    const older = new RunStore(connection, '{test}', queue);
    await connection.set(
      `{test}:${queue}:pruner:run:old:result`,
      JSON.stringify({ ...head, units: [unit(1)] }),
    );
    expect((await older.getResult('old'))?.units).toEqual([unit(1)]);
    expect(await older.getResult('missing')).toBeUndefined();
  });

  it('pages unit results for the run page: recorded so far in plan order, then the result log', async () => {
    const runs = store();
    const units = Array.from({ length: 5 }, (_, i) => ({
      type: 'image' as const,
      id: `image/${i}`,
      digest: `sha256:${i}`,
      dependsOn: [],
      parents: [],
      blobs: [],
    }));
    await runs.putPlan('r', { units } as unknown as StoredPlan);
    const done = (i: number): UnitResult => ({ unit: `image/${i}`, status: 'done', items: [] });
    await runs.putUnitResult('r', { result: done(3), worker: 'w', at: 'now' });
    expect(await runs.unitResultPage('r', 2, 2)).toEqual({
      total: 5,
      units: [{ unit: 'image/2', status: 'pending', items: [] }, done(3)],
    });
    await runs.startResult('r');
    await runs.appendResult('r', [0, 1, 2, 3, 4].map(done));
    expect(await runs.unitResultPage('r', 4, 2)).toEqual({ total: 5, units: [done(4)] });
    expect(await runs.unitResultPage('nothing', 0, 2)).toEqual({ total: 0, units: [] });
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

  it('keeps a plan as a head and its units, read by id and page by page; reads one written whole', async () => {
    const queue = `q-${randomUUID().slice(0, 8)}`;
    const runs = new RunStore(connection, '{test}', queue);
    const units = Array.from({ length: 2500 }, (_, i) =>
      i % 5 === 0 ? { id: `stream/ns/s${i}`, type: 'stream' } : { id: `image/${i}`, type: 'image' },
    );
    const plan = { id: 'p', mode: 'full', units } as unknown as StoredPlan;
    await runs.putPlan('r', plan);
    // No single value holds the whole plan.
    const stored = await connection.get(`{test}:${queue}:pruner:run:r:plan`);
    expect(stored?.length).toBeLessThan(200);
    expect(await runs.getPlanHead('r')).toEqual({ id: 'p', mode: 'full', unitCount: 2500 });
    expect(await runs.getProgress('r')).toMatchObject({ unitsTotal: 2500 });
    // A job reads its own units.
    const some = await runs.getUnits('r', ['image/7', 'stream/ns/s10', 'image/none']);
    expect([...some.values()]).toEqual([units[7], units[10]]);
    // Finalize reads them all, in plan order, a page at a time.
    const pages: number[] = [];
    const read: unknown[] = [];
    for await (const page of runs.unitPages('r', 1000)) {
      pages.push(page.length);
      read.push(...page);
    }
    expect(pages).toEqual([1000, 1000, 500]);
    expect(read).toEqual(units);
    expect(await runs.getPlan('r')).toEqual(plan);
    // Planned again (a plan step that was retried): the new units replace the old ones.
    await runs.putPlan('r', { ...plan, units: units.slice(0, 3) } as unknown as StoredPlan);
    expect((await runs.getPlan('r'))?.units).toEqual(units.slice(0, 3));
    expect((await runs.getUnits('r', ['image/7'])).size).toBe(0);
    // Units lost under the head (expired, trimmed): the run cannot be carried on or finished on part of it.
    await connection.hdel(`{test}:${queue}:pruner:run:r:plan-units`, 'image/1');
    await expect(runs.getPlan('r')).rejects.toMatchObject({ code: 'PRUNER_RUN_NOT_FOUND' });
    // Phase 2's batches, stored with the plan; a plan stored without them has none.
    expect(await runs.getBatches('r')).toBeUndefined();
    const batches = Array.from({ length: 1500 }, (_, i) => [`image/${2 * i}`, `image/${2 * i + 1}`]);
    await runs.putBatches('r', batches);
    expect(await runs.getBatches('r')).toEqual(batches);
    // A plan an earlier version wrote whole is read as it is, by id and by page too.
    await connection.set(`{test}:${queue}:pruner:run:old:plan`, JSON.stringify(plan));
    expect(await runs.getPlanHead('old')).toEqual({ id: 'p', mode: 'full', unitCount: 2500 });
    expect([...(await runs.getUnits('old', ['image/7'])).values()]).toEqual([units[7]]);
    expect(await runs.getPlan('old')).toEqual(plan);
  });

  it("counts a run's progress once per unit, however many workers record it at once", async () => {
    const queue = `q-${randomUUID().slice(0, 8)}`;
    // Two workers: two connections, two stores on the same keys.
    const other = connectRedis({ url: redis.url }, 'client');
    try {
      const [a, b] = [new RunStore(connection, '{test}', queue), new RunStore(other, '{test}', queue)];
      const ids = Array.from({ length: 40 }, (_, i) => `image/u${i}`);
      await a.putRun({
        runId: 'r',
        trigger: 'manual',
        status: 'running',
        dryRun: false,
        createdAt: new Date().toISOString(),
      });
      await a.putPlan('r', { id: 'p', units: ids.map((id) => ({ id })) } as unknown as StoredPlan);
      expect(await b.getProgress('r')).toEqual({
        unitsTotal: 40,
        unitsDone: 0,
        unitsFailed: 0,
        itemsDeleted: 0,
        itemsFailed: 0,
        bytesFreed: 0,
        linksRestored: 0,
        linksNotRestored: 0,
      });
      // Unit i deletes a blob of i+1 bytes and its Image; every fifth unit fails its Image instead.
      const result = (id: string, i: number, worker: string): UnitResult => ({
        unit: id,
        status: i % 5 === 0 ? 'failed' : 'done',
        items: [
          {
            unit: id,
            kind: 'blob',
            target: `b${i}`,
            outcome: 'deleted',
            attempts: 1,
            bytes: i + 1,
            at: worker,
          },
          {
            unit: id,
            kind: 'image',
            target: `i${i}`,
            outcome: i % 5 === 0 ? 'failed' : 'deleted',
            attempts: 1,
            bytes: 0,
            at: worker,
            ...(i % 5 === 0 ? { error: { code: 'FORBIDDEN', message: 'no' } } : {}),
          },
        ],
      });
      // Both workers record units 0-29 at the same time (a job both believed theirs); A alone 30-34, B alone
      // 35-39.
      const put = (store: RunStore, worker: string, from: number, to: number): Promise<boolean>[] =>
        ids
          .slice(from, to)
          .map((id, i) => store.putUnitResult('r', { result: result(id, from + i, worker), worker, at: '' }));
      const [byA, byB] = await Promise.all([
        Promise.all([...put(a, 'A', 0, 30), ...put(a, 'A', 30, 35)]),
        Promise.all([...put(b, 'B', 0, 30), ...put(b, 'B', 35, 40)]),
      ]);
      // Each shared unit was recorded by exactly one of them; the first result stays.
      for (let i = 0; i < 30; i++) expect([byA[i], byB[i]].filter(Boolean)).toHaveLength(1);
      expect(byA.slice(30)).toEqual([true, true, true, true, true]);
      expect(byB.slice(30)).toEqual([true, true, true, true, true]);
      const stored = await a.getUnitResults('r');
      expect(stored.size).toBe(40);
      for (let i = 0; i < 30; i++) expect(stored.get(ids[i]!)?.worker).toBe(byA[i] === true ? 'A' : 'B');
      // A retried job records a unit again: nothing changes.
      expect(await a.putUnitResult('r', { result: result(ids[3]!, 3, 'A'), worker: 'A', at: '' })).toBe(
        false,
      );
      const expected = {
        unitsTotal: 40,
        unitsDone: 40,
        unitsFailed: 8,
        itemsDeleted: 40 + 32,
        itemsFailed: 8,
        bytesFreed: (40 * 41) / 2,
        linksRestored: 2,
        linksNotRestored: 1,
      };
      // Restores of links the run removed, from any worker.
      await a.countRestore('r', true);
      await b.countRestore('r', true);
      await a.countRestore('r', false);
      await b.countRestore('gone', true);
      expect(await b.getProgress('gone')).toBeUndefined();
      expect(await b.getProgress('r')).toEqual(expected);
      // Not holding the lock: the metrics still follow the last run that stored a plan.
      expect(await a.currentProgress()).toEqual({ ...expected, runId: 'r', inProgress: false });
      await a.acquireLock('r', 60_000);
      expect(await b.currentProgress()).toEqual({ ...expected, runId: 'r', inProgress: true });
      // The run ends: its record keeps the counters, and they stay the ones the metrics show until the next run.
      await a.releaseLock('r');
      await a.updateRun('r', { status: 'failed' });
      expect((await b.getRun('r'))?.progress).toEqual(expected);
      await a.expireWorkingData('r');
      expect(await b.currentProgress()).toEqual({ ...expected, runId: 'r', inProgress: false });
      // The next run starts from zero as soon as it holds the lock.
      await a.acquireLock('r2', 60_000);
      expect(await b.currentProgress()).toMatchObject({
        runId: 'r2',
        inProgress: true,
        unitsDone: 0,
        unitsTotal: 0,
      });
    } finally {
      await other.quit();
    }
  });
});
