// Snapshot, plan and metadata-mode execution against the simulator's API, with objects created as
// kubeadmin and the run made as a user holding only system:image-pruner.
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterClient, type KubeObject } from '../../src/cluster/client.js';
import { Resources } from '../../src/cluster/resources.js';
import { pruneClusterOf, type PruneCluster } from '../../src/prune/cluster-port.js';
import { executePlan } from '../../src/prune/execute.js';
import type { ImageStreamObject } from '../../src/prune/image-objects.js';
import { planPrune } from '../../src/prune/plan.js';
import { resolvePrunePolicy, type PrunePolicyInput } from '../../src/prune/policy.js';
import type { PruneRegistry } from '../../src/prune/registry-port.js';
import { formatPlan, formatRunResult } from '../../src/prune/report.js';
import { takeSnapshot } from '../../src/prune/snapshot.js';
import { digest } from './fixtures.js';
import { INTERNAL, createImage, createPod, createStream, historyOf } from './helpers.js';
import { failure } from '../failure.js';

let cluster: RunningCluster;
let admin: ClusterClient;
let pruner: ClusterClient;

beforeAll(async () => {
  cluster = await startCluster({
    routerMode: 'port',
    namespaces: ['apps', 'broken', 'meta', 'race', 'patch', 'patch2'],
  });
  admin = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
  const user = await cluster.addUser({ name: 'pruner', roles: [{ role: 'system:image-pruner' }] });
  pruner = ClusterClient.fromOptions({ kubeconfig: user.kubeconfig });
});

afterAll(async () => {
  await cluster.stop();
});

async function planFor(input: PrunePolicyInput, namespace?: string) {
  const { policy } = resolvePrunePolicy({ keepYoungerThan: '0s', ...input });
  const snapshot = await takeSnapshot(pruner, {
    ...policy,
    ...(namespace !== undefined ? { namespace } : {}),
  });
  return { snapshot, plan: planPrune(snapshot, policy, { mode: 'metadata', now: new Date() }) };
}

