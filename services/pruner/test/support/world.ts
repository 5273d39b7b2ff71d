// A simulated OpenShift with its real registry, a real Redis, and the means to fill them: images built and
// pushed with skopeo through the default route (hosts mode, so root), and reads of the cluster's and the
// registry storage's state for the assertions.
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { startCluster, type RunningCluster, type UserSpec } from '@registry-push/openshift-sim';
import {
  buildOciImage,
  httpRequest,
  makeWorkDir,
  registryBlobDir,
  removeWorkDir,
  runSkopeo,
  startRedis,
  type BuiltImage,
  type RunningRedis,
} from '@registry-push/testkit';
import {
  ClusterClient,
  Resources,
  RegistryNames,
  type ImageStreamObject,
  type KubeObject,
} from '@registry-push/core';

/** Everything a test needs around the pruner. */
export interface World {
  cluster: RunningCluster;
  redis: RunningRedis;
  admin: ClusterClient;
  host: string;
  work: string;
  /** Environment of a worker or CLI process for this world (a fresh queue per call). */
  env(extra?: Record<string, string>): Record<string, string>;
  build(name: string, seed: string, layers: number, variant?: string): Promise<BuiltImage>;
  push(image: Pick<BuiltImage, 'layoutDir'>, ref: string): Promise<void>;
  /**
   * Pulls `ref` with skopeo into an OCI layout and compares it with `image` byte for byte (manifest, config,
   * every layer); resolves to what differs (empty when the pull is exact) or throws if the pull fails.
   */
  pullDiff(ref: string, image: BuiltImage): Promise<string[]>;
  /** Whether `<namespace>/<name>` has a layer link to the blob in registry storage. */
  linkExists(namespace: string, name: string, digest: string): Promise<boolean>;
  history(namespace: string, name: string): Promise<Record<string, string[]>>;
  imageExists(digest: string): Promise<boolean>;
  blobExists(digest: string): Promise<boolean>;
  storageFiles(): Promise<string[]>;
  setPruner(spec: Record<string, unknown>): Promise<void>;
  setManagementState(state: 'Managed' | 'Removed' | 'Unmanaged'): Promise<void>;
  stop(): Promise<void>;
}

export const root = process.getuid?.() === 0;

async function waitForRoute(cluster: RunningCluster, host: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const answer = await httpRequest(`https://${cluster.routerAddress}/v2/`, {
      headers: { Host: host },
      caPem: cluster.ingressCaPem,
      servername: host,
    }).catch(() => undefined);
    if (answer?.status === 401) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the default route never answered');
}

/**
 * Starts a world; `namespaces` are created besides `demo`, `users` besides the simulator's seed users,
 * `customResourceDefinitions` served besides the built-in kinds.
 */
