// Push with the action's committed bundle, prune with the pruner worker on a private Redis, against one
// simulated cluster with a real registry: metadata mode leaves storage alone, full mode frees the blobs of
// unused builds but keeps what a Pod runs, and a second trigger during a run is rejected.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { openSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterClient, Resources, type KubeObject } from '@registry-push/core';
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import {
  buildOciImage,
  makeWorkDir,
  registryBlobDir,
  removeWorkDir,
  runSkopeo,
  startRedis,
  type BuiltImage,
  type RunningRedis,
} from '@registry-push/testkit';

import { baseEnv, localRun, prunerCli, runNode } from '../src/processes.js';

/** sha256 of every file under a directory, by relative path. */
async function hashTree(dir: string): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  const walk = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile())
        hashes.set(
          relative(dir, path),
          createHash('sha256')
            .update(await readFile(path))
            .digest('hex'),
        );
    }
  };
  await walk(dir);
  return hashes;
}

/** The blob digests (layers and config) of a single-platform build. */
const blobsOf = (image: BuiltImage): string[] =>
  image.manifests.flatMap((m) => [m.config.digest, ...m.layers.map((l) => l.digest)]);

interface RunJson {
  run: { status: string; dryRun: boolean; mode?: string; runId: string; activeRun?: string };
}

interface ImageStreamObject extends KubeObject {
  status?: { tags?: { tag: string; items?: { image: string }[] }[] };
}

