// Full and metadata-only prunes against the simulator with real pushes: skopeo pushes through the default
// route (hosts mode, so root), the registry front records Images and history, and afterwards the test looks
// at the registry's storage and pulls what must still work.
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import {
  buildOciImage,
  httpRequest,
  makeWorkDir,
  registryBlobDir,
  runSkopeo,
  type BuiltImage,
} from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterClient, type KubeObject } from '../../src/cluster/client.js';
import { RegistryPushError } from '../../src/errors.js';
import { Resources } from '../../src/cluster/resources.js';
import { pruneClusterOf } from '../../src/prune/cluster-port.js';
import { executePlan } from '../../src/prune/execute.js';
import type { ImageObject, ImageStreamObject } from '../../src/prune/image-objects.js';
import { planPrune } from '../../src/prune/plan.js';
import { resolvePrunePolicy, type PrunePolicyInput } from '../../src/prune/policy.js';
import { takeSnapshot } from '../../src/prune/snapshot.js';
import type { ImageUnit, PruneMode } from '../../src/prune/types.js';
import { installTrust, uninstallTrust, type TrustInstallation } from '../../src/trust/install.js';
import { INTERNAL, historyOf } from './helpers.js';
import { createPruneRegistry } from '../../src/prune/registry-adapter.js';
import type { PruneRegistry } from '../../src/prune/registry-port.js';

/** The real registry client through the route (SNI and Host set, dialled at the router), logging calls. */
function realRegistry(
  running: RunningCluster,
  token: string,
): PruneRegistry & { host: string; calls: string[]; close(): Promise<void> } {
  const host = `default-route-openshift-image-registry.${running.appsDomain}`;
  const client = createPruneRegistry({
    host,
    credentials: { kind: 'bearer', token },
    caPem: running.ingressCaPem,
    connectTo: running.routerAddress,
  });
  const calls: string[] = [];
  return {
    host,
    calls,
    deleteManifest: (repository, digest) => (
      calls.push(`manifest ${repository}@${digest}`),
      client.deleteManifest(repository, digest)
    ),
    deleteLayerLink: (repository, digest) => (
      calls.push(`link ${repository}@${digest}`),
      client.deleteLayerLink(repository, digest)
    ),
    deleteBlob: (digest) => (calls.push(`blob ${digest}`), client.deleteBlob(digest)),
    close: () => client.close(),
  };
}

let cluster: RunningCluster;
let admin: ClusterClient;
let pruner: ClusterClient;
let prunerToken: string;
let host: string;
let certs: TrustInstallation;
let work: string;
const built: Record<string, BuiltImage> = {};

async function build(name: string, seed: string, layers: number, multiArch = false): Promise<BuiltImage> {
  built[name] = await buildOciImage({
    outDir: join(work, name),
    seed,
    layers,
    layerSize: 4096,
    ...(multiArch
      ? {
          platforms: [
            { os: 'linux', architecture: 'amd64' },
            { os: 'linux', architecture: 'arm64' },
          ],
        }
      : {}),
  });
  return built[name];
}

const auth = (): string[] => [
  '--creds',
  `kubeadmin:${cluster.users.kubeadmin!.token}`,
  '--cert-dir',
  certs.certDir,
];

async function push(name: string, ref: string): Promise<void> {
  const image = built[name]!;
  await runSkopeo([
    'copy',
    '--all',
    '--dest-creds',
    `kubeadmin:${cluster.users.kubeadmin!.token}`,
    '--dest-cert-dir',
    certs.certDir,
    `oci:${image.layoutDir}`,
    `docker://${host}/${ref}`,
  ]);
}

async function pull(ref: string): Promise<void> {
  const dir = join(work, `pull-${Math.random().toString(36).slice(2)}`);
  await runSkopeo([
    'copy',
    '--src-creds',
    `kubeadmin:${cluster.users.kubeadmin!.token}`,
    '--src-cert-dir',
    certs.certDir,
    `docker://${host}/${ref}`,
    `oci:${dir}`,
  ]);
}