export async function startWorld(
  namespaces: string[] = [],
  options: { customResourceDefinitions?: readonly string[]; users?: UserSpec[] } = {},
): Promise<World> {
  const cluster = await startCluster({ defaultRoute: true, namespaces, ...options });
  const redis = await startRedis();
  const work = await makeWorkDir('pruner-test');
  const admin = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
  const host = `default-route-openshift-image-registry.${cluster.appsDomain}`;
  await waitForRoute(cluster, host);
  const certDir = join(work, 'certs');
  const { writeFile } = await import('node:fs/promises');
  await mkdir(join(certDir, host), { recursive: true });
  await writeFile(join(certDir, host, 'ca.crt'), cluster.ingressCaPem);
  const blobPath = (digest: string): string => registryBlobDir(cluster.registryStorageDir, digest);
  return {
    cluster,
    redis,
    admin,
    host,
    work,
    env: (extra = {}) => ({
      KUBECONFIG: cluster.kubeconfig,
      REDIS_URL: redis.url,
      PRUNER_QUEUE: `test-${randomUUID().slice(0, 8)}`,
      PRUNER_HTTP_PORT: '0',
      PRUNER_CONFIG_POLL_MS: '200',
      PRUNER_LOCK_DURATION_MS: '2000',
      PRUNER_STALLED_INTERVAL_MS: '1000',
      PRUNER_BACKOFF_MS: '200',
      PRUNER_REGISTRY_HOST: host,
      PRUNER_REGISTRY_CA_FILE: cluster.ingressCA,
      PRUNER_LOG_LEVEL: 'info',
      // Today's one-phase full runs; the undo tests set a window.
      PRUNER_UNDO_WINDOW: '0',
      ...extra,
    }),
    build: (name, seed, layers, variant) =>
      buildOciImage({
        outDir: join(work, name),
        seed,
        layers,
        layerSize: 4096,
        ...(variant === undefined ? {} : { variant }),
      }),
    push: async (image, ref) => {
      await runSkopeo([
        'copy',
        '--dest-creds',
        `kubeadmin:${cluster.users.kubeadmin!.token}`,
        '--dest-cert-dir',
        join(certDir, host),
        `oci:${image.layoutDir}`,
        `docker://${host}/${ref}`,
      ]);
    },
    pullDiff: async (ref, image) => {
      await mkdir(join(work, 'pulled'), { recursive: true });
      const out = join(work, 'pulled', randomUUID());
      await runSkopeo([
        'copy',
        '--src-creds',
        `kubeadmin:${cluster.users.kubeadmin!.token}`,
        '--src-cert-dir',
        join(certDir, host),
        `docker://${host}/${ref}`,
        `oci:${out}`,
      ]);
      const differs: string[] = [];
      const manifest = image.manifests[0]!;
      for (const blob of [manifest, manifest.config, ...manifest.layers]) {
        const name = join('blobs', 'sha256', blob.digest.slice('sha256:'.length));
        const pulled = await readFile(join(out, name)).catch(() => undefined);
        const built = await readFile(join(image.layoutDir, name));
        if (pulled === undefined || !pulled.equals(built)) differs.push(blob.digest);
      }
      await rm(out, { recursive: true, force: true });
      return differs;
    },
    linkExists: (namespace, name, digest) =>
      stat(
        join(
          cluster.registryStorageDir,
          'docker/registry/v2/repositories',
          namespace,
          name,
          '_layers/sha256',
          digest.slice('sha256:'.length),
          'link',
        ),
      ).then(
        () => true,
        () => false,
      ),
    history: async (namespace, name) => {
      const stream = await admin.get<ImageStreamObject>(Resources.imageStream, name, namespace);
      return Object.fromEntries(
        (stream.status?.tags ?? []).map((t) => [t.tag, (t.items ?? []).map((i) => i.image)]),
      );
    },
    imageExists: async (digest) => (await admin.find(Resources.image, digest)) !== undefined,
    blobExists: (digest) =>
      stat(blobPath(digest)).then(
        () => true,
        () => false,
      ),
    storageFiles: async () => {
      const entries = await readdir(cluster.registryStorageDir, { withFileTypes: true, recursive: true });
      return entries
        .filter((e) => e.isFile())
        .map((e) => join(e.parentPath, e.name))
        .sort();
    },
    setPruner: async (spec) => {
      await admin.mergePatch<KubeObject>(Resources.imagePruner, RegistryNames.operatorConfig, { spec });
    },
    setManagementState: async (state) => {
      await admin.mergePatch<KubeObject>(Resources.registryConfig, RegistryNames.operatorConfig, {
        spec: { managementState: state },
      });
    },
    stop: async () => {
      await Promise.allSettled([redis.stop(), cluster.stop()]);
      await removeWorkDir(work);
    },
  };
}

/** Three generations of `app` (sharing their base layer) pushed to `<ns>/app:latest`, plus an orphan. */
export async function pushGenerations(world: World, namespace: string, seed: string): Promise<BuiltImage[]> {
  const images: BuiltImage[] = [];
  for (let generation = 1; generation <= 3; generation++) {
    const image = await world.build(`${seed}-${namespace}-${generation}`, seed, generation);
    await world.push(image, `${namespace}/app:latest`);
    images.push(image);
  }
  return images;
}