describe('the snapshot', () => {
  it('reads every source of image references, with the referrer of each', async () => {
    const ns = 'apps';
    await createPod(admin, ns, 'web', {
      initContainers: [{ name: 'init', image: `${INTERNAL}/apps/init:v1` }],
      containers: [{ name: 'app', image: `${INTERNAL}/apps/web@${digest('pinned')}` }],
      ephemeralContainers: [{ name: 'debug', image: 'apps/debug:latest' }],
    });
    await admin.create<KubeObject>(Resources.cronJob, {
      metadata: { name: 'nightly', namespace: ns },
      spec: {
        schedule: '0 0 * * *',
        jobTemplate: {
          spec: {
            template: {
              spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'batch:nightly' }] },
            },
          },
        },
      },
    } as KubeObject);
    await admin.create<KubeObject>(Resources.build, {
      metadata: { name: 'web-1', namespace: ns },
      spec: {
        strategy: {
          type: 'Source',
          sourceStrategy: { from: { kind: 'ImageStreamTag', name: 'builder:v2' } },
        },
        source: {
          images: [
            { from: { kind: 'ImageStreamImage', name: `assets@${digest('assets')}`, namespace: 'shared' } },
          ],
        },
      },
    } as KubeObject);
    await admin.create<KubeObject>(Resources.deploymentConfig, {
      metadata: { name: 'api', namespace: ns },
      spec: {
        selector: { app: 'api' },
        template: {
          metadata: { labels: { app: 'api' } },
          spec: { containers: [{ name: 'api', image: ' ' }] },
        },
        triggers: [
          { type: 'ImageChange', imageChangeParams: { from: { kind: 'ImageStreamTag', name: 'api:prod' } } },
        ],
      },
    } as KubeObject);

    const error = await failure(takeSnapshot(pruner, { protectAnnotation: 'x/keep' }));
    expect(error.code).toBe('PRUNE_REFERENCE_INVALID');
    expect(error.message).toContain('DeploymentConfig apps/api spec.template.spec.containers[0].image');

    const snapshot = await takeSnapshot(pruner, {
      protectAnnotation: 'x/keep',
      ignoreInvalidImageReferences: true,
    });
    const uses = snapshot.uses.filter((u) => u.referrer.includes(' apps/'));
    expect(uses).toEqual(
      expect.arrayContaining([
        { referrer: 'Pod apps/web spec.initContainers[0].image', namespace: 'apps', name: 'init', tag: 'v1' },
        {
          referrer: 'Pod apps/web spec.containers[0].image',
          namespace: 'apps',
          name: 'web',
          digest: digest('pinned'),
        },
        {
          referrer: 'Pod apps/web spec.ephemeralContainers[0].image',
          namespace: 'apps',
          name: 'debug',
          tag: 'latest',
        },
        {
          referrer: 'CronJob apps/nightly spec.jobTemplate.spec.template.spec.containers[0].image',
          namespace: 'apps',
          name: 'batch',
          tag: 'nightly',
        },
        {
          referrer: 'Build apps/web-1 spec.strategy.sourceStrategy.from',
          namespace: 'apps',
          name: 'builder',
          tag: 'v2',
        },
        {
          referrer: 'Build apps/web-1 spec.source.images[0].from',
          namespace: 'shared',
          name: 'assets',
          digest: digest('assets'),
        },
        {
          referrer: 'DeploymentConfig apps/api spec.triggers[0].imageChangeParams.from',
          namespace: 'apps',
          name: 'api',
          tag: 'prod',
        },
      ]),
    );
    expect(snapshot.invalidReferences).toEqual([
      {
        referrer: 'DeploymentConfig apps/api spec.template.spec.containers[0].image',
        namespace: 'apps',
        reference: ' ',
        problem: 'contains white space',
      },
    ]);
    await admin.delete(Resources.deploymentConfig, 'api', ns);
  });

  it('reads extra sources by field path, and fails or goes on for a kind the cluster does not serve', async () => {
    await admin.create<KubeObject>(Resources.configMap, {
      metadata: { name: 'related', namespace: 'apps' },
      data: { image: `${INTERNAL}/apps/extra:v1` },
    } as KubeObject);
    const missing = { apiVersion: 'example.com/v1', kind: 'Widget', plural: 'widgets', namespaced: true };
    const snapshot = await takeSnapshot(admin, {
      protectAnnotation: 'x/keep',
      ignoreInvalidImageReferences: true,
      extraSources: [
        { type: Resources.configMap, paths: ['data.image'] },
        { type: missing, paths: ['spec.image'], optional: true },
      ],
    });
    expect(snapshot.uses).toContainEqual({
      referrer: 'ConfigMap apps/related data.image',
      namespace: 'apps',
      name: 'extra',
      tag: 'v1',
    });
    expect(snapshot.notes.join(' ')).toMatch(/widgets\.example\.com is not served/);
    const error = await failure(
      takeSnapshot(admin, {
        protectAnnotation: 'x/keep',
        ignoreInvalidImageReferences: true,
        extraSources: [{ type: missing, paths: ['spec.image'] }],
      }),
    );
    expect(error.code).toBe('PRUNE_SNAPSHOT_INCOMPLETE');
  });

  it('reads Images page by page and starts over, complete, when their continue token expires', async () => {
    const created = [];
    for (let i = 0; i < 7; i++) created.push(await createImage(admin, `paged-image-${i}`));
    let compacted = false;
    let firstPages = 0;
    const snapshot = await takeSnapshot(pruner, {
      protectAnnotation: 'x/keep',
      pageSize: 2,
      onProgress: (progress) => {
        if (progress.source === 'images.image.openshift.io' && !progress.done && progress.items === 2)
          firstPages++;
        // Expire the continue token once, after the second page of Images.
        if (
          progress.source === 'images.image.openshift.io' &&
          !progress.done &&
          progress.items === 4 &&
          !compacted
        ) {
          compacted = true;
          cluster.compact();
        }
      },
    });
    expect(compacted).toBe(true);
    expect(firstPages).toBe(2); // the Image list was read again from its first page
    const digests = new Set(snapshot.images.map((image) => image.digest));
    for (const name of created) expect(digests.has(name), name).toBe(true);
    expect(snapshot.images.length).toBe(digests.size);
  });

  it('reads Pods page by page and starts the snapshot over, complete, when their continue token expires', async () => {
    const names = Array.from({ length: 5 }, (_, i) => `paged-pod-${i}`);
    for (const name of names) {
      await createPod(admin, 'apps', name, {
        containers: [{ name: 'app', image: `${INTERNAL}/apps/paged@${digest(name)}` }],
      });
    }
    let compacted = false;
    let podPages = 0;
    const snapshot = await takeSnapshot(pruner, {
      protectAnnotation: 'x/keep',
      pageSize: 2,
      concurrency: 1,
      onProgress: (progress) => {
        if (progress.source !== 'pods' || progress.done) return;
        podPages++;
        // Expire the continue token once, after the first page of Pods.
        if (!compacted) {
          compacted = true;
          cluster.compact();
        }
      },
    });
    expect(compacted).toBe(true);
    expect(podPages).toBeGreaterThan(3); // the first page, then every page again after the restart
    for (const name of names) {
      const uses = snapshot.uses.filter((use) => use.referrer.startsWith(`Pod apps/${name} `));
      expect(
        uses.map((use) => use.digest),
        name,
      ).toEqual([digest(name)]);
    }
  });

  it('stops, changing nothing, when a list is refused', async () => {
    const user = await cluster.addUser({ name: 'reader', roles: [{ role: 'view' }] });
    const reader = ClusterClient.fromOptions({ kubeconfig: user.kubeconfig });
    const error = await failure(takeSnapshot(reader, { protectAnnotation: 'x/keep' }));
    expect(error.code).toBe('PRUNE_SNAPSHOT_INCOMPLETE');
    expect(error.message).toMatch(/Could not list images\.image\.openshift\.io/);
    expect(error.hint).toMatch(/system:image-pruner/);
  });
});