function blobPath(digest: string): string {
  return registryBlobDir(cluster.registryStorageDir, digest);
}

const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

async function storageFiles(dir = cluster.registryStorageDir): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

async function planFor(mode: PruneMode, input: PrunePolicyInput) {
  const { policy } = resolvePrunePolicy({ keepYoungerThan: '0s', ...input });
  const snapshot = await takeSnapshot(pruner, policy);
  return planPrune(snapshot, policy, { mode, now: new Date() });
}

const root = process.getuid?.() === 0;

describe.runIf(root)('pruning pushed images', () => {
  beforeAll(async () => {
    cluster = await startCluster({ defaultRoute: true, namespaces: ['meta'] });
    admin = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
    const user = await cluster.addUser({ name: 'pruner', roles: [{ role: 'system:image-pruner' }] });
    prunerToken = user.token;
    pruner = ClusterClient.fromOptions({ kubeconfig: user.kubeconfig });
    host = `default-route-openshift-image-registry.${cluster.appsDomain}`;
    certs = await installTrust({ host, caPem: cluster.ingressCaPem });
    work = await makeWorkDir('core-prune');
    // Three generations of one app: each adds a layer to the previous one, so they share blobs.
    await build('app1', 'app', 1);
    await build('app2', 'app', 2);
    await build('app3', 'app', 3);
    await build('orphan', 'orphan', 1);
    await build('meta1', 'meta', 1);
    await build('meta2', 'meta', 2);
    await build('multi1', 'multi-old', 1, true);
    await build('multi2', 'multi-new', 1, true);
    await build('hand', 'hand-made', 1);
    // Two builds over the same two layers (a metadata-only rebuild), and a current one apart.
    built.twinA = await buildOciImage({
      outDir: join(work, 'twinA'),
      seed: 'twin',
      layers: 2,
      layerSize: 4096,
    });
    built.twinB = await buildOciImage({
      outDir: join(work, 'twinB'),
      seed: 'twin',
      layers: 2,
      layerSize: 4096,
      variant: 'b',
    });
    await build('twinNow', 'twin-now', 1);
    await build('junk', 'junk', 1);
    for (let i = 0; i < 100; i++) {
      const answer = await httpRequest(`https://${cluster.routerAddress}/v2/`, {
        headers: { Host: host },
        caPem: cluster.ingressCaPem,
        servername: host,
      }).catch(() => undefined);
      if (answer?.status === 401) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  afterAll(async () => {
    await uninstallTrust(certs);
    await cluster.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('a metadata-only run changes Images and history and leaves registry storage untouched', async () => {
    await push('meta1', 'meta/app:latest');
    await push('meta2', 'meta/app:latest');
    const files = await storageFiles();
    const plan = await planFor('metadata', { keepTagRevisions: 1 });
    expect(plan.units.map((u) => u.id)).toEqual(['stream/meta/app', `image/${built.meta1!.digest}`]);
    const registry = realRegistry(cluster, prunerToken);
    const run = await executePlan(plan, { cluster: pruneClusterOf(pruner), registry, confirm: true });
    expect(run.summary.errors).toEqual({});
    expect(registry.calls).toEqual([]);
    expect(await historyOf(admin, 'meta', 'app')).toEqual({ latest: [built.meta2!.digest] });
    expect(await admin.find(Resources.image, built.meta1!.digest)).toBeUndefined();
    expect(await storageFiles()).toEqual(files);
    // Nothing was removed from storage, but the registry serves a manifest only while its Image exists
    // and a stream references it: the pruned image no longer pulls, its revision link notwithstanding.
    await expect(
      runSkopeo(['inspect', ...auth(), '--raw', `docker://${host}/meta/app@${built.meta1!.digest}`]),
    ).rejects.toThrow(/manifest unknown/i);
  });

  it('a full run frees what nothing uses, re-checks before deleting, and leaves used images pullable', async () => {
    const [a, b, c, d] = ['app1', 'app2', 'app3', 'orphan'].map((name) => built[name]!);
    await push('app1', 'demo/app:latest');
    await push('app2', 'demo/app:latest');
    await push('app3', 'demo/app:latest');
    await push('orphan', 'demo/old:v1');
    // The orphan's tag is deleted: its Image is now used by nothing.
    const old = await admin.get<ImageStreamObject>(Resources.imageStream, 'old', 'demo');
    await admin.replaceStatus(Resources.imageStream, { ...old, status: { ...old.status, tags: [] } });
    await admin.create<KubeObject>(Resources.pod, {
      metadata: { name: 'pinned', namespace: 'demo' },
      spec: { containers: [{ name: 'c', image: `${INTERNAL}/demo/app@${b!.digest}` }] },
    } as KubeObject);
    expect(await historyOf(admin, 'demo', 'app')).toEqual({ latest: [c!.digest, b!.digest, a!.digest] });

    const plan = await planFor('full', { keepTagRevisions: 1, namespaces: { meta: { exclude: true } } });
    const decisions = Object.fromEntries(plan.items.map((i) => [i.id, `${i.action} ${i.rule}`]));
    expect(decisions[`tag:demo/app:latest#1`]).toBe('keep image-in-use');
    expect(decisions[`tag:demo/app:latest#2`]).toBe('delete beyond-tag-revisions');
    expect(decisions[`image:${a!.digest}`]).toBe('delete unreferenced');
    expect(decisions[`image:${d!.digest}`]).toBe('delete unreferenced');
    const shared = a!.manifests[0]!.layers[0]!.digest;
    expect(shared).toBe(c!.manifests[0]!.layers[0]!.digest);
    expect(decisions[`blob:${shared}`]).toBe('keep blob-shared');
    expect(decisions[`blob:${d!.manifests[0]!.layers[0]!.digest}`]).toBe('delete blob-unreferenced');
    expect(decisions[`manifest-link:demo/app@${a!.digest}`]).toBe('delete link-unreferenced');

    // After the plan was made, the oldest generation is pushed to another repository: it is in use again.
    await push('app1', 'demo/copy:latest');

    const registry = realRegistry(cluster, prunerToken);
    const run = await executePlan(plan, {
      cluster: pruneClusterOf(pruner),
      registry,
      confirm: true,
      retry: { baseDelayMs: 5 },
    });
    expect(run.summary.errors).toEqual({});
    const unitStatus = Object.fromEntries(run.units.map((u) => [u.unit, u.status]));
    expect(unitStatus).toMatchObject({
      'stream/demo/app': 'done',
      [`image/${a!.digest}`]: 'skipped',
      [`image/${d!.digest}`]: 'done',
    });
    expect(await historyOf(admin, 'demo', 'app')).toEqual({ latest: [c!.digest, b!.digest] });
    expect(await admin.find(Resources.image, d!.digest)).toBeUndefined();
    expect(await admin.find(Resources.image, a!.digest)).toBeDefined();
    // Storage: the orphan's blobs are gone, the shared base layer and the re-used image's config stay.
    for (const blob of [d!.digest, d!.manifests[0]!.config.digest, d!.manifests[0]!.layers[0]!.digest]) {
      expect(await exists(blobPath(blob)), blob).toBe(false);
    }
    for (const blob of [shared, a!.manifests[0]!.config.digest, a!.digest]) {
      expect(await exists(blobPath(blob)), blob).toBe(true);
    }
    expect(run.summary.bytesFreed).toBeGreaterThan(4096);
    // The pruned history item's manifest link is gone from demo/app; everything in use still pulls.
    await expect(
      runSkopeo(['inspect', ...auth(), '--raw', `docker://${host}/demo/app@${a!.digest}`]),
    ).rejects.toThrow(/manifest unknown|not found|404/i);
    await pull('demo/app:latest');
    await pull(`demo/app@${b!.digest}`);
    await pull('demo/copy:latest');

    // Running the same plan again changes nothing and fails nothing.
    const files = await storageFiles();
    const again = await executePlan(plan, { cluster: pruneClusterOf(pruner), registry, confirm: true });
    expect(again.summary.errors).toEqual({});
    expect(again.summary.counts.blob?.deleted ?? 0).toBe(0);
    expect(await storageFiles()).toEqual(files);
  });

  it('a blob two pruned images share stays with the one whose deletion failed, which still pulls', async () => {
    const [a, b] = [built.twinA!, built.twinB!];
    await push('twinA', 'demo/twin:latest');
    await push('twinB', 'demo/twin:latest');
    await push('twinNow', 'demo/twin:latest');
    const plan = await planFor('full', { keepTagRevisions: 1, namespaces: { meta: { exclude: true } } });
    const units = plan.units.filter(
      (unit): unit is ImageUnit => unit.type === 'image' && [a.digest, b.digest].includes(unit.digest),
    );
    expect(units).toHaveLength(2);
    // The plan gives the shared layers to the unit that runs last; the first one's Image deletion fails (the
    // old order deleted them with the first unit, leaving it without them).
    const refused = units[1]!.digest === a.digest ? b : a;
    const kept = refused === a ? 'twinA' : 'twinB';
    const real = pruneClusterOf(pruner);
    const refusing = {
      ...real,
      deleteImage: (digest: string) =>
        digest === refused.digest
          ? Promise.reject(new RegistryPushError('FORBIDDEN', 'may not delete images'))
          : real.deleteImage(digest),
    };
    const registry = realRegistry(cluster, prunerToken);
    const run = await executePlan(plan, { cluster: refusing, registry, confirm: true });
    await registry.close();
    expect(run.summary.errors).toEqual({ FORBIDDEN: 1 });
    const layers = refused.manifests[0]!.layers.map((layer) => layer.digest);
    for (const layer of layers) expect(await exists(blobPath(layer)), layer).toBe(true);
    expect(await exists(blobPath(refused.manifests[0]!.config.digest))).toBe(true);
    // Tagged again, the surviving image pulls: every blob it needs is still there.
    await push(kept, 'demo/twin:again');
    await pull('demo/twin:again');
    await pull(`demo/twin@${refused.digest}`);
  });

  it('a manifest list that nothing uses goes with its children; the current one stays pullable', async () => {
    const [old, current] = [built.multi1!, built.multi2!];
    await push('multi1', 'demo/multi:latest');
    await push('multi2', 'demo/multi:latest');
    const oldChildren = old.manifests.map((m) => m.digest);
    for (const child of oldChildren) expect(await admin.find(Resources.image, child)).toBeDefined();
    const plan = await planFor('full', { keepTagRevisions: 1, namespaces: { meta: { exclude: true } } });
    const decisions = Object.fromEntries(plan.items.map((i) => [i.id, `${i.action} ${i.rule}`]));
    expect(decisions[`image:${old.digest}`]).toBe('delete unreferenced');
    for (const child of oldChildren) expect(decisions[`image:${child}`]).toBe('delete unreferenced');
    for (const child of current.manifests)
      expect(decisions[`image:${child.digest}`]).toBe('keep manifest-list-child');
    expect(decisions[`manifest-link:demo/multi@${oldChildren[0]!}`]).toBe('delete link-unreferenced');

    const registry = realRegistry(cluster, prunerToken);
    const run = await executePlan(plan, { cluster: pruneClusterOf(pruner), registry, confirm: true });
    expect(run.summary.errors).toEqual({});
    for (const digest of [old.digest, ...oldChildren]) {
      expect(await admin.find(Resources.image, digest)).toBeUndefined();
      expect(await exists(blobPath(digest)), digest).toBe(false);
    }
    for (const manifest of old.manifests) {
      for (const blob of [manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) {
        expect(await exists(blobPath(blob)), blob).toBe(false);
      }
    }
    expect(await historyOf(admin, 'demo', 'multi')).toEqual({ latest: [current.digest] });
    await runSkopeo(['inspect', ...auth(), '--raw', `docker://${host}/demo/multi:latest`]);
    await pull('demo/multi:latest');
    await runSkopeo([
      'copy',
      '--all',
      '--src-creds',
      `kubeadmin:${cluster.users.kubeadmin!.token}`,
      '--src-cert-dir',
      certs.certDir,
      `docker://${host}/demo/multi:latest`,
      `oci:${join(work, 'multi-pull')}`,
    ]);
  });
  it('an Image without its config digest: kept with its blobs and reported; the other garbage is freed', async () => {
    const [hand, junk] = [built.hand!, built.junk!];
    await push('hand', 'demo/hand:v1');
    await push('junk', 'demo/junk:v1');
    // Old tooling, or a hand, made the hand Image without dockerImageMetadata.Id: the API server stores it
    // (the field is a RawExtension, never validated).
    const pushed = await admin.get<ImageObject & { dockerImageReference: string }>(
      Resources.image,
      hand.digest,
    );
    await admin.delete(Resources.image, hand.digest);
    await admin.create<ImageObject>(Resources.image, {
      metadata: { name: hand.digest, annotations: pushed.metadata.annotations ?? {} },
      dockerImageReference: pushed.dockerImageReference,
      dockerImageManifestMediaType: pushed.dockerImageManifestMediaType ?? '',
      dockerImageLayers: pushed.dockerImageLayers ?? [],
      dockerImageMetadata: { Size: pushed.dockerImageMetadata?.Size ?? 0 },
    });
    // Both tags are deleted: nothing uses either Image any more.
    for (const name of ['hand', 'junk']) {
      const stream = await admin.get<ImageStreamObject>(Resources.imageStream, name, 'demo');
      await admin.replaceStatus(Resources.imageStream, { ...stream, status: { ...stream.status, tags: [] } });
    }

    const plan = await planFor('full', { keepTagRevisions: 1, namespaces: { meta: { exclude: true } } });
    const decisions = Object.fromEntries(plan.items.map((i) => [i.id, `${i.action} ${i.rule}`]));
    expect(decisions[`image:${hand.digest}`]).toBe('keep image-unreadable');
    expect(decisions[`image:${junk.digest}`]).toBe('delete unreferenced');
    expect(decisions[`blob:${junk.manifests[0]!.layers[0]!.digest}`]).toBe('delete blob-unreferenced');
    // The unknown config could be any config blob.
    expect(decisions[`blob:${junk.manifests[0]!.config.digest}`]).toBe('keep blob-identity-unknown');
    expect(plan.warnings).toEqual([
      expect.objectContaining({
        image: hand.digest,
        reason: 'its config digest (dockerImageMetadata.Id) is missing',
        fix: expect.stringContaining(`oc get image ${hand.digest} -o yaml`) as string,
      }),
    ]);

    const registry = realRegistry(cluster, prunerToken);
    const run = await executePlan(plan, { cluster: pruneClusterOf(pruner), registry, confirm: true });
    expect(run.summary.errors).toEqual({});
    expect(await admin.find(Resources.image, junk.digest)).toBeUndefined();
    expect(await admin.find(Resources.image, hand.digest)).toBeDefined();
    for (const blob of [junk.digest, junk.manifests[0]!.layers[0]!.digest]) {
      expect(await exists(blobPath(blob)), blob).toBe(false);
    }
    const handBlobs = [hand.digest, hand.manifests[0]!.config.digest, hand.manifests[0]!.layers[0]!.digest];
    for (const blob of handBlobs) expect(await exists(blobPath(blob)), blob).toBe(true);
    // Kept, but no stream references it any more: the registry does not serve it until it is tagged again.
    await expect(
      runSkopeo(['inspect', ...auth(), '--raw', `docker://${host}/demo/hand@${hand.digest}`]),
    ).rejects.toThrow(/manifest unknown/i);
  });
});
