// Calls to the API server share kept-alive connections: a TCP proxy in front of the simulator's API server
// counts the connections a client opens for many reads, lists and writes one after the other, and shows
// that each watch still has a socket of its own and that closing the client closes them all.
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterClient } from '../../src/cluster/client.js';
import { Resources } from '../../src/cluster/resources.js';

let cluster: RunningCluster;

beforeAll(async () => {
  cluster = await startCluster({ routerMode: 'port' });
}, 120_000);

afterAll(async () => {
  await cluster.stop();
});

interface CountingProxy {
  url: string;
  /** Connections accepted so far. */
  accepted: () => number;
  /** Connections open now. */
  open: () => number;
  close: () => Promise<void>;
}

async function countingProxy(target: URL): Promise<CountingProxy> {
  let accepted = 0;
  const open = new Set<Socket>();
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    accepted++;
    open.add(client);
    const upstream = connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => socket.destroy());
    }
    client.on('close', () => {
      open.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    accepted: () => accepted,
    open: () => open.size,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('connections to the API server', () => {
  it('are kept alive across calls, a watch has its own, and closing the client closes them', async () => {
    const proxy = await countingProxy(new URL(cluster.apiServer));
    const client = ClusterClient.fromOptions({
      server: proxy.url,
      token: cluster.users.kubeadmin!.token,
      caPem: cluster.apiCaPem,
    });
    try {
      // client-node's calls (reads, a write) and the raw lists, one after the other: the connections of the
      // first few calls carry all the others (a new agent per call opened one per call).
      const call = async (): Promise<void> => {
        await client.get(Resources.namespace, 'default');
        await client.currentVersion(Resources.imageStream);
      };
      for (let i = 0; i < 3; i++) await call();
      const warm = proxy.accepted();
      expect(warm).toBeLessThanOrEqual(4);
      for (let i = 0; i < 40; i++) await call();
      await client.create(Resources.configMap, { metadata: { name: 'kept-alive', namespace: 'default' } });
      expect(proxy.accepted()).toBe(warm);

      const before = proxy.accepted();
      const watch = await client.watch(Resources.configMap, { namespace: 'default', timeoutSeconds: 5 });
      expect(proxy.accepted()).toBe(before + 1);
      watch.close();
      // The pooled connections were not taken by the watch, nor closed by its end.
      await client.get(Resources.namespace, 'default');
      await client.currentVersion(Resources.imageStream);
      expect(proxy.accepted()).toBe(before + 1);

      await client.close();
      await until(() => proxy.open() === 0, 'every connection is closed');
    } finally {
      await client.close();
      await proxy.close();
    }
  });
});
