// The live view against the simulator's API: a catch-up sees every change made before it was asked for,
// with no sleep in between (through its watches when they carry events, through a short watch of its own
// when the cluster is quiet), history additions are reported, and a stopped view refuses to decide.
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterClient } from '../../src/cluster/client.js';
import { Resources } from '../../src/cluster/resources.js';
import { RegistryPushError } from '../../src/errors.js';
import type { ClusterWatch, WatchRequestOptions } from '../../src/ports/cluster-api.js';
import { LiveView, type HistoryAddition, type LiveViewCluster } from '../../src/prune/view.js';
import { failure } from '../failure.js';
import { digest } from './fixtures.js';
import { createImage, createStream } from './helpers.js';

let cluster: RunningCluster;
let admin: ClusterClient;
let pruner: ClusterClient;

beforeAll(async () => {
  cluster = await startCluster({ routerMode: 'port', namespaces: ['live'] });
  admin = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
  const user = await cluster.addUser({ name: 'pruner', roles: [{ role: 'system:image-pruner' }] });
  pruner = ClusterClient.fromOptions({ kubeconfig: user.kubeconfig });
}, 120_000);

afterAll(async () => {
  await cluster.stop();
});

/**
 * Whether a watch request is one of the view's short watches (its catch-ups' own, a few seconds long), not
 * one of its informers' (minutes long).
 */
function isShortWatch(options: unknown): boolean {
  return ((options as WatchRequestOptions | undefined)?.timeoutSeconds ?? 0) <= 10;
}

async function startedView(options: { probeSeconds?: number } = {}): Promise<LiveView> {
  const view = new LiveView(pruner, { protectAnnotation: 'example.com/keep', ...options });
  await view.start();
  return view;
}

