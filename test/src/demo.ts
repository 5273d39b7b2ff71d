// The demo behind the README's Quick start: the whole product on one machine, with nothing mocked but the
// OpenShift API (the simulator's job). A simulated cluster with a real registry behind its router; four CI
// runs of the GitHub Action's committed bundle pushing builds to two tags (the first, as an admin, exposes
// the registry); then the pruner service — a worker process on a private Redis — run once as a dry run and
// once confirmed, with its plan and result tables; and skopeo checking what is left.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ClusterClient, Resources } from '@registry-push/core';
import { baseEnv, localRun, prunerCli, runNode } from './processes.js';
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import {
  buildOciImage,
  makeWorkDir,
  removeWorkDir,
  runSkopeo,
  startRedis,
  type RunningRedis,
} from '@registry-push/testkit';

const step = (text: string): void => {
  process.stdout.write(`==> ${text}\n`);
};
const indent = (text: string): void => {
  process.stdout.write(
    text
      .trimEnd()
      .split('\n')
      .map((line) => `    ${line}`)
      .join('\n') + '\n',
  );
};

/** Run the action's bundle (main, then post) as a runner does; returns its outputs. */
async function runAction(inputs: Record<string, string>): Promise<Record<string, string>> {
  const result = await runNode(
    [localRun, ...Object.entries(inputs).map(([name, value]) => `${name}=${value}`)],
    baseEnv(),
  );
  const outputs = /--- outputs ---\n(\{[\s\S]*?\n\})/.exec(result.stdout)?.[1];
  if (result.code !== 0 || outputs === undefined) {
    throw new Error(`the action failed:\n${result.stdout}${result.stderr}`);
  }
  return JSON.parse(outputs) as Record<string, string>;
}

/** Run `registry-pruner` with the given arguments and environment; returns stdout. */
async function pruner(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const result = await runNode([prunerCli, ...args], env);
  if (result.code !== 0) throw new Error(`registry-pruner ${args.join(' ')} failed:\n${result.stderr}`);
  return result.stdout;
}

/** Four CI runs of the action's bundle, each pushing a new build to two tags; the first as an admin. */
async function ciRuns(
  cluster: RunningCluster,
  workDir: string,
  caFile: string,
  target: Record<string, string>,
): Promise<void> {
  for (let build = 1; build <= 4; build++) {
    const image = await buildOciImage({
      outDir: join(workDir, `build-${build}`),
      layers: 2,
      layerSize: 512 * 1024,
      seed: `demo-build-${build}`,
    });
    const asAdmin = build === 1;
    step(
      `CI run ${build}: the action pushes build ${build} to demo/app:latest and :stable as ${asAdmin ? 'kubeadmin (exposes the registry)' : 'developer'}`,
    );
    const outputs = await runAction({
      kubeconfig: asAdmin ? cluster.kubeconfig : (cluster.users['developer']?.kubeconfig ?? ''),
      namespace: 'demo',
      image: 'app',
      tags: 'latest,stable',
      source: `oci:${image.layoutDir}`,
      'ca-file': caFile,
      ...target,
    });
    indent(`registry ${outputs['registry'] ?? ''} (${outputs['registry-source'] ?? ''})`);
    indent(`digest   ${outputs['digest'] ?? ''}`);
    indent(`in-cluster pull spec ${outputs['internal-ref'] ?? ''}`);
  }
}

