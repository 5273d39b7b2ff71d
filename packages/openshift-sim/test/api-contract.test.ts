// What @kubernetes/client-node sees: every served kind through the generic object API, and every error
// status the API server answers, with kube's Status bodies.
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RunningCluster } from '../src/index.js';
import { isBuiltin, sampleObjects } from './fixtures.js';
import { failure, kubeConfigFor, raw } from './helpers.js';

const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

let cluster: RunningCluster;
beforeAll(async () => {
  cluster = await startCluster({ namespaces: ['contract'] });
});
afterAll(async () => {
  await cluster.stop();
});

describe('every resource through client-node', () => {
  it.each(sampleObjects('contract').map((o) => [`${o.apiVersion}/${o.kind}`, o] as const))(
    '%s: create, read, list, merge/json(/strategic) patch, delete',
    async (_label, sample) => {
      const api = KubernetesObjectApi.makeApiClient(kubeConfigFor(cluster));
      const created = await api.create(sample);
      expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
      expect(Number(created.metadata?.resourceVersion)).toBeGreaterThan(0);
      const ref = referenceTo(sample);
      const read = await api.read(ref);
      expect(read.metadata?.uid).toBe(created.metadata?.uid);

      const list = await api.list(sample.apiVersion ?? '', sample.kind ?? '', sample.metadata?.namespace);
      expect(list.items.map((i: KubernetesObject) => i.metadata?.name)).toContain(sample.metadata?.name);

      const merged: KubernetesObject = await api.patch(
        { ...ref, metadata: { ...ref.metadata, labels: { patched: 'merge' } } },
        undefined,
        undefined,
        undefined,
        undefined,
        PatchStrategy.MergePatch,
      );
      expect(merged.metadata?.labels).toEqual({ patched: 'merge' });
      expect(Number(merged.metadata?.resourceVersion)).toBeGreaterThan(
        Number(created.metadata?.resourceVersion),
      );

      const patchedJson = await raw(cluster, 'PATCH', selfPath(sample), {
        body: [{ op: 'add', path: '/metadata/annotations', value: { via: 'json-patch' } }],
        contentType: 'application/json-patch+json',
      });
      expect(patchedJson.status).toBe(200);
      expect((patchedJson.json['metadata'] as { annotations: unknown }).annotations).toEqual({
        via: 'json-patch',
      });

      const strategic = await raw(cluster, 'PATCH', selfPath(sample), {
        body: { metadata: { labels: { patched: 'strategic' } } },
        contentType: 'application/strategic-merge-patch+json',
      });
      expect(strategic.status).toBe(isBuiltin(sample.apiVersion ?? '') ? 200 : 415);

      await api.delete(ref);
      expect((await failure(api.read(ref))).code).toBe(404);
    },
  );
});

/** What client-node needs to address an object again: its kind and name (and namespace). */
function referenceTo(sample: KubernetesObject): KubernetesObject & { metadata: { name: string } } {
  return {
    apiVersion: sample.apiVersion ?? '',
    kind: sample.kind ?? '',
    metadata: {
      name: sample.metadata?.name ?? '',
      ...(sample.metadata?.namespace ? { namespace: sample.metadata.namespace } : {}),
    },
  };
}

/** The object's URL path, built the way kube lays paths out. */
function selfPath(o: KubernetesObject): string {
  const apiVersion = o.apiVersion ?? '';
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const plural = pluralOf(o.kind ?? '', apiVersion);
  const ns = o.metadata?.namespace ? `/namespaces/${o.metadata.namespace}` : '';
  return `${base}${ns}/${plural}/${encodeURIComponent(o.metadata?.name ?? '')}`;
}

function pluralOf(kind: string, apiVersion: string): string {
  const special: Record<string, string> = {
    'config.openshift.io/v1/Image': 'images',
    'config.openshift.io/v1/Ingress': 'ingresses',
    'v1/LimitRange': 'limitranges',
    'imageregistry.operator.openshift.io/v1/Config': 'configs',
  };
  return special[`${apiVersion}/${kind}`] ?? `${kind.toLowerCase()}s`;
}