describe('the live view', () => {
  it('starts from the lists: Images, their blobs and the histories that name them', async () => {
    const base = await createImage(admin, 'lv-base', { layers: ['lv-shared', 'lv-own'] });
    await createStream(admin, 'live', 'first', { latest: ['lv-base'] });
    const view = await startedView();
    try {
      expect(view.index.image(base)?.layers.map((layer) => layer.digest)).toEqual([
        digest('lv-shared'),
        digest('lv-own'),
      ]);
      expect(view.index.referrersOf(digest('lv-shared'))).toEqual([base]);
      expect(view.index.inHistory(base)).toBe(true);
      expect(view.index.repositoryNeeds('live', 'first').blobs).toEqual(
        new Set([digest('lv-shared'), digest('lv-own'), digest('lv-base-config')]),
      );
    } finally {
      await view.stop();
    }
  });

  it('sees every change made before a catch-up, with no wait in between', async () => {
    const view = await startedView();
    try {
      for (let i = 0; i < 15; i++) {
        const image = await createImage(admin, `lv-burst-${i}`, {
          layers: ['lv-shared', `lv-burst-${i}-own`],
        });
        // A blob's decision needs the Images only.
        await view.catchUp('images');
        expect(view.index.referrersOf(digest('lv-shared'))).toContain(image);
        await createStream(admin, 'live', `burst-${i}`, { latest: [`lv-burst-${i}`] });
        await view.catchUp();
        expect(view.index.inHistory(image)).toBe(true);
        await admin.delete(Resources.image, image);
        await view.catchUp();
        expect(view.index.image(image)).toBeUndefined();
        expect(view.index.referrersOf(digest('lv-shared'))).not.toContain(image);
      }
    } finally {
      await view.stop();
    }
  }, 120_000);

  it('catches up on a quiet cluster, and when only other kinds changed', async () => {
    const view = await startedView({ probeSeconds: 1 });
    try {
      const started = Date.now();
      await view.catchUp();
      // Other kinds move the cluster's resourceVersion past anything the view's watches will deliver.
      await admin.create(Resources.configMap, {
        metadata: { name: 'lv-noise', namespace: 'live' },
        data: {},
      });
      await view.catchUp();
      expect(Date.now() - started).toBeLessThan(30_000);
    } finally {
      await view.stop();
    }
  }, 60_000);

  it('shares its reads of the cluster among the catch-ups in flight, however many there are', async () => {
    const calls = { currentVersion: 0, watch: 0 };
    const counted = new Proxy(pruner, {
      get(target, property, receiver): unknown {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        const method = value as (...args: unknown[]) => unknown;
        return (...args: unknown[]) => {
          if (property === 'currentVersion') calls.currentVersion++;
          if (property === 'watch' && isShortWatch(args[1])) calls.watch++;
          return method.apply(target, args);
        };
      },
    });
    const view = new LiveView(counted, { protectAnnotation: 'example.com/keep' });
    await view.start();
    try {
      const image = await createImage(admin, 'lv-shared-reads');
      await Promise.all(Array.from({ length: 200 }, (_, i) => view.catchUp(i % 3 === 0 ? 'images' : 'all')));
      expect(view.index.image(image)).toBeDefined();
      // One read for the catch-ups asked for at once (a second when the first was already under way),
      // and at most as many short watches per kind.
      expect(calls.currentVersion).toBeLessThanOrEqual(2);
      expect(calls.watch).toBeLessThanOrEqual(4);
    } finally {
      await view.stop();
    }
  });

  it('reports images a stream history names anew, and not the ones it named before', async () => {
    await createImage(admin, 'lv-old');
    await createImage(admin, 'lv-new');
    await createStream(admin, 'live', 'grows', { latest: ['lv-old'] });
    const view = await startedView();
    const additions: HistoryAddition[] = [];
    view.onHistoryAdded((addition) => additions.push(addition));
    try {
      await createStream(admin, 'live', 'grows', { latest: ['lv-new', 'lv-old'] });
      await view.catchUp();
      expect(additions).toEqual([{ namespace: 'live', name: 'grows', images: [digest('lv-new')] }]);
    } finally {
      await view.stop();
    }
  });

  /** The pruner's client, whose short watches (the catch-ups' own) answer 410 `gone` times, or always. */
  function behindTheHistory(
    gone: number,
    until = Number.POSITIVE_INFINITY,
  ): { client: ClusterClient; probes: () => number } {
    let probes = 0;
    const client = new Proxy(pruner, {
      get(target, property, receiver): unknown {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        const method = value as (...args: unknown[]) => unknown;
        return (...args: unknown[]) => {
          if (property === 'watch' && isShortWatch(args[1]) && ++probes <= gone && Date.now() < until) {
            return Promise.reject(
              new RegistryPushError('GONE', 'The requested resourceVersion is too old (410 Gone).'),
            );
          }
          return method.apply(target, args);
        };
      },
    });
    return { client, probes: () => probes };
  }

  it("behind the server's history (410 to its short watch), asks again from where its watch has got to", async () => {
    const { client, probes } = behindTheHistory(2);
    const view = new LiveView(client, { protectAnnotation: 'example.com/keep' });
    await view.start();
    try {
      // Only another kind changes: the view's watches deliver nothing, so the catch-up needs a short watch.
      await admin.create(Resources.configMap, {
        metadata: { name: 'lv-behind', namespace: 'live' },
        data: {},
      });
      await view.catchUp();
      expect(probes()).toBeGreaterThanOrEqual(3);
    } finally {
      await view.stop();
    }
  }, 60_000);

  const gone = (): RegistryPushError =>
    new RegistryPushError('GONE', 'The requested resourceVersion is too old (410 Gone).');

  /**
   * A cluster port whose watches lag: the view's informers' resourceVersions creep up by one every `stepMs`
   * (bookmarks) and reach the cluster's (10000) only after 3 s; short watches are answered by `watch`.
   */
  function laggingClient(stepMs: number, watch: (sinceOpened: number) => Promise<unknown>): LiveViewCluster {
    const opened = Date.now();
    const since = (): number => Date.now() - opened;
    const version = (): string => (since() >= 3_000 ? '10000' : String(100 + Math.floor(since() / stepMs)));
    /** The informers' long watch: a bookmark every `stepMs` until it is closed. */
    const creeping = (): ClusterWatch => {
      let closed = false;
      return {
        next: async () => {
          await new Promise((resolve) => setTimeout(resolve, stepMs));
          return closed
            ? undefined
            : { type: 'BOOKMARK', object: { metadata: { resourceVersion: version() } } };
        },
        close: () => {
          closed = true;
        },
        [Symbol.asyncIterator]: () => {
          throw new Error('not used');
        },
      };
    };
    return {
      listVersioned: () => Promise.resolve({ resourceVersion: '100', count: 0 }),
      currentVersion: () => Promise.resolve('10000'),
      watch: (_type, options) =>
        (isShortWatch(options) ? watch(since()) : Promise.resolve(creeping())) as Promise<
          ClusterWatch<never>
        >,
    };
  }

  it('waits longer than behindMs on a view that is behind but whose watch keeps moving', async () => {
    const opened = Date.now();
    // Every short watch answers 410 until the view has caught up by itself.
    const lagging = laggingClient(50, (since) =>
      since >= 3_000
        ? Promise.resolve({ next: () => Promise.resolve(undefined), close: () => undefined })
        : Promise.reject(gone()),
    );
    const view = new LiveView(lagging, { protectAnnotation: 'example.com/keep', behindMs: 1_000 });
    await view.start();
    try {
      await view.catchUp('streams');
      expect(Date.now() - opened).toBeGreaterThanOrEqual(2_900);
    } finally {
      await view.stop();
    }
  }, 60_000);

  it('does not ask the server while its own watch is still delivering, however long that takes', async () => {
    let probes = 0;
    // One change every 5 ms.
    const delivering = laggingClient(5, () => {
      probes++;
      return Promise.reject(gone());
    });
    const view = new LiveView(delivering, { protectAnnotation: 'example.com/keep', behindMs: 1_000 });
    await view.start();
    try {
      await view.catchUp();
      expect(probes).toBe(0);
    } finally {
      await view.stop();
    }
  }, 60_000);

  it("a view that stays behind the server's history longer than behindMs refuses to decide", async () => {
    const { client } = behindTheHistory(Number.POSITIVE_INFINITY);
    const view = new LiveView(client, { protectAnnotation: 'example.com/keep', behindMs: 1_500 });
    await view.start();
    try {
      await admin.create(Resources.configMap, {
        metadata: { name: 'lv-behind-2', namespace: 'live' },
        data: {},
      });
      const started = Date.now();
      expect(await failure(view.catchUp())).toMatchObject({
        code: 'PRUNE_VIEW_STALE',
        message: expect.stringContaining('behind the cluster') as unknown,
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
    } finally {
      await view.stop();
    }
  }, 60_000);

  it("a kind idle for longer than the server's history is re-listed, and the catch-up goes through", async () => {
    const view = new LiveView(pruner, { protectAnnotation: 'example.com/keep', behindMs: 5_000 });
    await view.start();
    try {
      // Only another kind changes, then the history is compacted: a short watch from where the view's
      // streams are answers 410, and their watch has nothing to deliver.
      await admin.create(Resources.configMap, { metadata: { name: 'lv-idle', namespace: 'live' }, data: {} });
      cluster.compact();
      await view.catchUp('streams');
      const before = view.size.streams;
      await createStream(admin, 'live', 'lv-after-idle', {});
      await view.catchUp('streams');
      expect(view.size.streams).toBe(before + 1);
    } finally {
      await view.stop();
    }
  }, 60_000);

  it('a stopped view refuses to decide anything', async () => {
    const view = await startedView();
    await view.stop();
    expect(await failure(view.catchUp())).toMatchObject({ code: 'PRUNE_VIEW_STALE' });
  });

  it('a view without the right to watch fails at start, with the API error', async () => {
    const user = await cluster.addUser({ name: 'no-watch', roles: [{ role: 'view', namespace: 'live' }] });
    const view = new LiveView(ClusterClient.fromOptions({ kubeconfig: user.kubeconfig }), {
      protectAnnotation: 'example.com/keep',
    });
    expect(await failure(view.start())).toMatchObject({ code: 'FORBIDDEN' });
  });
});
