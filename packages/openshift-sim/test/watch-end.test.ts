// A watch that ends (its timeoutSeconds) while its client is slow to read still has data queued; until the
// queue drains the response is not closed, and store changes kept reaching it: a write after end, an
// unhandled error that stopped the whole simulator (seen under a 100k-image prune, whose live view opens
// short watches while Images are deleted). Here a client that never reads, many changes, and changes after
// the timeout: the simulator must keep serving.
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RunningCluster } from '../src/index.js';
import { raw } from './helpers.js';

let cluster: RunningCluster;

beforeAll(async () => {
  cluster = await startCluster({ namespaces: ['slow'] });
}, 120_000);

afterAll(async () => {
  await cluster.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('a watch whose client does not read', () => {
  it('ends on its timeout without taking the simulator down as changes keep coming', async () => {
    const api = new URL(cluster.apiServer);
    const socket = connect({
      host: api.hostname,
      port: Number(api.port),
      ca: cluster.apiCaPem,
      servername: 'localhost',
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    socket.on('error', () => undefined);
    socket.write(
      [
        'GET /api/v1/namespaces/slow/configmaps?watch=true&timeoutSeconds=1&allowWatchBookmarks=true HTTP/1.1',
        `Host: ${api.host}`,
        `Authorization: Bearer ${cluster.users['kubeadmin']!.token}`,
        'Accept: application/json',
        '',
        '',
      ].join('\r\n'),
    );
    // Never read: the server's queue for this watch grows with every change.
    socket.pause();
    const big = 'x'.repeat(64 * 1024);
    const deadline = Date.now() + 2_500;
    let i = 0;
    while (Date.now() < deadline) {
      const name = `cm-${i++}`;
      const created = await raw(cluster, 'POST', '/api/v1/namespaces/slow/configmaps', {
        body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { big } },
      });
      expect(created.status).toBe(201);
      await raw(cluster, 'DELETE', `/api/v1/namespaces/slow/configmaps/${name}`);
    }
    await sleep(200);
    // Still serving.
    expect((await raw(cluster, 'GET', '/api/v1/namespaces/slow/configmaps')).status).toBe(200);
    socket.destroy();
  });
});