describe('a metadata-only run', () => {
  it('protects the namespace of an invalid reference instead of failing, when asked to', async () => {
    for (const seed of ['b1', 'b2', 'b3']) await createImage(admin, seed);
    await createStream(admin, 'broken', 'app', { latest: ['b1', 'b2', 'b3'] });
    await admin.create<KubeObject>(Resources.replicaSet, {
      metadata: { name: 'bad', namespace: 'broken' },
      spec: {
        selector: { matchLabels: { a: 'b' } },
        template: {
          metadata: { labels: { a: 'b' } },
          spec: { containers: [{ name: 'c', image: 'Not/A/Valid:Ref ' }] },
        },
      },
    } as KubeObject);
    const { plan } = await planFor({ keepTagRevisions: 1, ignoreInvalidImageReferences: true });
    const items = plan.items.filter((i) => i.stream === 'broken/app');
    expect(items.map((i) => [i.action, i.rule])).toEqual([
      ['keep', 'namespace-invalid-reference'],
      ['keep', 'namespace-invalid-reference'],
      ['keep', 'namespace-invalid-reference'],
    ]);
    expect(plan.items.find((i) => i.id === `image:${digest('b3')}`)?.action).toBe('keep');
    await admin.delete(Resources.replicaSet, 'bad', 'broken');
  });

  it('dry run changes nothing; the confirmed run trims history and deletes images as system:image-pruner; a second run is a no-op', async () => {
    for (const seed of ['m1', 'm2', 'm3', 'm4', 'lonely']) await createImage(admin, seed);
    await createStream(admin, 'meta', 'app', { latest: ['m1', 'm2', 'm3', 'm4'], stable: ['m2'] });
    await createPod(admin, 'meta', 'uses-m4', {
      containers: [{ name: 'c', image: `${INTERNAL}/meta/app@${digest('m4')}` }],
    });
    const { plan } = await planFor({
      keepTagRevisions: 1,
      namespaces: { apps: { exclude: true }, broken: { exclude: true } },
    });
    const meta = plan.items.filter((i) => i.stream === 'meta/app' && i.kind === 'tag-history');
    expect(meta.map((i) => `${i.tag}#${i.revision} ${i.action} ${i.rule}`)).toEqual([
      'latest#0 keep within-tag-revisions',
      'latest#1 delete beyond-tag-revisions',
      'latest#2 delete beyond-tag-revisions',
      'latest#3 keep image-in-use',
      'stable#0 keep within-tag-revisions',
    ]);
    expect(formatPlan(plan)).toMatch(/tag-history\s+\d+\s+2\s+0/);

    const untouched: PruneRegistry = {
      deleteManifest: () => Promise.reject(new Error('metadata mode must not call the registry')),
      deleteLayerLink: () => Promise.reject(new Error('metadata mode must not call the registry')),
      deleteBlob: () => Promise.reject(new Error('metadata mode must not call the registry')),
    };
    const port = pruneClusterOf(pruner);
    const before = await admin.get<ImageStreamObject>(Resources.imageStream, 'app', 'meta');
    const dry = await executePlan(plan, { cluster: port, registry: untouched });
    expect(dry.dryRun).toBe(true);
    expect(
      (await admin.get<ImageStreamObject>(Resources.imageStream, 'app', 'meta')).metadata.resourceVersion,
    ).toBe(before.metadata.resourceVersion);
    expect(await admin.find(Resources.image, digest('m3'))).toBeDefined();

    // What a queue job would carry: the plan as JSON.
    const stored = JSON.parse(JSON.stringify(plan)) as typeof plan;
    const run = await executePlan(stored, {
      cluster: port,
      registry: untouched,
      confirm: true,
      retry: { baseDelayMs: 5 },
    });
    expect(run.summary.errors).toEqual({});
    expect(await historyOf(admin, 'meta', 'app')).toEqual({
      latest: [digest('m1'), digest('m4')],
      stable: [digest('m2')],
    });
    expect(await admin.find(Resources.image, digest('m3'))).toBeUndefined();
    expect(await admin.find(Resources.image, digest('lonely'))).toBeUndefined();
    expect(await admin.find(Resources.image, digest('m2'))).toBeDefined();
    expect(await admin.find(Resources.image, digest('m4'))).toBeDefined();
    expect(formatRunResult(run)).toMatch(/image\s+\d+/);

    const again = await executePlan(plan, { cluster: port, registry: untouched, confirm: true });
    const outcomes = new Set(again.units.flatMap((u) => u.items.map((i) => i.outcome)));
    expect([...outcomes].sort()).toEqual(['absent']);
    expect(await historyOf(admin, 'meta', 'app')).toEqual({
      latest: [digest('m1'), digest('m4')],
      stable: [digest('m2')],
    });
  });

  /** The port, counting the stream calls the executor makes. */
  function counted(port: PruneCluster): { port: PruneCluster; calls: string[] } {
    const calls: string[] = [];
    return {
      calls,
      port: {
        ...port,
        getImageStream: (namespace, name) => {
          calls.push(`get ${namespace}/${name}`);
          return port.getImageStream(namespace, name);
        },
        replaceImageStreamStatus: (stream) => {
          calls.push(`replace ${stream.metadata.namespace}/${stream.metadata.name}`);
          return port.replaceImageStreamStatus(stream);
        },
        patchImageStreamStatus: async (namespace, name, operations) => {
          calls.push(`patch ${namespace}/${name}`);
          return port.patchImageStreamStatus!(namespace, name, operations);
        },
      },
    };
  }

  it('removes the planned history with one guarded patch per stream, a tag whose every item goes whole', async () => {
    for (const seed of ['p1', 'p2', 'p3']) await createImage(admin, seed);
    // `gone` names only images without an Image object: every item of it goes, and the tag with them.
    await createStream(admin, 'patch', 'app', {
      latest: ['p1', 'p2', 'p3'],
      gone: ['p-missing1', 'p-missing2'],
    });
    const { plan } = await planFor({ keepTagRevisions: 1 }, 'patch');
    const { port, calls } = counted(pruneClusterOf(admin));
    const run = await executePlan(JSON.parse(JSON.stringify(plan)) as typeof plan, {
      cluster: port,
      confirm: true,
    });
    expect(run.summary.errors).toEqual({});
    expect(calls).toEqual(['patch patch/app']);
    expect(await historyOf(admin, 'patch', 'app')).toEqual({ latest: [digest('p1')] });
    const outcomes = run.units[0]!.items.map((item) => `${item.kind} ${item.outcome}`);
    expect(outcomes.filter((o) => o === 'tag-history deleted')).toHaveLength(4);
    expect(outcomes).toContain('stream-update updated');
  });

  it('reads and replaces instead when the stream changed since the plan, keeping what was pushed since', async () => {
    for (const seed of ['q1', 'q2', 'q3', 'q-new']) await createImage(admin, seed);
    const times = { base: Date.now() - 3_600_000, minutesOld: { 'q-new': 0, q1: 10, q2: 20, q3: 30 } };
    await createStream(admin, 'patch2', 'app', { latest: ['q1', 'q2', 'q3'] }, times);
    const { plan } = await planFor({ keepTagRevisions: 1 }, 'patch2');
    // A push after the plan: every index the plan knows is one off now.
    await createStream(admin, 'patch2', 'app', { latest: ['q-new', 'q1', 'q2', 'q3'] }, times);
    const { port, calls } = counted(pruneClusterOf(admin));
    const run = await executePlan(plan, { cluster: port, confirm: true });
    expect(run.summary.errors).toEqual({});
    expect(calls).toEqual(['patch patch2/app', 'get patch2/app', 'replace patch2/app']);
    expect(await historyOf(admin, 'patch2', 'app')).toEqual({ latest: [digest('q-new'), digest('q1')] });
  });

  it('asks once when the role grants no patch of the status (system:image-pruner), then reads and replaces', async () => {
    for (const seed of ['s1', 's2', 't1', 't2']) await createImage(admin, seed);
    await createStream(admin, 'patch', 'one', { latest: ['s1', 's2'] });
    await createStream(admin, 'patch', 'two', { latest: ['t1', 't2'] });
    const { plan } = await planFor({ keepTagRevisions: 1 }, 'patch');
    const { port, calls } = counted(pruneClusterOf(pruner));
    const run = await executePlan(plan, { cluster: port, confirm: true, concurrency: 1 });
    expect(run.summary.errors).toEqual({});
    expect(calls.filter((call) => call.startsWith('patch'))).toHaveLength(1);
    expect(calls.filter((call) => call.startsWith('replace'))).toHaveLength(2);
    expect(await historyOf(admin, 'patch', 'one')).toEqual({ latest: [digest('s1')] });
    expect(await historyOf(admin, 'patch', 'two')).toEqual({ latest: [digest('t1')] });
  });

  it('retries a status update that meets a conflict with a fresh read, keeping what the other writer added', async () => {
    for (const seed of ['r1', 'r2', 'r3', 'r-new']) await createImage(admin, seed);
    const times = { base: Date.now() - 3_600_000, minutesOld: { 'r-new': 0, r1: 10, r2: 20, r3: 30 } };
    await createStream(admin, 'race', 'app', { latest: ['r1', 'r2', 'r3'] }, times);
    const { plan } = await planFor({ keepTagRevisions: 1 }, 'race');
    const real = pruneClusterOf(pruner);
    let writes = 0;
    // Another writer (a push) lands between our read and our write, once.
    const racing: PruneCluster = {
      ...real,
      replaceImageStreamStatus: async (stream) => {
        if (writes++ === 0)
          await createStream(admin, 'race', 'app', { latest: ['r-new', 'r1', 'r2', 'r3'] }, times);
        return real.replaceImageStreamStatus(stream);
      },
    };
    const run = await executePlan(plan, { cluster: racing, confirm: true });
    expect(writes).toBe(2);
    const update = run.units[0]!.items.find((i) => i.kind === 'stream-update');
    expect(update).toMatchObject({ outcome: 'updated', attempts: 2 });
    expect(await historyOf(admin, 'race', 'app')).toEqual({ latest: [digest('r-new'), digest('r1')] });
  });
});
