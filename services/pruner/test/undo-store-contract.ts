// The undo store's part of the store contract (`store-contract.ts` runs it): a run's record is begun once
// (again on a retried plan job), every removal appended and counted — also from several workers at once —,
// read back in order from where the registry phase stopped, kept as long as its head, and listed and totalled
// for `status` and the metrics.
import type { RemovalRecord, StreamUnit } from '@registry-push/core';
import { describe, expect, it } from 'vitest';
import type { UndoStart, UndoStore } from '../src/store/undo-store.js';
import type { OpenStores } from './support/store-world.js';

const HOUR = 3_600_000;

/** A record's start, created `hour` hours into 2026. */
function start(runId: string, hour = 0, mode: UndoStart['mode'] = 'full'): UndoStart {
  return {
    runId,
    mode,
    windowMs: HOUR,
    protectAnnotation: 'example.com/keep',
    createdAt: new Date(Date.UTC(2026, 0, 1) + hour * HOUR).toISOString(),
  };
}

/** An Image's removal; its blobs have the given sizes. */
function imageEntry(i: number, sizes: readonly number[] = []): RemovalRecord {
  return {
    type: 'image',
    unit: {
      type: 'image',
      id: `image/${i}`,
      digest: `sha256:${i}`,
      dependsOn: [],
      parents: [],
      blobs: sizes.map((size, j) => ({ digest: `sha256:b${i}-${j}`, size, sharedWith: [] })),
    },
  };
}

/** A stream's removed history item. */
function streamEntry(i: number): RemovalRecord {
  return {
    type: 'stream',
    unit: { type: 'stream', id: `stream/ns/s${i}`, namespace: 'ns', name: `s${i}` } as StreamUnit,
    items: [
      {
        tag: 'latest',
        position: 1,
        item: { created: 'c', dockerImageReference: 'r', image: `sha256:${i}`, generation: 1 },
      },
    ],
    before: { latest: [`sha256:x@c`, `sha256:${i}@c`] },
  };
}

async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const read: T[] = [];
  for await (const item of items) read.push(item);
  return read;
}

/** The ids of the runs listed, newest first. */
async function listed(undo: UndoStore): Promise<string[]> {
  return (await undo.list()).map((head) => head.runId);
}

