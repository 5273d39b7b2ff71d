import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterClient, type KubeObject } from '../../src/cluster/client.js';
import type { InformerEvent } from '../../src/cluster/informer.js';
import { Resources } from '../../src/cluster/resources.js';

let cluster: RunningCluster;

beforeAll(async () => {
  cluster = await startCluster({ routerMode: 'port' });
}, 120_000);

afterAll(async () => {
  await cluster.stop();
});

function admin(server?: string): ClusterClient {
  return ClusterClient.fromOptions({
    server: server ?? cluster.apiServer,
    token: cluster.users.kubeadmin!.token,
    caPem: cluster.apiCaPem,
  });
}

async function makeNamespace(name: string): Promise<void> {
  await admin().create(Resources.namespace, { metadata: { name } });
}

/** Waits until `check` holds, polling; generous for a loaded machine. */
async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A loopback TCP proxy whose connections the test can cut, as a dropped network path would. */
interface CuttableProxy {
  url: string;
  /** Destroys every open connection; while `refusing`, new ones are destroyed at once too. */
  cut: (refusing: boolean) => void;
  /** Open client connections. */
  open: () => number;
  close: () => Promise<void>;
}

async function cuttableProxy(target: URL): Promise<CuttableProxy> {
  const sockets = new Set<Socket>();
  const clients = new Set<Socket>();
  let refusing = false;
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server: Server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    clients.add(client);
    client.on('close', () => clients.delete(client));
    const upstream = connect(Number(target.port), target.hostname);
    track(client);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    cut: (refuse) => {
      refusing = refuse;
      if (refuse) for (const socket of sockets) socket.destroy();
    },
    open: () => clients.size,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function names(client: ClusterClient, namespace: string): Promise<string[]> {
  return client
    .list(Resources.configMap, { namespace, labelSelector: 'test=informer' })
    .then((items) => items.map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`).sort());
}

const labelled = (name: string, namespace: string, data: Record<string, string> = {}): KubeObject =>
  ({ metadata: { name, namespace, labels: { test: 'informer' } }, data }) as KubeObject;

const summary = (event: InformerEvent): string =>
  `${event.type} ${event.object.metadata.name}${event.synthetic ? ' (synthetic)' : ''}`;

describe('informer', () => {
  it('lists, then watches: ADDED, MODIFIED and DELETED in order, with the store following', async () => {
    await makeNamespace('inf-order');
    await admin().create(Resources.configMap, labelled('before', 'inf-order'));
    const events: string[] = [];
    const informer = admin()
      .informer<KubeObject>(Resources.configMap, {
        namespace: 'inf-order',
        labelSelector: 'test=informer',
        onEvent: (event) => {
          events.push(summary(event));
        },
      })
      .start();
    await informer.waitForSync();
    expect(informer.hasSynced).toBe(true);
    const client = admin();
    await client.create(Resources.configMap, labelled('a', 'inf-order'));
    await client.mergePatch(Resources.configMap, 'a', { data: { k: 'v' } }, 'inf-order');
    await client.delete(Resources.configMap, 'a', 'inf-order');
    await until(() => events.length >= 4, 'four events');
    await informer.stop();
    expect(events).toEqual(['ADDED before (synthetic)', 'ADDED a', 'MODIFIED a', 'DELETED a']);
    expect(informer.list().map((o) => o.metadata.name)).toEqual(['before']);
  });

  it('resumes a dropped watch from the last resourceVersion, losing and repeating nothing', async () => {
    await makeNamespace('inf-drop');
    const proxy = await cuttableProxy(new URL(cluster.apiServer));
    const client = admin();
    const events: string[] = [];
    const informer = admin(proxy.url)
      .informer<KubeObject>(Resources.configMap, {
        namespace: 'inf-drop',
        labelSelector: 'test=informer',
        backoffMs: { initial: 50, max: 500 },
        onEvent: (event) => {
          events.push(summary(event));
        },
      })
      .start();
    try {
      await informer.waitForSync();
      await client.create(Resources.configMap, labelled('a', 'inf-drop'));
      await until(() => events.includes('ADDED a'), 'ADDED a');
      proxy.cut(true);
      await until(() => proxy.open() === 0, 'the cut');
      // Changes while the informer cannot reach the server.
      await client.create(Resources.configMap, labelled('b', 'inf-drop'));
      await client.mergePatch(Resources.configMap, 'a', { data: { k: 'v' } }, 'inf-drop');
      proxy.cut(false);
      await until(() => events.length >= 3, 'the missed events');
      await client.delete(Resources.configMap, 'b', 'inf-drop');
      await until(() => events.length >= 4, 'a later event');
      expect(events).toEqual(['ADDED a', 'ADDED b', 'MODIFIED a', 'DELETED b']);
      const store = informer.list().map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`);
      expect(store.sort()).toEqual(await names(client, 'inf-drop'));
    } finally {
      await informer.stop();
      await proxy.close();
    }
  });

  it.each(['objects', 'versions'] as const)(
    're-lists on a 410 inside the stream and hands on the difference as synthetic events (keeping %s)',
    async (keep) => {
      const namespace = `inf-gone-${keep}`;
      await makeNamespace(namespace);
      const client = admin();
      for (const name of ['x', 'y']) await client.create(Resources.configMap, labelled(name, namespace));
      const proxy = await cuttableProxy(new URL(cluster.apiServer));
      const events: string[] = [];
      const errors: string[] = [];
      const deleted: KubeObject[] = [];
      const informer = admin(proxy.url)
        .informer<KubeObject>(Resources.configMap, {
          namespace,
          labelSelector: 'test=informer',
          backoffMs: { initial: 50, max: 500 },
          keep,
          onEvent: (event) => {
            events.push(summary(event));
            if (event.type === 'DELETED') deleted.push(event.object);
          },
          onError: (error) => errors.push(error.code),
        })
        .start();
      try {
        await informer.waitForSync();
        expect(events.sort()).toEqual(['ADDED x (synthetic)', 'ADDED y (synthetic)']);
        events.length = 0;
        proxy.cut(true);
        await until(() => proxy.open() === 0, 'the cut');
        const removed = await client.get(Resources.configMap, 'x', namespace);
        await client.delete(Resources.configMap, 'x', namespace);
        await client.mergePatch(Resources.configMap, 'y', { data: { k: 'v' } }, namespace);
        await client.create(Resources.configMap, labelled('z', namespace));
        // The history the informer would resume from is gone: the sim answers with an ERROR event 410.
        cluster.compact();
        proxy.cut(false);
        await until(() => events.length >= 3, 'the re-list difference');
        expect(errors).toContain('GONE');
        expect(events.sort()).toEqual([
          'ADDED z (synthetic)',
          'DELETED x (synthetic)',
          'MODIFIED y (synthetic)',
        ]);
        if (keep === 'objects') {
          const store = informer.list().map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`);
          expect(store.sort()).toEqual(await names(client, namespace));
          // The whole object as it was last seen.
          expect(deleted[0]).toMatchObject({
            metadata: { namespace, name: 'x', resourceVersion: removed.metadata.resourceVersion },
            data: {},
          });
        } else {
          // Only the key and version were kept: that is what the made-up DELETED event carries.
          expect(() => informer.list()).toThrow(/keeps only resourceVersions/);
          expect(deleted[0]).toEqual({
            metadata: { namespace, name: 'x', resourceVersion: removed.metadata.resourceVersion },
          });
        }
        // And it watches again after the re-list.
        await client.delete(Resources.configMap, 'z', namespace);
        await until(() => events.includes('DELETED z'), 'DELETED z after the re-list');
      } finally {
        await informer.stop();
        await proxy.close();
      }
    },
  );

  it('moves its resourceVersion on with bookmarks, without events, and reports each move', async () => {
    await makeNamespace('inf-bm');
    const client = admin();
    const events: string[] = [];
    const progress: string[] = [];
    const informer = client
      .informer<KubeObject>(Resources.configMap, {
        namespace: 'inf-bm',
        labelSelector: 'test=informer',
        timeoutSeconds: 1,
        onEvent: (event) => {
          events.push(summary(event));
        },
        onProgress: (version) => progress.push(version),
      })
      .start();
    try {
      await informer.waitForSync();
      const elsewhere = await client.create(Resources.configMap, labelled('elsewhere', 'default'));
      const target = Number(elsewhere.metadata.resourceVersion);
      expect(Number(informer.resourceVersion)).toBeLessThan(target);
      await until(() => Number(informer.resourceVersion) >= target, 'a bookmark past the other write');
      expect(events).toEqual([]);
      // The list's version, then the bookmark's: a waiter for the other write is told without polling.
      expect(progress.at(-1)).toBe(informer.resourceVersion);
      expect(progress.length).toBeGreaterThanOrEqual(2);
    } finally {
      await informer.stop();
    }
  });

  it('refresh: an idle informer whose history is gone re-lists and is current again', async () => {
    await makeNamespace('inf-refresh');
    const client = admin();
    const errors: string[] = [];
    const informer = client
      .informer<KubeObject>(Resources.configMap, {
        namespace: 'inf-refresh',
        labelSelector: 'test=informer',
        // No bookmark at a watch's end comes to its rescue within the test.
        timeoutSeconds: 600,
        onError: (error) => errors.push(error.code),
        onProgress: (version) => progress.push(version),
      })
      .start();
    const progress: string[] = [];
    try {
      await informer.waitForSync();
      const idle = informer.resourceVersion;
      // Other kinds change and the history is compacted: nothing this informer watches moved.
      const elsewhere = await client.create(Resources.configMap, labelled('refresh-elsewhere', 'default'));
      cluster.compact();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(informer.resourceVersion).toBe(idle);
      informer.refresh();
      await until(
        () => Number(informer.resourceVersion) >= Number(elsewhere.metadata.resourceVersion),
        'a re-list after refresh',
      );
      expect(errors).toContain('GONE');
      expect(progress.at(-1)).toBe(informer.resourceVersion);
    } finally {
      await informer.stop();
    }
  });

  it('leaves no socket and no timer behind after stop, even mid back-off', async () => {
    await makeNamespace('inf-stop');
    const proxy = await cuttableProxy(new URL(cluster.apiServer));
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const informer = admin(proxy.url)
      .informer<KubeObject>(Resources.configMap, {
        namespace: 'inf-stop',
        backoffMs: { initial: 600_000, max: 600_000 },
      })
      .start();
    try {
      await informer.waitForSync();
      await until(() => proxy.open() === 1, 'the watch connection');
      await informer.stop();
      await until(() => proxy.open() === 0, 'the watch connection to close');
      // Now mid back-off: a cut watch whose reconnect is refused waits 10 minutes unless stop ends it.
      const second = admin(proxy.url)
        .informer<KubeObject>(Resources.configMap, {
          namespace: 'inf-stop',
          backoffMs: { initial: 600_000, max: 600_000 },
        })
        .start();
      await second.waitForSync();
      proxy.cut(true);
      // Settle without a polling timer of the test's own in the count; then the back-off timer is the extra one.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const during = timers();
      // Without stop cutting the back-off short this would wait 10 minutes (the test's timeout catches it).
      await second.stop();
      expect(timers()).toBeLessThan(during);
      expect(proxy.open()).toBe(0);
    } finally {
      await informer.stop();
      await proxy.close();
    }
  });

  it('stops and rejects waitForSync with a typed FORBIDDEN when the role may not list or watch', async () => {
    const developer = ClusterClient.fromOptions({ kubeconfig: cluster.users.developer!.kubeconfig });
    const errors: string[] = [];
    const informer = developer
      .informer<KubeObject>(Resources.imagePruner, { onError: (error) => errors.push(error.code) })
      .start();
    const refused = await informer.waitForSync().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toMatchObject({ code: 'FORBIDDEN' });
    expect(informer.hasSynced).toBe(false);
    expect(informer.error?.code).toBe('FORBIDDEN');
    expect(errors).toEqual(['FORBIDDEN']);
    await informer.stop();
  });
});
