// The contract of the pruner's stores (the run store and the undo store): what the workers rely on, asserted
// through the ports only, so the same suite runs against every implementation (`store-contract.test.ts`:
// in memory, and Redis on a real redis-server). An implementation passes it, or the pruner may lose or
// double-count work when several workers share the store.
import type { ImageUnit, ItemResult, UnitResult, WorkUnit } from '@registry-push/core';
import { describe, expect, it } from 'vitest';
import { planParts, wholePlan } from '../src/store/plan-reading.js';
import type { RunProgress, RunRecord, RunStore, StoredPlan } from '../src/store/run-store.js';
import { RESULT_HEAD as head, doneUnit as done } from './support/result-fixtures.js';
import type { OpenStores } from './support/store-world.js';
import { undoStoreContract } from './undo-store-contract.js';

const HOUR = 3_600_000;

/** A run record created `hour` hours into 2026. */
function record(runId: string, status: RunRecord['status'], hour = 0): RunRecord {
  return {
    runId,
    trigger: 'manual',
    status,
    dryRun: false,
    createdAt: new Date(Date.UTC(2026, 0, 1) + hour * HOUR).toISOString(),
  };
}

/** `count` work units: every fifth a stream unit, the others image units. */
function units(count: number): WorkUnit[] {
  const stream = (i: number): WorkUnit =>
    ({ type: 'stream', id: `stream/ns/s${i}`, namespace: 'ns', name: `s${i}` }) as unknown as WorkUnit;
  const image = (i: number): ImageUnit => ({
    type: 'image',
    id: `image/${i}`,
    digest: `sha256:${i}`,
    dependsOn: [],
    parents: [],
    blobs: [],
  });
  return Array.from({ length: count }, (_, i) => (i % 5 === 0 ? stream(i) : image(i)));
}

/** A plan of the given units. */
function plan(of: WorkUnit[], id = 'p'): StoredPlan {
  return { id, mode: 'full', units: of } as unknown as StoredPlan;
}

/** A unit result: a blob of `bytes` deleted, and an Image deleted or, when `failed`, failed. */
function unitResult(unit: string, bytes: number, failed = false, worker = 'w'): UnitResult {
  const item = (kind: ItemResult['kind'], outcome: ItemResult['outcome'], size: number): ItemResult => ({
    unit,
    kind,
    target: `${kind}-${unit}`,
    outcome,
    attempts: 1,
    bytes: size,
    at: worker,
    ...(outcome === 'failed' ? { error: { code: 'FORBIDDEN', message: 'no' } } : {}),
  });
  return {
    unit,
    status: failed ? 'failed' : 'done',
    items: [item('blob', 'deleted', bytes), item('image', failed ? 'failed' : 'deleted', 0)],
  };
}

const ZERO: RunProgress = {
  unitsTotal: 0,
  unitsDone: 0,
  unitsFailed: 0,
  itemsDeleted: 0,
  itemsFailed: 0,
  bytesFreed: 0,
  linksRestored: 0,
  linksNotRestored: 0,
};

/** Reads every page of a run's plan. */
async function pagesOf(store: RunStore, runId: string, size: number): Promise<WorkUnit[][]> {
  const pages: WorkUnit[][] = [];
  for await (const page of store.unitPages(runId, size)) pages.push(page);
  return pages;
}

