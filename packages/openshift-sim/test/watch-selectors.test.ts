// A watch with a field selector resumed from a resourceVersion, as kube-apiserver 1.26's watch cache judges
// each change by the object's previous version: ADDED when it starts matching (the watch never saw it), and
// DELETED with its previous content, at the change's resourceVersion, when it stops.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RunningCluster } from '../src/index.js';
import { raw } from './helpers.js';

let cluster: RunningCluster;

beforeAll(async () => {
  cluster = await startCluster({ namespaces: ['watched'] });
}, 120_000);

afterAll(async () => {
  await cluster.stop();
});

describe('a watch with a field selector, resumed from a resourceVersion', () => {
  it('sees a pod that starts matching as ADDED and one that stops as DELETED with its previous content', async () => {
    const pods = '/api/v1/namespaces/watched/pods';
    const created = await raw(cluster, 'POST', pods, {
      body: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'p' },
        spec: { containers: [{ name: 'c', image: 'quay.io/x/y:1' }] },
      },
    });
    expect(created.status).toBe(201);
    const from = (created.json['metadata'] as { resourceVersion: string }).resourceVersion;
    const phase = async (value: string): Promise<string> => {
      const patched = await raw(cluster, 'PATCH', `${pods}/p/status`, {
        body: { status: { phase: value } },
        contentType: 'application/merge-patch+json',
      });
      expect(patched.status).toBe(200);
      return (patched.json['metadata'] as { resourceVersion: string }).resourceVersion;
    };
    await phase('Running');
    const stopped = await phase('Succeeded');
    const watched = await raw(
      cluster,
      'GET',
      `${pods}?watch=true&fieldSelector=status.phase%3DRunning&resourceVersion=${from}&timeoutSeconds=1`,
    );
    const text = String((watched.json as { text?: string }).text ?? watched.body.toString('utf8'));
    const events = text
      .split('\n')
      .filter((line) => line !== '')
      .map(
        (line) =>
          JSON.parse(line) as {
            type: string;
            object: { status?: { phase?: string }; metadata: { resourceVersion: string } };
          },
      )
      .map((event) => [event.type, event.object.status?.phase, event.object.metadata.resourceVersion]);
    expect(events).toEqual([
      ['ADDED', 'Running', expect.any(String)],
      ['DELETED', 'Running', stopped],
    ]);
  });
});