describe('kube semantics', () => {
  it('answers 409 AlreadyExists and 409 Conflict on a stale resourceVersion', async () => {
    const core = kubeConfigFor(cluster).makeApiClient(CoreV1Api);
    const body = { metadata: { name: 'dup' }, data: { a: '1' } };
    const first = await core.createNamespacedConfigMap({ namespace: 'contract', body });
    const again = await failure(core.createNamespacedConfigMap({ namespace: 'contract', body }));
    expect(again.code).toBe(409);
    expect(again.status).toMatchObject({
      kind: 'Status',
      reason: 'AlreadyExists',
      message: 'configmaps "dup" already exists',
    });
    await core.replaceNamespacedConfigMap({
      namespace: 'contract',
      name: 'dup',
      body: { ...first, data: { a: '2' } },
    });
    const stale = await failure(
      core.replaceNamespacedConfigMap({
        namespace: 'contract',
        name: 'dup',
        body: { ...first, data: { a: '3' } },
      }),
    );
    expect(stale.code).toBe(409);
    expect(stale.status['reason']).toBe('Conflict');
    expect(stale.status['message']).toContain('the object has been modified');
  });

  it('answers 404 with details for a missing object and for a missing namespace', async () => {
    const core = kubeConfigFor(cluster).makeApiClient(CoreV1Api);
    const missing = await failure(core.readNamespacedSecret({ namespace: 'contract', name: 'nope' }));
    expect(missing).toMatchObject({
      code: 404,
      status: { reason: 'NotFound', details: { name: 'nope', kind: 'secrets' } },
    });
    const noNamespace = await failure(
      core.createNamespacedConfigMap({ namespace: 'ghost', body: { metadata: { name: 'x' } } }),
    );
    expect(noNamespace.status['message']).toBe('namespaces "ghost" not found');
  });

  it('pages lists with limit/continue and expires a continue token after compaction (410)', async () => {
    const core = kubeConfigFor(cluster).makeApiClient(CoreV1Api);
    for (let i = 0; i < 5; i++) {
      await core.createNamespacedConfigMap({
        namespace: 'contract',
        body: { metadata: { name: `page-${i}`, labels: { paging: 'yes' } } },
      });
    }
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await core.listNamespacedConfigMap({
        namespace: 'contract',
        labelSelector: 'paging=yes',
        limit: 2,
        ...(token ? { _continue: token } : {}),
      });
      names.push(...page.items.map((i) => i.metadata?.name ?? ''));
      token = page.metadata?._continue;
      if (token) expect(page.items).toHaveLength(2);
    } while (token);
    expect(names).toEqual(['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);

    const first = await core.listNamespacedConfigMap({
      namespace: 'contract',
      labelSelector: 'paging=yes',
      limit: 2,
    });
    cluster.compact();
    const expired = await failure(
      core.listNamespacedConfigMap({
        namespace: 'contract',
        limit: 2,
        _continue: first.metadata?._continue ?? '',
      }),
    );
    expect(expired).toMatchObject({ code: 410, status: { reason: 'Expired' } });
  });

  it('pages one namespace without its neighbours and counts what is left, as kube does', async () => {
    const core = kubeConfigFor(cluster).makeApiClient(CoreV1Api);
    // Names chosen so that neighbouring keys sort around "pg/": "pg-a/…" before it, "pga/…" and "pg0/…" after.
    for (const namespace of ['pg', 'pg-a', 'pga', 'pg0']) {
      await core.createNamespace({ body: { metadata: { name: namespace } } });
      for (let i = 0; i < 5; i++) {
        await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: `cm-${i}` } } });
      }
    }
    const names: string[] = [];
    const remaining: (number | undefined)[] = [];
    let token: string | undefined;
    do {
      const page = await core.listNamespacedConfigMap({
        namespace: 'pg',
        limit: 2,
        ...(token ? { _continue: token } : {}),
      });
      names.push(...page.items.map((i) => `${i.metadata?.namespace}/${i.metadata?.name}`));
      remaining.push(page.metadata?.remainingItemCount);
      token = page.metadata?._continue;
    } while (token);
    // The namespace also holds the CA config maps every new project gets.
    const whole = (await core.listNamespacedConfigMap({ namespace: 'pg' })).items.map(
      (i) => `${i.metadata?.namespace}/${i.metadata?.name}`,
    );
    expect(whole).toEqual(expect.arrayContaining(['pg/cm-0', 'pg/cm-4']));
    expect(whole.every((key) => key.startsWith('pg/'))).toBe(true);
    expect(names).toEqual(whole);
    const left = Array.from(
      { length: Math.ceil(whole.length / 2) },
      (_, page) => whole.length - 2 * (page + 1),
    );
    expect(remaining).toEqual(left.map((count) => (count > 0 ? count : undefined)));

    const all: string[] = [];
    token = undefined;
    do {
      const page = await core.listConfigMapForAllNamespaces({
        limit: 3,
        ...(token ? { _continue: token } : {}),
      });
      all.push(...page.items.map((i) => `${i.metadata?.namespace}/${i.metadata?.name}`));
      token = page.metadata?._continue;
    } while (token);
    expect(all).toEqual([...all].sort());
    expect(new Set(all).size).toBe(all.length);
    for (const namespace of ['pg', 'pg-a', 'pga', 'pg0']) {
      expect(all.filter((key) => key.startsWith(`${namespace}/cm-`))).toHaveLength(5);
    }
  });

  it('filters by label and field selectors and rejects unsupported field labels', async () => {
    const core = kubeConfigFor(cluster).makeApiClient(CoreV1Api);
    const byLabel = await core.listNamespacedConfigMap({
      namespace: 'contract',
      labelSelector: 'paging in (yes),!absent',
    });
    expect(byLabel.items.length).toBeGreaterThanOrEqual(5);
    const byName = await core.listNamespacedConfigMap({
      namespace: 'contract',
      fieldSelector: 'metadata.name=page-3',
    });
    expect(byName.items.map((i) => i.metadata?.name)).toEqual(['page-3']);
    const bad = await failure(
      core.listNamespacedConfigMap({ namespace: 'contract', fieldSelector: 'spec.bogus=1' }),
    );
    expect(bad.code).toBe(400);
  });

  it('streams watch events from a resourceVersion and reports 410 for a compacted one', async () => {
    const kc = kubeConfigFor(cluster);
    const core = kc.makeApiClient(CoreV1Api);
    const start = await core.listNamespacedConfigMap({ namespace: 'contract' });
    const events: string[] = [];
    const watch = new Watch(kc);
    const done = new Promise<void>((resolve) => {
      void watch
        .watch(
          '/api/v1/namespaces/contract/configmaps',
          { resourceVersion: start.metadata?.resourceVersion ?? '' },
          (type: string, obj: KubernetesObject) => {
            events.push(`${type} ${obj.metadata?.name ?? ''}`);
            if (events.length === 2) resolve();
          },
          () => resolve(),
        )
        .then((request) => done.finally(() => request.abort()));
    });
    await core.createNamespacedConfigMap({ namespace: 'contract', body: { metadata: { name: 'watched' } } });
    await core.deleteNamespacedConfigMap({ namespace: 'contract', name: 'watched' });
    await done;
    expect(events).toEqual(['ADDED watched', 'DELETED watched']);

    cluster.compact();
    const stale = await raw(
      cluster,
      'GET',
      `/api/v1/namespaces/contract/configmaps?watch=true&resourceVersion=${start.metadata?.resourceVersion ?? ''}`,
    );
    const event = JSON.parse(stale.body.toString().trim()) as { type: string; object: { code: number } };
    expect(event.type).toBe('ERROR');
    expect(event.object.code).toBe(410);
  });

  it('patches custom resources only with merge or JSON patch (415 for strategic, 400 for a merge body as JSON patch)', async () => {
    const custom = kubeConfigFor(cluster).makeApiClient(CustomObjectsApi);
    const target = {
      group: 'imageregistry.operator.openshift.io',
      version: 'v1',
      plural: 'imagepruners',
      name: 'cluster',
    };
    const patched = (await custom.patchClusterCustomObject(
      { ...target, body: { spec: { keepTagRevisions: 5 } } },
      merge,
    )) as { spec: { keepTagRevisions: number } };
    expect(patched.spec.keepTagRevisions).toBe(5);
    const strategic = await failure(
      custom.patchClusterCustomObject(
        { ...target, body: { spec: { keepTagRevisions: 6 } } },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      ),
    );
    expect(strategic.code).toBe(415);
    const wrongShape = await failure(
      custom.patchClusterCustomObject({ ...target, body: { spec: { keepTagRevisions: 6 } } }, jsonPatch),
    );
    expect(wrongShape.code).toBe(400);
    const ops: unknown = await custom.patchClusterCustomObject(
      { ...target, body: [{ op: 'replace', path: '/spec/keepTagRevisions', value: 4 }] },
      jsonPatch,
    );
    expect((ops as { spec: { keepTagRevisions: number } }).spec.keepTagRevisions).toBe(4);
    const apply = await raw(
      cluster,
      'PATCH',
      '/apis/imageregistry.operator.openshift.io/v1/imagepruners/cluster',
      {
        body: 'spec: {}',
        contentType: 'application/apply-patch+yaml',
      },
    );
    expect(apply.status).toBe(415);
  });

  it('validates custom resources against the CRD schema: 422 with field causes', async () => {
    const custom = kubeConfigFor(cluster).makeApiClient(CustomObjectsApi);
    const result = await failure(
      custom.patchClusterCustomObject(
        {
          group: 'imageregistry.operator.openshift.io',
          version: 'v1',
          plural: 'configs',
          name: 'cluster',
          body: { spec: { managementState: 'Sometimes' } },
        },
        merge,
      ),
    );
    expect(result.code).toBe(422);
    expect(result.status['reason']).toBe('Invalid');
    const causes = (result.status['details'] as { causes: Array<{ field: string }> }).causes;
    expect(causes.map((c) => c.field)).toContain('spec.managementState');
  });

  it('keeps status and spec apart on a resource with a status subresource', async () => {
    const apps = kubeConfigFor(cluster).makeApiClient(AppsV1Api);
    const deployment = await apps.createNamespacedDeployment({
      namespace: 'contract',
      body: {
        metadata: { name: 'split' },
        spec: {
          selector: { matchLabels: { app: 'x' } },
          template: { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'a', image: 'a' }] } },
        },
        status: { replicas: 9 },
      },
    });
    expect(deployment.metadata?.generation).toBe(1);
    const withStatus = await apps.replaceNamespacedDeploymentStatus({
      namespace: 'contract',
      name: 'split',
      body: { ...deployment, status: { replicas: 2 }, spec: { ...deployment.spec!, replicas: 5 } },
    });
    expect(withStatus.status?.replicas).toBe(2);
    expect(withStatus.spec?.replicas).toBeUndefined();
    expect(withStatus.metadata?.generation).toBe(1);
    const withSpec = await apps.replaceNamespacedDeployment({
      namespace: 'contract',
      name: 'split',
      body: { ...withStatus, spec: { ...withStatus.spec!, replicas: 3 }, status: { replicas: 7 } },
    });
    expect(withSpec.status?.replicas).toBe(2);
    expect(withSpec.metadata?.generation).toBe(2);
  });

  it('rejects invalid names and built-in objects missing required fields with 422', async () => {
    const core = kubeConfigFor(cluster).makeApiClient(CoreV1Api);
    const badName = await failure(
      core.createNamespacedConfigMap({ namespace: 'contract', body: { metadata: { name: 'Bad_Name' } } }),
    );
    expect(badName.code).toBe(422);
    const noContainers = await failure(
      core.createNamespacedPod({
        namespace: 'contract',
        body: { metadata: { name: 'empty' }, spec: { containers: [] } },
      }),
    );
    expect(noContainers.code).toBe(422);
    expect(JSON.stringify(noContainers.status)).toContain('spec.containers');
  });

  it('answers 405 for a verb a resource does not have, 401 for an unknown token', async () => {
    const put = await raw(
      cluster,
      'PUT',
      '/apis/image.openshift.io/v1/namespaces/contract/imagestreamtags/a:b',
      { body: {} },
    );
    expect(put.status).toBe(405);
    const unknown = await raw(cluster, 'GET', '/api/v1/namespaces', { token: 'sha256~not-a-token' });
    expect(unknown.status).toBe(401);
    expect(unknown.json).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
  });
});

