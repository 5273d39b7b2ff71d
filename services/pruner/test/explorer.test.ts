// The plan explorer's index on a real Redis: decisions grouped namespace → stream → tag with the bytes each
// group frees, stored compactly and read back exactly, every decision about a digest found from its places,
// and Explain's words for them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlanItem, PrunePlan } from '@registry-push/core';
import { startRedis, type RunningRedis } from '@registry-push/testkit';
import { connectRedis, type RedisConnection } from '../src/redis.js';
import { loadSettings } from '../src/settings.js';
import { explain, parseExplainRef } from '../src/web/explain.js';
import { ExplorerStore, LINKS, NO_STREAM, buildExplorerIndex } from '../src/web/explorer.js';
import { changeKeys, restrictToApproved } from '../src/web/approve.js';

const d = (n: number): string => `sha256:${String(n).repeat(64).slice(0, 64)}`;

const items: PlanItem[] = [
  {
    id: 't0',
    kind: 'tag-history',
    action: 'keep',
    rule: 'tag-in-use',
    referrer: 'Pod demo/web-1',
    bytes: 0,
    stream: 'demo/web',
    tag: 'latest',
    revision: 0,
    digest: d(1),
  },
  {
    id: 't1',
    kind: 'tag-history',
    action: 'delete',
    rule: 'beyond-tag-revisions',
    bytes: 0,
    stream: 'demo/web',
    tag: 'latest',
    revision: 1,
    digest: d(2),
    unit: 'stream/demo/web',
  },
  {
    id: 'u',
    kind: 'stream-update',
    action: 'update',
    rule: 'history-removed',
    bytes: 0,
    stream: 'demo/web',
    unit: 'stream/demo/web',
  },
  {
    id: 'l',
    kind: 'layer-link',
    action: 'delete',
    rule: 'link-unreferenced',
    bytes: 0,
    stream: 'demo/web',
    digest: d(3),
    unit: 'stream/demo/web',
  },
  {
    id: 'i1',
    kind: 'image',
    action: 'keep',
    rule: 'in-stream-history',
    referrer: 'demo/web:latest#0',
    bytes: 0,
    digest: d(1),
  },
  {
    id: 'i2',
    kind: 'image',
    action: 'delete',
    rule: 'unreferenced',
    bytes: 0,
    digest: d(2),
    unit: `image/${d(2)}`,
  },
  {
    id: 'b3',
    kind: 'blob',
    action: 'delete',
    rule: 'blob-unreferenced',
    bytes: 1000,
    digest: d(3),
    unit: `image/${d(2)}`,
  },
  {
    id: 'i4',
    kind: 'image',
    action: 'delete',
    rule: 'unreferenced',
    bytes: 0,
    digest: d(4),
    unit: `image/${d(4)}`,
  },
  {
    id: 'b5',
    kind: 'blob',
    action: 'delete',
    rule: 'blob-unreferenced',
    bytes: 500,
    digest: d(5),
    unit: `image/${d(4)}`,
  },
];

const plan = {
  schema: 'registry-push.prune-plan/v1',
  id: 'plan-1',
  mode: 'full',
  now: '2026-12-01T00:00:00.000Z',
  snapshotTakenAt: '2026-12-01T00:00:00.000Z',
  policy: { keepTagRevisions: 1, keepYoungerThanMs: 3600_000 },
  items,
  units: [
    {
      type: 'stream',
      id: 'stream/demo/web',
      namespace: 'demo',
      name: 'web',
      uid: 'u1',
      removals: [{ tag: 'latest', image: d(2), created: 'c2' }],
      manifestLinks: [],
      layerLinks: [d(3)],
    },
    {
      type: 'image',
      id: `image/${d(2)}`,
      digest: d(2),
      dependsOn: ['stream/demo/web'],
      parents: [],
      blobs: [{ digest: d(3), size: 1000, sharedWith: [] }],
    },
    {
      type: 'image',
      id: `image/${d(4)}`,
      digest: d(4),
      dependsOn: [],
      parents: [],
      blobs: [{ digest: d(5), size: 500, sharedWith: [] }],
    },
  ],
  summary: { counts: {}, bytesFreed: 1500, reasons: [] },
  notes: [],
} as unknown as PrunePlan;

let redis: RunningRedis;
let connection: RedisConnection;
let store: ExplorerStore;