/** The undo store's contract, against the stores `open` makes. */
export function undoStoreContract(name: string, open: OpenStores): void {
  describe(`${name}: undo records`, () => {
    it('starts a record, counts each entry appended, and reads them back in order from any index', async () => {
      const { undo, otherUndo } = await open();
      expect(await undo.head('r')).toBeUndefined();
      expect(await undo.complete('r')).toBe(false);
      await undo.begin(start('r'), HOUR);
      expect(await otherUndo.head('r')).toEqual({
        ...start('r'),
        state: 'recording',
        recorded: 0,
        bytesPending: 0,
        cursor: 0,
        storedBytes: 0,
      });
      const entries = [
        imageEntry(0, [10, 20]),
        streamEntry(1),
        imageEntry(2, [5]),
        imageEntry(3),
        streamEntry(4),
      ];
      const stored: number[] = [];
      for (const entry of entries) {
        await undo.append('r', entry);
        stored.push((await otherUndo.head('r'))!.storedBytes);
      }
      // Each entry adds its (compressed) size.
      expect(stored.every((bytes, i) => bytes > (stored[i - 1] ?? 0))).toBe(true);
      expect(await otherUndo.head('r')).toMatchObject({ recorded: 5, bytesPending: 35, cursor: 0 });
      expect(await otherUndo.complete('r')).toBe(true);
      const pages = await all(otherUndo.pages('r', 0, 2));
      expect(pages.map((page) => page.end)).toEqual([2, 4, 5]);
      expect(pages.flatMap((page) => page.records)).toEqual(entries);
      // The registry phase resumes where its cursor is.
      expect(await all(otherUndo.pages('r', 3, 2))).toEqual([{ end: 5, records: entries.slice(3) }]);
      expect(await all(otherUndo.pages('r', 5))).toEqual([]);
      expect(await all(otherUndo.records('r'))).toEqual(entries);
      expect(await all(otherUndo.records('other'))).toEqual([]);
    });

    it('started again (a retried plan job), keeps what the record has and renews the time it is kept', async () => {
      const { undo, advance } = await open();
      await undo.begin(start('r'), 1_000);
      await undo.append('r', imageEntry(1, [4]));
      await undo.update('r', { state: 'open' });
      await advance(600);
      await undo.begin({ ...start('r', 5, 'metadata'), windowMs: 5 }, 1_000);
      await advance(600);
      expect(await undo.head('r')).toEqual({
        ...start('r'),
        state: 'open',
        recorded: 1,
        bytesPending: 4,
        cursor: 0,
        storedBytes: expect.any(Number) as number,
      });
    });

    it('counts every entry that workers append at once', async () => {
      const { undo, otherUndo } = await open();
      await undo.begin(start('r'), HOUR);
      const entries = Array.from({ length: 40 }, (_, i) => imageEntry(i, [i + 1]));
      await Promise.all(entries.map((entry, i) => (i % 2 === 0 ? undo : otherUndo).append('r', entry)));
      expect(await undo.head('r')).toMatchObject({ recorded: 40, bytesPending: (40 * 41) / 2 });
      expect(await otherUndo.complete('r')).toBe(true);
      const ids = (await all(undo.records('r'))).map((entry) => entry.unit.id);
      expect(ids.sort()).toEqual(entries.map((entry) => entry.unit.id).sort());
    });

    it('changes head fields, and with a time keeps the record, entries and all, that long from now', async () => {
      const { undo, otherUndo, advance } = await open();
      await undo.begin(start('r'), 1_000);
      await undo.append('r', imageEntry(1));
      await undo.append('r', streamEntry(2));
      await undo.update('r', { state: 'open', registryAt: 'at', cursor: '1', summary: '{}' });
      expect(await otherUndo.head('r')).toMatchObject({
        state: 'open',
        registryAt: 'at',
        cursor: 1,
        summary: '{}',
      });
      expect(await otherUndo.head('r')).not.toHaveProperty('error');
      await advance(600);
      await otherUndo.update('r', {}, 5_000);
      await advance(1_000);
      expect(await undo.complete('r')).toBe(true);
      expect(await all(undo.records('r'))).toEqual([imageEntry(1), streamEntry(2)]);
      await undo.update('r', { state: 'closed', closedAt: 'c', error: 'E' });
      expect(await otherUndo.head('r')).toMatchObject({
        state: 'closed',
        closedAt: 'c',
        error: 'E',
        cursor: 1,
      });
      await advance(4_500);
      expect(await undo.head('r')).toBeUndefined();
      expect(await undo.complete('r')).toBe(false);
      expect(await all(undo.records('r'))).toEqual([]);
      expect(await listed(undo)).toEqual([]);
    });

    it('lets a record go when its time runs out, its entries with it', async () => {
      const { undo, advance } = await open();
      await undo.begin(start('r', 1), 1_000);
      await undo.begin(start('kept', 0), 10_000);
      await undo.append('r', imageEntry(1, [3]));
      expect(await listed(undo)).toEqual(['r', 'kept']);
      await advance(1_500);
      expect(await undo.head('r')).toBeUndefined();
      expect(await undo.complete('r')).toBe(false);
      expect(await all(undo.records('r'))).toEqual([]);
      expect(await listed(undo)).toEqual(['kept']);
      expect((await undo.totals()).runsInWindow).toBe(1);
    });

    it('lists the runs with a record newest first, and totals those in their window and the restores', async () => {
      const { undo, otherUndo } = await open();
      const runs: [string, number, UndoStart['mode'], number[], string][] = [
        ['a', 1, 'full', [100], 'recording'],
        ['b', 3, 'metadata', [7], 'open'],
        ['c', 2, 'full', [30, 1], 'open'],
        ['d', 0, 'full', [50], 'closed'],
      ];
      for (const [runId, hour, mode, sizes, state] of runs) {
        await undo.begin(start(runId, hour, mode), 10 * HOUR);
        await undo.append(runId, imageEntry(hour, sizes));
        if (state !== 'recording') await undo.update(runId, { state });
      }
      expect(await listed(otherUndo)).toEqual(['b', 'c', 'a', 'd']);
      expect(await otherUndo.totals()).toEqual({ runsInWindow: 3, bytesPending: 131, restores: {} });
      await Promise.all([
        undo.countRestores({ restored: 2, 'too-late': 0 }),
        otherUndo.countRestores({ restored: 1, failed: 1 }),
      ]);
      expect((await undo.totals()).restores).toEqual({ restored: 3, failed: 1 });
    });
  });
}