/** The run store's and the undo store's contract, against the stores `open` makes. */
export function storeContract(name: string, open: OpenStores): void {
  describe(`${name}: run lock`, () => {
    it('lets one run hold the lock, renews it for that run, and releases it only for that run', async () => {
      const { runs } = await open();
      expect(await runs.lockHolder()).toBeUndefined();
      expect(await runs.acquireLock('a', 60_000)).toBe('a');
      expect(await runs.acquireLock('a', 60_000)).toBe('a');
      expect(await runs.acquireLock('b', 60_000)).toBe('a');
      expect(await runs.renewLock('a', 60_000)).toBe(true);
      expect(await runs.renewLock('b', 60_000)).toBe(false);
      expect(await runs.releaseLock('b')).toBe(false);
      expect(await runs.lockHolder()).toBe('a');
      expect(await runs.releaseLock('a')).toBe(true);
      expect(await runs.releaseLock('a')).toBe(false);
      // Renewing never takes a free lock.
      expect(await runs.renewLock('a', 60_000)).toBe(false);
      expect(await runs.lockHolder()).toBeUndefined();
      expect(await runs.acquireLock('b', 60_000)).toBe('b');
    });

    it('frees a lock not renewed within its TTL; renewing (or acquiring again) keeps it', async () => {
      const { runs, advance } = await open();
      expect(await runs.acquireLock('a', 1_000)).toBe('a');
      await advance(600);
      expect(await runs.renewLock('a', 1_000)).toBe(true);
      await advance(600);
      expect(await runs.acquireLock('a', 1_000)).toBe('a');
      await advance(600);
      expect(await runs.lockHolder()).toBe('a');
      expect(await runs.acquireLock('b', 1_000)).toBe('a');
      await advance(600);
      // An expired lock (a run that stopped making progress) lets the next run in.
      expect(await runs.lockHolder()).toBeUndefined();
      expect(await runs.renewLock('a', 1_000)).toBe(false);
      expect(await runs.acquireLock('b', 1_000)).toBe('b');
    });

    it('gives a free lock to exactly one of the runs racing for it', async () => {
      const { runs, otherRuns } = await open();
      const racers = Array.from({ length: 20 }, (_, i) => `run-${i}`);
      const holders = await Promise.all(
        racers.map((runId, i) => (i % 2 === 0 ? runs : otherRuns).acquireLock(runId, 60_000)),
      );
      const holder = await runs.lockHolder();
      expect(racers).toContain(holder);
      expect(holders).toEqual(racers.map(() => holder));
    });
  });

  describe(`${name}: run records`, () => {
    it('writes a record whole, reads it, and changes some of its fields', async () => {
      const { runs, otherRuns } = await open();
      const written = record('r', 'planning');
      await runs.putRun(written);
      // What the caller changes afterwards is not what is stored.
      written.status = 'failed';
      expect(await otherRuns.getRun('r')).toEqual(record('r', 'planning'));
      expect(await runs.getRun('missing')).toBeUndefined();
      const changed = await runs.updateRun('r', { status: 'running', planId: 'p', units: 3 });
      expect(changed).toEqual({ ...record('r', 'running'), planId: 'p', units: 3 });
      expect(await otherRuns.getRun('r')).toEqual(changed);
      // A run still going keeps no progress in its record.
      await runs.putPlan('r', plan(units(3)));
      expect((await runs.updateRun('r', { status: 'running' }))?.progress).toBeUndefined();
      // A record that is not there is not made by a change.
      expect(await runs.updateRun('missing', { status: 'failed' })).toBeUndefined();
      expect(await runs.getRun('missing')).toBeUndefined();
      // Written again, the record is replaced whole.
      await runs.putRun({ ...record('r', 'running'), notes: ['again'] });
      expect(await runs.getRun('r')).toEqual({ ...record('r', 'running'), notes: ['again'] });
    });

    it('keeps the progress counters in the record of a run that ends', async () => {
      const { runs, otherRuns } = await open();
      await runs.putRun(record('r', 'running'));
      await runs.putPlan('r', plan(units(3)));
      await otherRuns.putUnitResult('r', { result: unitResult('image/1', 7), worker: 'w', at: '' });
      const ended = await runs.updateRun('r', { status: 'succeeded', finishedAt: 'f' });
      const progress = { ...ZERO, unitsTotal: 3, unitsDone: 1, itemsDeleted: 2, bytesFreed: 7 };
      expect(ended?.progress).toEqual(progress);
      expect((await otherRuns.getRun('r'))?.progress).toEqual(progress);
    });

    it('lists the newest runs first, as many as asked (20 unless told)', async () => {
      const { runs } = await open();
      const hours = Array.from({ length: 25 }, (_, i) => (i * 7) % 25);
      for (const hour of hours) await runs.putRun(record(`r${hour}`, 'succeeded', hour));
      const newest = (n: number): string[] => Array.from({ length: n }, (_, i) => `r${24 - i}`);
      expect((await runs.listRuns()).map((run) => run.runId)).toEqual(newest(20));
      expect((await runs.listRuns(3)).map((run) => run.runId)).toEqual(newest(3));
      expect((await runs.listRuns(100)).map((run) => run.runId)).toEqual(newest(25));
      // A record written again is listed once, with what was written last.
      await runs.updateRun('r24', { status: 'failed' });
      expect(await runs.listRuns(2)).toEqual([record('r24', 'failed', 24), record('r23', 'succeeded', 23)]);
    });
  });

  describe(`${name}: plans`, () => {
    it('keeps a plan as a head and its units, read by id and page by page in plan order', async () => {
      const { runs, otherRuns } = await open();
      const all = units(2500);
      await runs.putPlan('r', plan(all));
      expect(await otherRuns.getPlanHead('r')).toEqual({ id: 'p', mode: 'full', unitCount: 2500 });
      expect(await otherRuns.getProgress('r')).toEqual({ ...ZERO, unitsTotal: 2500 });
      // A job reads its own units.
      const some = await otherRuns.getUnits('r', ['image/7', 'stream/ns/s10', 'image/none']);
      expect([...some.entries()]).toEqual([
        ['image/7', all[7]],
        ['stream/ns/s10', all[10]],
      ]);
      expect((await otherRuns.getUnits('r', [])).size).toBe(0);
      // Finalize reads them all, in plan order, a page at a time.
      const pages = await pagesOf(otherRuns, 'r', 1000);
      expect(pages.map((page) => page.length)).toEqual([1000, 1000, 500]);
      expect(pages.flat()).toEqual(all);
      expect((await pagesOf(otherRuns, 'r', 2400)).map((page) => page.length)).toEqual([2400, 100]);
      expect(await wholePlan(otherRuns, 'r')).toEqual(plan(all));
      const parts = await planParts(otherRuns, 'r', true);
      expect(parts.streams).toEqual(all.filter((unit) => unit.type === 'stream').map((unit) => unit.id));
      expect(parts.images).toEqual(all.filter((unit) => unit.type === 'image'));
      expect((await planParts(otherRuns, 'r', false)).images).toEqual([]);
    });

    it('replaces the units of a plan stored again; a run without a plan has none to read', async () => {
      const { runs } = await open();
      const all = units(30);
      await runs.putPlan('r', plan(all));
      await runs.putUnitResult('r', { result: unitResult('image/1', 1), worker: 'w', at: '' });
      // Planned again (a plan step that was retried): the new units replace the old ones; what was counted
      // stays counted.
      await runs.putPlan('r', plan(all.slice(0, 3), 'p2'));
      expect(await wholePlan(runs, 'r')).toEqual(plan(all.slice(0, 3), 'p2'));
      expect((await runs.getUnits('r', ['image/7'])).size).toBe(0);
      expect(await runs.getProgress('r')).toMatchObject({ unitsTotal: 3, unitsDone: 1 });
      // No plan: no head, no units, and reading its pages fails rather than yielding part of a plan.
      expect(await runs.getPlanHead('none')).toBeUndefined();
      expect((await runs.getUnits('none', ['image/1'])).size).toBe(0);
      expect(await wholePlan(runs, 'none')).toBeUndefined();
      await expect(pagesOf(runs, 'none', 10)).rejects.toMatchObject({ code: 'PRUNER_RUN_NOT_FOUND' });
      // An empty plan is a plan.
      await runs.putPlan('empty', plan([]));
      expect(await runs.getPlanHead('empty')).toEqual({ id: 'p', mode: 'full', unitCount: 0 });
      expect(await pagesOf(runs, 'empty', 10)).toEqual([]);
    });

    it("stores phase 2's image batches in order, replaced when stored again", async () => {
      const { runs, otherRuns } = await open();
      expect(await runs.getBatches('r')).toBeUndefined();
      const batches = Array.from({ length: 1500 }, (_, i) => [`image/${2 * i}`, `image/${2 * i + 1}`]);
      await runs.putBatches('r', batches);
      expect(await otherRuns.getBatches('r')).toEqual(batches);
      await runs.putBatches('r', [['image/9']]);
      expect(await otherRuns.getBatches('r')).toEqual([['image/9']]);
      await runs.putBatches('r', []);
      expect(await otherRuns.getBatches('r')).toBeUndefined();
    });
  });

  describe(`${name}: unit results and progress`, () => {
    it('records a unit result once: the first stays, and a second write is not counted', async () => {
      const { runs, otherRuns } = await open();
      await runs.putPlan('r', plan(units(5)));
      const first = { result: unitResult('image/1', 10), worker: 'A', at: '1' };
      expect(await runs.putUnitResult('r', first)).toBe(true);
      expect(
        await otherRuns.putUnitResult('r', { result: unitResult('image/1', 99, true), worker: 'B', at: '2' }),
      ).toBe(false);
      expect(await runs.putUnitResult('r', first)).toBe(false);
      expect(await otherRuns.getUnitResults('r')).toEqual(new Map([['image/1', first]]));
      expect(await otherRuns.getUnitResults('r', ['image/2', 'image/1'])).toEqual(
        new Map([['image/1', first]]),
      );
      expect((await otherRuns.getUnitResults('r', [])).size).toBe(0);
      expect((await otherRuns.getUnitResults('other')).size).toBe(0);
      expect(await otherRuns.getProgress('r')).toEqual({
        ...ZERO,
        unitsTotal: 5,
        unitsDone: 1,
        itemsDeleted: 2,
        bytesFreed: 10,
      });
    });

    it("counts a run's progress once per unit, however many workers record it at once", async () => {
      const { runs: a, otherRuns: b } = await open();
      const ids = Array.from({ length: 40 }, (_, i) => `image/u${i}`);
      await a.putPlan('r', plan(ids.map((id) => ({ id, type: 'image' }) as WorkUnit)));
      // Unit i deletes a blob of i+1 bytes and its Image; every fifth unit fails its Image instead. Both
      // workers record units 0-29 at the same time (a job both believed theirs); A alone 30-34, B alone 35-39.
      const put = (store: RunStore, worker: string, from: number, to: number): Promise<boolean>[] =>
        ids.slice(from, to).map((id, i) =>
          store.putUnitResult('r', {
            result: unitResult(id, from + i + 1, (from + i) % 5 === 0, worker),
            worker,
            at: '',
          }),
        );
      const [byA, byB] = await Promise.all([
        Promise.all([...put(a, 'A', 0, 30), ...put(a, 'A', 30, 35)]),
        Promise.all([...put(b, 'B', 0, 30), ...put(b, 'B', 35, 40)]),
      ]);
      // Each shared unit was recorded by exactly one of them, and its result is that one's.
      for (let i = 0; i < 30; i++) expect([byA[i], byB[i]].filter(Boolean)).toHaveLength(1);
      expect([...byA.slice(30), ...byB.slice(30)]).toEqual(Array.from({ length: 10 }, () => true));
      const stored = await a.getUnitResults('r');
      expect(stored.size).toBe(40);
      for (let i = 0; i < 30; i++) expect(stored.get(ids[i]!)?.worker).toBe(byA[i] === true ? 'A' : 'B');
      expect(await b.getProgress('r')).toEqual({
        ...ZERO,
        unitsTotal: 40,
        unitsDone: 40,
        unitsFailed: 8,
        itemsDeleted: 40 + 32,
        itemsFailed: 8,
        bytesFreed: (40 * 41) / 2,
      });
    });

    it('counts link restores from any worker, also after the run ended; not for a run without counters', async () => {
      const { runs: a, otherRuns: b } = await open();
      await a.putRun(record('r', 'running'));
      await a.putPlan('r', plan(units(2)));
      await Promise.all([
        a.countRestore('r', true),
        b.countRestore('r', true),
        a.countRestore('r', false),
        b.countRestore('gone', true),
      ]);
      expect(await b.getProgress('r')).toEqual({
        ...ZERO,
        unitsTotal: 2,
        linksRestored: 2,
        linksNotRestored: 1,
      });
      expect(await b.getProgress('gone')).toBeUndefined();
      // Ended, the run's record keeps its counters, and a restore that comes later is counted there too.
      await a.updateRun('r', { status: 'succeeded' });
      await b.countRestore('r', false);
      const expected = { ...ZERO, unitsTotal: 2, linksRestored: 2, linksNotRestored: 2 };
      expect(await a.getProgress('r')).toEqual(expected);
      expect((await a.getRun('r'))?.progress).toEqual(expected);
    });

    it('shows the metrics the run holding the lock, else the last run that stored a plan', async () => {
      const { runs: a, otherRuns: b } = await open();
      expect(await b.currentProgress()).toBeUndefined();
      // The run holds the lock before its plan is stored: zero.
      await a.acquireLock('r', 60_000);
      expect(await b.currentProgress()).toEqual({ ...ZERO, runId: 'r', inProgress: true });
      await a.putRun(record('r', 'running'));
      await a.putPlan('r', plan(units(4)));
      await a.putUnitResult('r', { result: unitResult('image/1', 5), worker: 'A', at: '' });
      const progress = { ...ZERO, unitsTotal: 4, unitsDone: 1, itemsDeleted: 2, bytesFreed: 5 };
      expect(await b.currentProgress()).toEqual({ ...progress, runId: 'r', inProgress: true });
      // The run ends: the counters its record keeps stay the ones shown until the next run.
      await a.releaseLock('r');
      await a.updateRun('r', { status: 'failed' });
      await a.expireWorkingData('r');
      expect(await b.currentProgress()).toEqual({ ...progress, runId: 'r', inProgress: false });
      // The next run starts from zero as soon as it holds the lock.
      await a.acquireLock('r2', 60_000);
      expect(await b.currentProgress()).toEqual({ ...ZERO, runId: 'r2', inProgress: true });
      // Not holding the lock: the metrics follow the last run that stored a plan, from its live counters
      // while its record has none.
      await a.putPlan('r2', plan(units(2)));
      await a.releaseLock('r2');
      expect(await b.currentProgress()).toEqual({ ...ZERO, unitsTotal: 2, runId: 'r2', inProgress: false });
    });
  });

  describe(`${name}: result log`, () => {
    it('keeps a result log in order, readable once its head is written, replaced when written again', async () => {
      const { runs, otherRuns } = await open();
      await runs.startResult('r');
      for (let start = 0; start < 2500; start += 500)
        await runs.appendResult(
          'r',
          Array.from({ length: 500 }, (_, i) => done(start + i)),
        );
      await runs.appendResult('r', []);
      expect(await otherRuns.getResult('r')).toBeUndefined();
      await runs.putResultHead('r', head);
      const read = await otherRuns.getResult('r');
      expect(read?.units.map((unit) => unit.unit)).toEqual(
        Array.from({ length: 2500 }, (_, i) => `image/${i}`),
      );
      expect(read).toEqual({ ...head, units: read?.units });
      // Written again (a repeated finalize), the log is the new one.
      await runs.startResult('r');
      await runs.appendResult('r', [done(7)]);
      await runs.putResultHead('r', { ...head, finishedAt: 'g' });
      expect(await otherRuns.getResult('r')).toEqual({ ...head, finishedAt: 'g', units: [done(7)] });
      expect(await otherRuns.getResult('missing')).toBeUndefined();
    });

    it('pages unit results for the run page: recorded so far in plan order, then the result log', async () => {
      const { runs, otherRuns } = await open();
      await runs.putPlan(
        'r',
        plan(Array.from({ length: 5 }, (_, i) => ({ type: 'image', id: `image/${i}` }) as WorkUnit)),
      );
      await runs.putUnitResult('r', { result: done(3), worker: 'w', at: 'now' });
      expect(await otherRuns.unitResultPage('r', 2, 2)).toEqual({
        total: 5,
        units: [{ unit: 'image/2', status: 'pending', items: [] }, done(3)],
      });
      expect(await otherRuns.unitResultPage('r', 4, 10)).toEqual({
        total: 5,
        units: [{ unit: 'image/4', status: 'pending', items: [] }],
      });
      await runs.startResult('r');
      await runs.appendResult('r', [4, 3, 2, 1, 0].map(done));
      expect(await otherRuns.unitResultPage('r', 3, 5)).toEqual({ total: 5, units: [done(1), done(0)] });
      expect(await otherRuns.unitResultPage('nothing', 0, 2)).toEqual({ total: 0, units: [] });
    });
  });

  describe(`${name}: run state`, () => {
    it('keeps the stream units that did not settle, replaced when stored again', async () => {
      const { runs, otherRuns } = await open();
      expect(await runs.getUnsettled('r')).toBeUndefined();
      await runs.putUnsettled('r', ['stream/a', 'stream/b']);
      expect(await otherRuns.getUnsettled('r')).toEqual(['stream/a', 'stream/b']);
      await runs.putUnsettled('r', []);
      expect(await otherRuns.getUnsettled('r')).toEqual([]);
      expect(await otherRuns.getUnsettled('other')).toBeUndefined();
    });

    it('keeps the scheduler settings last applied and when the last run succeeded', async () => {
      const { runs, otherRuns } = await open();
      expect(await runs.getAppliedConfig()).toBeUndefined();
      expect(await runs.lastSuccess()).toBeUndefined();
      const applied = {
        generation: 3,
        resourceVersion: '42',
        schedule: '0 3 * * *',
        suspend: false,
        historyLimits: { successful: 3, failed: 1 },
        appliedAt: 'a',
        appliedBy: 'worker-1',
      };
      await runs.putAppliedConfig(applied);
      expect(await otherRuns.getAppliedConfig()).toEqual(applied);
      await otherRuns.putAppliedConfig({ ...applied, generation: 4, suspend: true });
      expect(await runs.getAppliedConfig()).toEqual({ ...applied, generation: 4, suspend: true });
      await runs.setLastSuccess(new Date(Date.UTC(2026, 0, 2)));
      expect(await otherRuns.lastSuccess()).toBe(Date.UTC(2026, 0, 2));
    });

    it("lets a finished run's working data expire a day later; its record and result log stay", async () => {
      const { runs, advance } = await open();
      for (const runId of ['r', 'next']) {
        await runs.putRun(record(runId, 'running'));
        await runs.putPlan(runId, plan(units(3)));
        await runs.putBatches(runId, [['image/1']]);
        await runs.putUnitResult(runId, { result: unitResult('image/1', 1), worker: 'w', at: '' });
        await runs.putUnsettled(runId, ['stream/ns/s0']);
        await runs.startResult(runId);
        await runs.appendResult(runId, [unitResult('image/1', 1)]);
        await runs.putResultHead(runId, { planId: 'p' } as never);
      }
      await runs.updateRun('r', { status: 'succeeded' });
      await runs.expireWorkingData('r');
      await advance(23 * HOUR);
      expect(await runs.getPlanHead('r')).toBeDefined();
      expect(await runs.getProgress('r')).toBeDefined();
      await advance(2 * HOUR);
      expect(await runs.getPlanHead('r')).toBeUndefined();
      expect((await runs.getUnits('r', ['image/1'])).size).toBe(0);
      await expect(pagesOf(runs, 'r', 10)).rejects.toMatchObject({ code: 'PRUNER_RUN_NOT_FOUND' });
      expect(await runs.getBatches('r')).toBeUndefined();
      expect((await runs.getUnitResults('r')).size).toBe(0);
      expect(await runs.getUnsettled('r')).toBeUndefined();
      expect(await runs.getProgress('r')).toBeUndefined();
      expect((await runs.getRun('r'))?.progress).toMatchObject({ unitsDone: 1 });
      expect((await runs.getResult('r'))?.units).toHaveLength(1);
      // The other run's data was not let go.
      expect(await runs.getPlanHead('next')).toBeDefined();
      expect((await runs.getUnitResults('next')).size).toBe(1);
      expect(await runs.getBatches('next')).toEqual([['image/1']]);
    });
  });

  describe(`${name}: history`, () => {
    it('keeps the newest runs within the history limits, and every run in progress, deleting the rest with their data', async () => {
      const { runs, otherRuns } = await open();
      const statuses: RunRecord['status'][] = [
        'succeeded',
        'failed',
        'succeeded',
        'rejected',
        'running',
        'succeeded',
        'failed',
        'planning',
      ];
      for (const [index, status] of statuses.entries()) {
        const runId = `r${index}`;
        await runs.putRun(record(runId, status, index));
        await runs.putPlan(runId, plan(units(2)));
        await runs.putUnitResult(runId, { result: unitResult('image/1', 1), worker: 'w', at: '' });
        await runs.startResult(runId);
        await runs.appendResult(runId, [unitResult('image/1', 1)]);
        await runs.putResultHead(runId, { planId: 'p' } as never);
      }
      expect(await otherRuns.trimHistory({ successful: 2, failed: 1 })).toBe(3);
      expect((await runs.listRuns()).map((run) => run.runId)).toEqual(['r7', 'r6', 'r5', 'r4', 'r2']);
      for (const gone of ['r0', 'r1', 'r3']) {
        expect(await runs.getRun(gone)).toBeUndefined();
        expect(await runs.getPlanHead(gone)).toBeUndefined();
        expect((await runs.getUnitResults(gone)).size).toBe(0);
        expect(await runs.getProgress(gone)).toBeUndefined();
        expect(await runs.getResult(gone)).toBeUndefined();
      }
      expect(await wholePlan(runs, 'r2')).toEqual(plan(units(2)));
      expect(await runs.getResult('r2')).toBeDefined();
      // Within the limits already: nothing to delete. With none kept, only the runs in progress stay.
      expect(await runs.trimHistory({ successful: 2, failed: 1 })).toBe(0);
      expect(await runs.trimHistory({ successful: 0, failed: 0 })).toBe(3);
      expect((await runs.listRuns()).map((run) => run.runId)).toEqual(['r7', 'r4']);
    });
  });

  undoStoreContract(name, open);
}