beforeAll(async () => {
  redis = await startRedis();
  connection = connectRedis(loadSettings({ REDIS_URL: redis.url }).redis, 'client');
  store = new ExplorerStore(connection, '{t}', 'q');
  await store.put(buildExplorerIndex('dry-1', plan));
});
afterAll(async () => {
  connection?.disconnect();
  await redis?.stop();
});

describe('the explorer index', () => {
  it('groups decisions by namespace, stream and tag with the bytes their Images free', async () => {
    const namespaces = await store.namespaces('dry-1');
    expect(namespaces.find((row) => row.name === 'demo')).toEqual({
      name: 'demo',
      bytes: 1000,
      changes: 4,
      keeps: 2,
    });
    // The Image no history names goes to its digest's group, with its blob.
    expect(namespaces.find((row) => row.name === NO_STREAM)).toEqual({
      name: NO_STREAM,
      bytes: 500,
      changes: 2,
      keeps: 0,
    });
    expect(await store.streams('dry-1', NO_STREAM)).toEqual([
      { name: '44', bytes: 500, changes: 2, keeps: 0 },
    ]);
    const tags = await store.tags('dry-1', 'demo/web');
    expect(tags).toEqual([
      { name: 'latest', bytes: 1000, changes: 3, keeps: 2 },
      { name: LINKS, bytes: 0, changes: 1, keeps: 0 },
    ]);
  });

  it('reads every decision back as it was planned', async () => {
    const latest = await store.items('dry-1', 'demo/web', 'latest');
    const strip = ({ id: _id, unit: _unit, ...rest }: PlanItem): Omit<PlanItem, 'id' | 'unit'> => rest;
    expect(latest).toEqual([items[0], items[1], items[4], items[5], items[6]].map((item) => strip(item!)));
    expect(await store.items('dry-1', 'demo/web', LINKS)).toEqual([strip(items[3]!)]);
    expect(await store.head('dry-1')).toMatchObject({
      planId: 'plan-1',
      bytesFreed: 1500,
      items: items.length,
    });
    expect(await store.head('dry-2')).toBeUndefined();
  });

  it('explains a digest from every place that decided about it', async () => {
    const answer = await explain(store, 'dry-1', d(3));
    expect(answer.lines.map((line) => `${line.action} ${line.subject}: ${line.reason}`)).toEqual([
      `delete layer-link demo/web@${d(3)}: deleted: no image left in the stream history uses it`,
      `delete blob ${d(3)}: deleted: no kept Image uses this blob`,
    ]);
    const kept = await explain(store, 'dry-1', d(1));
    expect(kept.lines.map((line) => line.reason)).toEqual([
      'kept: the newest revision of a tag that Pod demo/web-1 uses',
      'kept: still in the history of demo/web:latest#0',
    ]);
    expect((await explain(store, 'dry-1', 'demo/web:latest')).lines).toHaveLength(4);
    expect(parseExplainRef(`demo/web@${d(1)}`)).toEqual({
      type: 'stream-digest',
      stream: 'demo/web',
      digest: d(1),
    });
    await expect(explain(store, 'dry-2', d(1))).rejects.toMatchObject({ code: 'PRUNER_RUN_NOT_FOUND' });
  });
});

describe('restricting a fresh plan to the approved one', () => {
  it('carries out only shared changes, and keeps the links and Images of a held-back removal', () => {
    const approved = changeKeys(plan.units);
    // Fresh: the stream also drops revision 2 (not approved), so its links are held; image 4 no longer planned.
    const fresh = {
      ...plan,
      id: 'fresh',
      units: [
        {
          ...plan.units[0]!,
          removals: [
            { tag: 'latest', image: d(2), created: 'c2' },
            { tag: 'latest', image: d(6), created: 'c6' },
          ],
        },
        plan.units[1]!,
        {
          type: 'image',
          id: `image/${d(6)}`,
          digest: d(6),
          dependsOn: ['stream/demo/web'],
          parents: [],
          blobs: [],
        },
      ],
    } as unknown as PrunePlan;
    const { plan: restricted, report } = restrictToApproved(fresh, approved, 'plan-1');
    expect(restricted.id).toBe('plan-1');
    expect(restricted.units).toEqual([{ ...plan.units[0]!, layerLinks: [] }, plan.units[1]!]);
    expect(report).toMatchObject({ approved: 6, kept: 3, dropped: 3, added: 2 });
    expect(restricted.summary.bytesFreed).toBe(1000);
    expect(restricted.notes[0]).toBe(
      'Approved plan plan-1: 3 of its 6 changes carried out after a fresh check; 3 changed since and left alone; 2 new change(s) not in it were not carried out.',
    );
  });
});