describe('review fixes', () => {
  it('treats a write that only restates defaults or sends pruned fields as a no-op', async () => {
    const custom = kubeConfigFor(cluster).makeApiClient(CustomObjectsApi);
    const target = {
      group: 'imageregistry.operator.openshift.io',
      version: 'v1',
      plural: 'imagepruners',
      name: 'cluster',
    };
    const before = (await custom.getClusterCustomObject(target)) as {
      metadata: { generation: number; resourceVersion: string };
    };
    const after = (await custom.patchClusterCustomObject(
      { ...target, body: { spec: { bogusField: 1, logLevel: 'Normal' } } },
      merge,
    )) as {
      metadata: { generation: number; resourceVersion: string };
    };
    expect(after.metadata.generation).toBe(before.metadata.generation);
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  });

  it('keeps metadata.generation to the kinds that have one', async () => {
    const core = kubeConfigFor(cluster).makeApiClient(CoreV1Api);
    const cm = await core.createNamespacedConfigMap({
      namespace: 'contract',
      body: { metadata: { name: 'no-generation' } },
    });
    expect(cm.metadata?.generation).toBeUndefined();
  });

  it('answers 405 to writes on the all-namespaces path and honours dryRun in deletecollection', async () => {
    const wipe = await raw(cluster, 'DELETE', '/api/v1/configmaps');
    expect(wipe.status).toBe(405);
    const dry = await raw(cluster, 'DELETE', '/api/v1/namespaces/contract/configmaps?dryRun=All');
    expect(dry.status).toBe(200);
    const core = kubeConfigFor(cluster).makeApiClient(CoreV1Api);
    expect((await core.listNamespacedConfigMap({ namespace: 'contract' })).items.length).toBeGreaterThan(0);
  });

  it('refuses dot segments instead of resolving them to another resource', async () => {
    // Sent as is: URL parsing on the client side would already resolve the dots.
    const { request } = await import('node:https');
    const api = new URL(cluster.apiServer);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: api.hostname,
          port: api.port,
          path: '/api/v1/namespaces/contract/configmaps/%2e%2e',
          ca: cluster.apiCaPem,
          headers: { Authorization: `Bearer ${cluster.users['kubeadmin']?.token ?? ''}` },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(400);
  });

  it('does not answer anonymous users/~ or access reviews', async () => {
    expect((await raw(cluster, 'GET', '/apis/user.openshift.io/v1/users/~', { user: null })).status).toBe(
      403,
    );
    expect(
      (await raw(cluster, 'GET', '/apis/user.openshift.io/v1/users/kubeadmin', { user: 'developer' })).status,
    ).toBe(403);
  });

  it('ends a timed-out watch with a BOOKMARK at the current revision when bookmarks are allowed', async () => {
    const core = kubeConfigFor(cluster).makeApiClient(CoreV1Api);
    const first = await core.createNamespacedConfigMap({
      namespace: 'contract',
      body: { metadata: { name: 'bm-a' } },
    });
    // A write elsewhere moves the revision past the last event this watch sees.
    await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'bm-elsewhere' } },
    });
    const rv = Number(first.metadata?.resourceVersion);
    const response = await raw(
      cluster,
      'GET',
      `/api/v1/namespaces/contract/configmaps?watch=true&timeoutSeconds=1&allowWatchBookmarks=true&resourceVersion=${rv}`,
    );
    const events = response.body
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; object: { metadata: { resourceVersion: string } } });
    const last = events.at(-1);
    expect(last?.type).toBe('BOOKMARK');
    expect(Number(last?.object.metadata.resourceVersion)).toBeGreaterThan(rv);
    const plain = await raw(
      cluster,
      'GET',
      `/api/v1/namespaces/contract/configmaps?watch=true&timeoutSeconds=1&resourceVersion=${rv}`,
    );
    expect(plain.body.toString()).not.toContain('BOOKMARK');
  });

  it('limits a named watch to its object and reports objects leaving a label selector as DELETED', async () => {
    const core = kubeConfigFor(cluster).makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({
      namespace: 'contract',
      body: { metadata: { name: 'w-a', labels: { watched: 'yes' } } },
    });
    await core.createNamespacedConfigMap({
      namespace: 'contract',
      body: { metadata: { name: 'w-b', labels: { watched: 'yes' } } },
    });
    const start =
      (await core.listNamespacedConfigMap({ namespace: 'contract' })).metadata?.resourceVersion ?? '';
    await core.patchNamespacedConfigMap(
      { namespace: 'contract', name: 'w-a', body: { metadata: { labels: { watched: 'no' } } } },
      merge,
    );
    const named = await raw(
      cluster,
      'GET',
      `/api/v1/namespaces/contract/configmaps/w-b?watch=true&timeoutSeconds=1&resourceVersion=0`,
    );
    const namedEvents = named.body
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { object: { metadata: { name: string } } });
    expect(namedEvents.map((e) => e.object.metadata.name)).toEqual(['w-b']);
    const selected = await raw(
      cluster,
      'GET',
      `/api/v1/namespaces/contract/configmaps?watch=true&timeoutSeconds=1&labelSelector=watched%3Dyes&resourceVersion=0`,
    );
    expect(
      selected.body
        .toString()
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { object: { metadata: { name: string } } }).object.metadata.name),
    ).toEqual(['w-b']);
    void start;
  });
});
