// Further CustomResourceDefinitions given at start: served like the built-in kinds (discovery, schema,
// status subresource, RBAC), and a manifest that is not a CRD stops the start with its reason.
import { customResourceDefinition, operatorCrds } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RunningCluster } from '../src/index.js';
import { raw } from './helpers.js';

let cluster: RunningCluster;

beforeAll(async () => {
  cluster = await startCluster({
    routerMode: 'port',
    namespaces: ['ci'],
    customResourceDefinitions: [
      ...operatorCrds('tekton'),
      customResourceDefinition({
        group: 'example.com',
        version: 'v2',
        kind: 'Widget',
        plural: 'widgets',
        scope: 'Cluster',
      }),
    ],
  });
});

afterAll(async () => {
  await cluster?.stop();
});

describe('customResourceDefinitions', () => {
  it('are in discovery and served with their scope, keeping every field; status only through its subresource', async () => {
    const resources = (await raw(cluster, 'GET', '/apis/tekton.dev/v1')).json['resources'] as {
      name: string;
    }[];
    expect(resources.map((r) => r.name)).toEqual(
      expect.arrayContaining(['taskruns', 'taskruns/status', 'pipelineruns']),
    );
    const path = '/apis/tekton.dev/v1/namespaces/ci/taskruns';
    const body = {
      apiVersion: 'tekton.dev/v1',
      kind: 'TaskRun',
      metadata: { name: 'run-1' },
      spec: { taskSpec: { steps: [{ name: 's', image: 'ci/app:v1' }] } },
      status: { steps: [{ imageID: 'ci/app@sha256:x' }] },
    };
    const created = await raw(cluster, 'POST', path, { body });
    expect(created.status).toBe(201);
    expect(created.json['spec']).toEqual(body.spec);
    expect(created.json['status']).toBeUndefined();
    expect((await raw(cluster, 'GET', path, { user: 'viewer' })).status).toBe(403);
    const clusterScoped = await raw(cluster, 'POST', '/apis/example.com/v2/widgets', {
      body: { apiVersion: 'example.com/v2', kind: 'Widget', metadata: { name: 'w' }, spec: { any: 1 } },
    });
    expect(clusterScoped.status).toBe(201);
  });

  it('refuse to start with a manifest that is not a CRD', async () => {
    await expect(
      startCluster({
        routerMode: 'port',
        customResourceDefinitions: ['{"apiVersion":"v1","kind":"ConfigMap"}'],
      }),
    ).rejects.toThrow(/not an apiextensions.k8s.io\/v1 CustomResourceDefinition/);
  });
});
