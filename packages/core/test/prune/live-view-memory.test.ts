// The live view and its informers on the cluster port's in-memory implementation: what the view decides on
// does not depend on the real client. A catch-up sees every change made before it (through the watches, or
// a short watch of its own on a quiet kind), a history compacted under an idle kind is re-listed, and an
// informer re-lists on a 410 whatever error type the port's implementation throws.
import { MemoryCluster } from '@registry-push/testkit';
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/cluster/client.js';
import { Informer, type InformerEvent } from '../../src/cluster/informer.js';
import { Resources } from '../../src/cluster/resources.js';
import { LiveView } from '../../src/prune/view.js';
import { coreError } from '../ports/core-error.js';
import { digest } from './fixtures.js';
import { createImage, createStream } from './helpers.js';

/** Waits until `check` holds, polling. */
async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('the live view on the in-memory cluster port', () => {
  it('starts from the lists and sees every change made before a catch-up', async () => {
    const cluster = new MemoryCluster({ error: coreError });
    const base = await createImage(cluster, 'mem-base', { layers: ['mem-shared'] });
    await createStream(cluster, 'live', 'first', { latest: ['mem-base'] });
    const view = new LiveView(cluster, { protectAnnotation: 'example.com/keep', probeSeconds: 1 });
    await view.start();
    try {
      expect(view.index.inHistory(base)).toBe(true);
      for (let i = 0; i < 5; i++) {
        const image = await createImage(cluster, `mem-burst-${i}`, { layers: ['mem-shared'] });
        await view.catchUp('images');
        expect(view.index.referrersOf(digest('mem-shared'))).toContain(image);
        await createStream(cluster, 'live', `burst-${i}`, { latest: [`mem-burst-${i}`] });
        await view.catchUp();
        expect(view.index.inHistory(image)).toBe(true);
        await cluster.delete(Resources.image, image);
        await view.catchUp();
        expect(view.index.image(image)).toBeUndefined();
      }
      // Only another kind changes, then the history is compacted: the streams' watch has nothing to
      // deliver, a short watch from where it is answers 410, and the view re-lists.
      await cluster.create(Resources.configMap, { metadata: { name: 'noise', namespace: 'live' } });
      cluster.compact();
      await createImage(cluster, 'mem-after');
      await view.catchUp();
      expect(view.index.image(digest('mem-after'))).toBeDefined();
    } finally {
      await view.stop();
    }
  }, 30_000);

  it('tells the progress of its first lists, kind by kind, and nothing after it has started', async () => {
    const cluster = new MemoryCluster({ error: coreError });
    for (let i = 0; i < 7; i++) await createImage(cluster, `progress-${i}`);
    for (let i = 0; i < 3; i++)
      await createStream(cluster, 'progress', `s-${i}`, { latest: [`progress-${i}`] });
    const told: { source: string; items: number; done: boolean }[] = [];
    const view = new LiveView(cluster, {
      protectAnnotation: 'example.com/keep',
      probeSeconds: 1,
      onProgress: (progress) => told.push(progress),
    });
    await view.start();
    try {
      const of = (source: string) => told.filter((progress) => progress.source === source);
      expect(of('images').map((progress) => progress.items)).toEqual([1, 2, 3, 4, 5, 6, 7, 7]);
      expect(of('images').map((progress) => progress.done)).toEqual([...Array<boolean>(7).fill(false), true]);
      expect(of('imagestreams').at(-1)).toEqual({ source: 'imagestreams', items: 3, done: true });
      const before = told.length;
      await createImage(cluster, 'progress-later');
      await view.catchUp();
      expect(view.index.image(digest('progress-later'))).toBeDefined();
      expect(told).toHaveLength(before);
    } finally {
      await view.stop();
    }
  });

  it('asks the server nothing while Images and streams both keep changing: each watch passes the target by itself', async () => {
    const cluster = new MemoryCluster({ error: coreError });
    const view = new LiveView(cluster, { protectAnnotation: 'example.com/keep', probeSeconds: 1 });
    await view.start();
    // Both kinds change steadily, as when one job deletes Images while another removes stream history: at
    // almost any moment the newest change is of one kind, so the other kind's watch is behind the target.
    let changing = true;
    const churn = (async () => {
      for (let i = 0; changing; i++) {
        // Each kind changes every 120 ms: less often than the view's settle time (25 ms), more often than a
        // kind that went quiet (250 ms).
        await createImage(cluster, `churn-${i}`);
        await new Promise((resolve) => setTimeout(resolve, 60));
        await createStream(cluster, 'churn', `s-${i % 20}`, { latest: [`churn-${i}`] });
        await new Promise((resolve) => setTimeout(resolve, 60));
      }
    })();
    try {
      for (let i = 0; i < 40; i++) {
        const image = await createImage(cluster, `decided-${i}`);
        await view.catchUp();
        expect(view.index.image(image)).toBeDefined();
      }
      // A short watch is only for a kind that stopped changing; a stall of the machine may need a few.
      expect(view.stats.catchUps).toBe(40);
      expect(view.stats.probes).toBeLessThanOrEqual(6);
    } finally {
      changing = false;
      await churn;
      await view.stop();
    }
  }, 30_000);

  it("an informer re-lists after a 410 in the port's own error type, the gap's deletions as synthetic events", async () => {
    // No error factory: the in-memory cluster's own PortError, not the core's RegistryPushError.
    const cluster = new MemoryCluster();
    await cluster.create(Resources.configMap, { metadata: { name: 'kept', namespace: 'x' } });
    await cluster.create(Resources.configMap, { metadata: { name: 'dropped', namespace: 'x' } });
    const events: InformerEvent[] = [];
    const informer = new Informer<KubeObject>(cluster, Resources.configMap, {
      pageSize: 1,
      backoffMs: { initial: 10, max: 50 },
      onEvent: (event) => {
        events.push(event);
      },
    });
    informer.start();
    await informer.waitForSync();
    try {
      expect(events.map((e) => [e.type, e.object.metadata.name, e.synthetic])).toEqual([
        ['ADDED', 'dropped', true],
        ['ADDED', 'kept', true],
      ]);
      await cluster.create(Resources.configMap, { metadata: { name: 'streamed', namespace: 'x' } });
      await until(() => events.length === 3, 'the streamed ADDED');
      expect(events[2]).toMatchObject({ type: 'ADDED', synthetic: false });
      // The informer's watch ends, and before it resumes (the in-memory calls take effect at once) an object
      // is deleted and the history compacted: its resume is answered 410, and only a re-list shows that.
      informer.refresh();
      const deleted = cluster.delete(Resources.configMap, 'dropped', 'x');
      cluster.compact();
      await deleted;
      await until(() => events.length === 4, 'the re-list');
      expect(events[3]).toMatchObject({
        type: 'DELETED',
        synthetic: true,
        object: { metadata: { name: 'dropped' } },
      });
      expect(informer.error).toBeUndefined();
      expect(informer.list().map((o) => o.metadata.name)).toEqual(['kept', 'streamed']);
    } finally {
      await informer.stop();
    }
  });
});