describe.runIf(process.getuid?.() === 0)('push with the action, prune with the worker', () => {
  let workDir = '';
  let cluster: RunningCluster;
  let redis: RunningRedis | undefined;
  const children: ChildProcess[] = [];
  let admin: ClusterClient;
  let caFile = '';
  let host = '';
  let certDir = '';
  let prunerEnv: NodeJS.ProcessEnv = {};
  let worker: ChildProcess | undefined;

  /** The storage path of a blob in the distribution layout. */
  const blobPath = (digest: string): string => registryBlobDir(cluster.registryStorageDir, digest);
  const exists = async (path: string): Promise<boolean> =>
    readdir(path).then(
      () => true,
      () => false,
    );

  const startWorker = (name: string, extra: NodeJS.ProcessEnv = {}): ChildProcess => {
    const log = openSync(join(workDir, `${name}.log`), 'w');
    const child = spawn(process.execPath, [prunerCli, 'worker'], {
      env: { ...prunerEnv, PRUNER_WORKER_NAME: name, ...extra },
      stdio: ['ignore', log, log],
    });
    children.push(child);
    return child;
  };
  const stopChild = async (child: ChildProcess): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid, 'SIGTERM');
    await exited;
  };

  let buildCounter = 0;
  /** Build an image and push it with the action bundle to demo/<name>:latest; returns it and the pushed digest. */
  const push = async (name: string): Promise<{ image: BuiltImage; digest: string }> => {
    buildCounter++;
    const image = await buildOciImage({
      outDir: join(workDir, `build-${buildCounter}`),
      layers: 2,
      layerSize: 64 * 1024,
      seed: `e2e-${name}-${buildCounter}`,
    });
    const result = await runNode(
      [
        localRun,
        `kubeconfig=${buildCounter === 1 ? cluster.kubeconfig : (cluster.users['developer']?.kubeconfig ?? '')}`,
        'namespace=demo',
        `image=${name}`,
        'tags=latest',
        `source=oci:${image.layoutDir}`,
        `ca-file=${caFile}`,
      ],
      baseEnv(),
    );
    const outputs = /--- outputs ---\n(\{[\s\S]*?\n\})/.exec(result.stdout)?.[1];
    if (result.code !== 0 || outputs === undefined)
      throw new Error(`the action failed:\n${result.stdout}${result.stderr}`);
    const digest = (JSON.parse(outputs) as Record<string, string>)['digest'] ?? '';
    expect(digest).toBe(image.digest);
    return { image, digest };
  };

  const enqueue = async (args: string[]): Promise<{ code: number | null; json: RunJson; raw: string }> => {
    const result = await runNode(
      [prunerCli, 'enqueue', '--wait', '--timeout', '2m', '--output', 'json', ...args],
      prunerEnv,
    );
    let json: RunJson;
    try {
      json = JSON.parse(result.stdout) as RunJson;
    } catch {
      const log = await readFile(join(workDir, 'main.log'), 'utf8').catch(() => '');
      throw new Error(
        `enqueue printed no JSON (exit ${String(result.code)}):\n${result.stderr}\n${log.slice(-3000)}`,
      );
    }
    return { code: result.code, json, raw: result.stdout };
  };

  const skopeoInspect = (ref: string): Promise<{ stdout: string }> =>
    runSkopeo([
      'inspect',
      '--cert-dir',
      certDir,
      '--creds',
      `developer:${cluster.users['developer']?.token ?? ''}`,
      `docker://${host}/${ref}`,
    ]);

  beforeAll(async () => {
    workDir = await makeWorkDir('e2e-push-prune');
    cluster = await startCluster();
    expect(cluster.routerMode).toBe('hosts');
    caFile = join(workDir, 'registry-ca.pem');
    await writeFile(caFile, cluster.ingressCaPem);
    host = `default-route-openshift-image-registry.${cluster.appsDomain}`;
    certDir = join(workDir, 'certs.d', host);
    await mkdir(certDir, { recursive: true, mode: 0o700 });
    await writeFile(join(certDir, 'ca.crt'), cluster.ingressCaPem);
    admin = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
    await admin.mergePatch(Resources.imagePruner, 'cluster', {
      spec: { keepTagRevisions: 1, keepYoungerThanDuration: '0s' },
    });
    redis = await startRedis();
    prunerEnv = {
      ...baseEnv(),
      KUBECONFIG: cluster.kubeconfig,
      REDIS_URL: redis.url,
      PRUNER_HTTP_PORT: '0',
      PRUNER_REGISTRY_HOST: host,
      PRUNER_REGISTRY_CA_FILE: caFile,
      // One phase: the registry side at once (the undo window's two phases are tested in services/pruner).
      PRUNER_UNDO_WINDOW: '0',
    };
    worker = startWorker('main');
  }, 120_000);

  afterAll(async () => {
    for (const child of children) await stopChild(child);
    await redis?.stop();
    await cluster?.stop();
    if (workDir !== '') await removeWorkDir(workDir);
  }, 60_000);

  it('metadata mode (Unmanaged registry) prunes Images and history, storage stays byte for byte', async () => {
    const builds = [];
    for (let i = 0; i < 3; i++) builds.push(await push('meta'));
    const [first, second, third] = builds as [(typeof builds)[0], (typeof builds)[0], (typeof builds)[0]];

    await admin.mergePatch(Resources.registryConfig, 'cluster', { spec: { managementState: 'Unmanaged' } });
    const before = await hashTree(cluster.registryStorageDir);
    for (const build of builds) expect(await exists(blobPath(blobsOf(build.image)[1] ?? ''))).toBe(true);

    const { code, json, raw } = await enqueue(['--confirm']);
    expect(code, raw).toBe(0);
    expect(json.run).toMatchObject({ status: 'succeeded', dryRun: false, mode: 'metadata' });

    expect(await admin.find(Resources.image, first.digest)).toBeUndefined();
    expect(await admin.find(Resources.image, second.digest)).toBeUndefined();
    expect((await admin.get(Resources.image, third.digest)).metadata.name).toBe(third.digest);
    const stream = await admin.get<ImageStreamObject>(Resources.imageStream, 'meta', 'demo');
    const latest = stream.status?.tags?.find((t) => t.tag === 'latest');
    expect(latest?.items?.map((item) => item.image)).toEqual([third.digest]);

    const after = await hashTree(cluster.registryStorageDir);
    expect(before.size).toBeGreaterThan(0);
    expect(after).toEqual(before);
  }, 90_000);

  it('full mode (Managed) frees unused old builds, keeps the one a Pod uses and the latest', async () => {
    await admin.mergePatch(Resources.registryConfig, 'cluster', { spec: { managementState: 'Managed' } });
    const builds = [];
    for (let i = 0; i < 3; i++) builds.push(await push('app'));
    const [inUse, unused, latest] = builds as [(typeof builds)[0], (typeof builds)[0], (typeof builds)[0]];

    await admin.create(Resources.pod, {
      metadata: { name: 'runs-old-build', namespace: 'demo' },
      spec: { containers: [{ name: 'app', image: `${cluster.internalRegistry}/demo/app@${inUse.digest}` }] },
    } as KubeObject);

    for (const build of builds)
      for (const blob of blobsOf(build.image)) expect(await exists(blobPath(blob)), blob).toBe(true);

    const { code, json, raw } = await enqueue(['--confirm']);
    expect(code, raw).toBe(0);
    expect(json.run).toMatchObject({ status: 'succeeded', dryRun: false, mode: 'full' });

    expect(await admin.find(Resources.image, unused.digest)).toBeUndefined();
    expect((await admin.get(Resources.image, inUse.digest)).metadata.name).toBe(inUse.digest);
    for (const blob of blobsOf(unused.image)) expect(await exists(blobPath(blob)), blob).toBe(false);
    for (const blob of [...blobsOf(inUse.image), ...blobsOf(latest.image)])
      expect(await exists(blobPath(blob)), blob).toBe(true);

    const pinned = await skopeoInspect(`demo/app@${inUse.digest}`);
    expect((JSON.parse(pinned.stdout) as { Digest: string }).Digest).toBe(inUse.digest);
    const tagged = await skopeoInspect('demo/app:latest');
    expect((JSON.parse(tagged.stdout) as { Digest: string }).Digest).toBe(latest.digest);
  }, 90_000);

  it('a second trigger while a run is in progress is rejected (exit 3)', async () => {
    if (worker !== undefined) await stopChild(worker);
    // This worker pauses 5 s right after the plan was stored, while it holds the run lock.
    startWorker('paused', { PRUNER_FAILPOINT: 'plan-stored:5000' });
    const firstRun = enqueue([]);
    const log = join(workDir, 'paused.log');
    for (let i = 0; !(await readFile(log, 'utf8')).includes('failpoint reached'); i++) {
      if (i > 100)
        throw new Error(`the paused worker never reached its failpoint:\n${await readFile(log, 'utf8')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const second = await enqueue([]);
    expect(second.code, second.raw).toBe(3);
    expect(second.json.run.status).toBe('rejected');
    const first = await firstRun;
    expect(first.code, first.raw).toBe(0);
    expect(first.json.run).toMatchObject({ status: 'succeeded', dryRun: true });
    expect(second.json.run.activeRun).toBe(first.json.run.runId);
  }, 60_000);
});