async function main(): Promise<void> {
  const workDir = await makeWorkDir('demo');
  let cluster: RunningCluster | undefined;
  let redis: RunningRedis | undefined;
  let worker: ReturnType<typeof spawn> | undefined;
  const stopAll = async (): Promise<void> => {
    worker?.kill('SIGTERM');
    await redis?.stop();
    await cluster?.stop();
    await removeWorkDir(workDir);
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  try {
    step('starting a simulated OpenShift cluster on loopback (API server, operators, router, real registry)');
    cluster = await startCluster();
    step(`API server ${cluster.apiServer}, apps domain ${cluster.appsDomain}`);

    // Route hosts resolve only in hosts mode (root: /etc/hosts entries); otherwise the demo names the
    // registry's service address, which the action then uses without discovery.
    const viaRoute = cluster.routerMode === 'hosts';
    const caFile = join(workDir, 'registry-ca.pem');
    await writeFile(caFile, viaRoute ? cluster.ingressCaPem : cluster.serviceCaPem);
    const target: Record<string, string> = viaRoute ? {} : { registry: cluster.registryServiceAddress };

    await ciRuns(cluster, workDir, caFile, target);

    step(
      'the ImagePruner CR asks for 1 revision per tag and no minimum age (the operator default is 3 and 60m)',
    );
    const admin = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
    await admin.mergePatch(Resources.imagePruner, 'cluster', {
      spec: { keepTagRevisions: 1, keepYoungerThanDuration: '0s' },
    });

    redis = await startRedis();
    const host = viaRoute
      ? `default-route-openshift-image-registry.${cluster.appsDomain}`
      : cluster.registryServiceAddress;
    const prunerEnv: NodeJS.ProcessEnv = {
      ...baseEnv(),
      // The demo runs the worker as cluster-admin for brevity; in a cluster it runs as its ServiceAccount
      // with the least-privilege role in services/pruner/deploy, which services/pruner/test/deploy.test.ts
      // applies to the simulator and runs a confirmed prune with.
      KUBECONFIG: cluster.kubeconfig,
      REDIS_URL: redis.url,
      PRUNER_HTTP_PORT: '0',
      PRUNER_REGISTRY_HOST: host,
      PRUNER_REGISTRY_CA_FILE: caFile,
      // Storage is freed at once here; by default a confirmed full run removes the metadata now and deletes
      // from the registry 24 h later, while `registry-pruner restore RUN` can still take it back.
      PRUNER_UNDO_WINDOW: '0',
    };
    step(`starting the pruner worker (registry-pruner worker) on a private Redis at ${redis.url}`);
    const workerLog = join(workDir, 'worker.log');
    const { openSync } = await import('node:fs');
    const logFd = openSync(workerLog, 'w');
    worker = spawn(process.execPath, [prunerCli, 'worker'], {
      env: prunerEnv,
      stdio: ['ignore', logFd, logFd],
    });
    const workerFailed = async (): Promise<string> => {
      const { readFile } = await import('node:fs/promises');
      return (await readFile(workerLog, 'utf8')).split('\n').slice(-15).join('\n');
    };

    step('registry-pruner enqueue --wait: a dry run first — the plan, nothing changed');
    indent(
      await pruner(['enqueue', '--wait', '--timeout', '2m'], prunerEnv).catch(async (error: unknown) => {
        throw new Error(`${String(error)}\nworker log:\n${await workerFailed()}`);
      }),
    );
    step(
      'registry-pruner enqueue --confirm --wait: the same run carried out (Managed registry: full mode; ' +
        'PRUNER_UNDO_WINDOW=0 frees the storage now instead of after the 24 h undo window)',
    );
    indent(await pruner(['enqueue', '--confirm', '--wait', '--timeout', '2m'], prunerEnv));

    step('checking with skopeo: the kept revision still pulls');
    const inspected = await runSkopeo([
      'inspect',
      '--cert-dir',
      await certDir(workDir, host, viaRoute ? cluster.ingressCaPem : cluster.serviceCaPem),
      '--creds',
      `developer:${cluster.users['developer']?.token ?? ''}`,
      `docker://${host}/demo/app:latest`,
    ]);
    indent(`demo/app:latest -> ${(JSON.parse(inspected.stdout) as { Digest: string }).Digest}`);
    step('ok: pushed by the action, pruned by the worker, the kept image pulls');
  } finally {
    await stopAll();
    step('stopped the worker, Redis and the cluster, and removed their files');
  }
}

/** A certs.d directory for one host (skopeo's --cert-dir). */
async function certDir(workDir: string, host: string, caPem: string): Promise<string> {
  const { mkdir } = await import('node:fs/promises');
  const dir = join(workDir, 'certs.d', host);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(join(dir, 'ca.crt'), caPem);
  return dir;
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
