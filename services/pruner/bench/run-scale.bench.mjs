/* global process, console, setInterval, clearInterval, performance, URL */
// The pruner at scale, as it is deployed: openshift-sim is filled through its API with the synthetic cluster
// of the core's plan benchmark (IMAGES Images, a fifth as many ImageStreams with histories, half as many
// Pods), then `registry-pruner run` (a dry run: every list read page by page through the API, the plan, the
// table) runs in its own process with the NODE_OPTIONS of deploy/deployment.yaml. Its wall time and peak
// RSS (VmHWM, sampled) are the figures; REPEATS runs give a median and a range. The rows also go to
// bench-results/run-scale.json at the repository root.
//
//   npx turbo run build --filter=@registry-push/pruner && npm run bench -w @registry-push/pruner
//
// Environment: BENCH_SCALE_IMAGES (default 100000), BENCH_SCALE_REPEATS (3).
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClusterClient, Resources } from '@registry-push/core';
import { startCluster } from '@registry-push/openshift-sim';
import {
  deployedNodeOptions,
  syntheticCluster,
} from '../../../packages/core/bench/prune-scale-fixture.mjs';

const IMAGES = Number(process.env.BENCH_SCALE_IMAGES ?? 100_000);
const REPEATS = Number(process.env.BENCH_SCALE_REPEATS ?? 3);
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');
const CONCURRENCY = 32;

/** What the API server sets itself: a create must not carry it (the simulator, like kube, refuses it). */
function forCreate(object) {
  const { uid: _uid, resourceVersion: _rv, creationTimestamp: _created, ...metadata } = object.metadata;
  return { ...object, metadata };
}

/** Runs `task` over `items`, CONCURRENCY at a time. */
async function pool(items, task) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++]);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

async function seed(admin) {
  const namespaces = new Set();
  let counts = { images: 0, streams: 0, pods: 0 };
  for (const { kind, items } of syntheticCluster(IMAGES)) {
    for (const item of items) {
      const namespace = item.metadata.namespace;
      if (namespace !== undefined && !namespaces.has(namespace)) {
        namespaces.add(namespace);
        await admin.create(Resources.namespace, { metadata: { name: namespace } });
      }
    }
    if (kind === 'images') await pool(items, (image) => admin.create(Resources.image, forCreate(image)));
    if (kind === 'pods') await pool(items, (pod) => admin.create(Resources.pod, forCreate(pod)));
    if (kind === 'streams') {
      await pool(items, async (stream) => {
        const { status, ...rest } = forCreate(stream);
        const created = await admin.create(Resources.imageStream, rest);
        await admin.replaceStatus(Resources.imageStream, { ...created, status });
      });
    }
    counts = { ...counts, [kind]: counts[kind] + items.length };
  }
  return counts;
}

/** Runs the pruner CLI; resolves with its wall time, peak RSS and JSON output. */
function runPruner(env) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, 'run', '--output', 'json'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let peakKiB = 0;
    const sample = () =>
      readFile(`/proc/${child.pid}/status`, 'utf8').then(
        (status) => {
          const match = /VmHWM:\s+(\d+) kB/.exec(status);
          if (match) peakKiB = Math.max(peakKiB, Number(match[1]));
        },
        () => undefined,
      );
    const timer = setInterval(sample, 25);
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(timer);
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0) reject(new Error(`registry-pruner run exited ${code}\n${err.slice(-2000)}`));
      else resolve({ seconds, peakRssMiB: peakKiB / 1024, output: JSON.parse(out) });
    });
  });
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const fmt = (values, digits) =>
  `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;

const cluster = await startCluster({ routerMode: 'port' });
try {
  const admin = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
  const seeding = performance.now();
  const counts = await seed(admin);
  const seedSeconds = (performance.now() - seeding) / 1000;
  // The Images were all created just now: with the default 60m they would all be too young to prune.
  await admin.mergePatch(Resources.imagePruner, 'cluster', {
    spec: { keepTagRevisions: 2, keepYoungerThanDuration: '0s' },
  });
  const nodeOptions = deployedNodeOptions();
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/root',
    KUBECONFIG: cluster.kubeconfig,
    NODE_OPTIONS: nodeOptions,
    PRUNER_LOG_LEVEL: 'warn',
  };
  const samples = [];
  for (let repeat = 0; repeat < REPEATS; repeat++) samples.push(await runPruner(env));
  const { plan } = samples[0].output;
  const changes = Object.values(plan?.summary?.counts ?? {}).reduce(
    (sum, actions) => sum + (actions.delete ?? 0) + (actions.update ?? 0),
    0,
  );
  const row = {
    images: counts.images,
    streams: counts.streams,
    pods: counts.pods,
    nodeOptions,
    seedSeconds,
    seconds: samples.map((s) => s.seconds),
    peakRssMiB: samples.map((s) => s.peakRssMiB),
    changes,
    bytesFreed: plan?.summary?.bytesFreed ?? 0,
  };
  console.log(
    `registry-pruner run (dry run, full mode) against openshift-sim, NODE_OPTIONS='${nodeOptions}', ${REPEATS} run(s); ` +
      `seeding through the API took ${seedSeconds.toFixed(0)} s`,
  );
  console.log('| images | streams | pods | planned changes | run time s | peak RSS MiB |');
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: |');
  console.log(
    `| ${row.images} | ${row.streams} | ${row.pods} | ${changes} | ${fmt(row.seconds, 1)} | ${fmt(row.peakRssMiB, 0)} |`,
  );
  const results = fileURLToPath(new URL('../../../bench-results/', import.meta.url));
  await mkdir(results, { recursive: true });
  await writeFile(
    join(results, 'run-scale.json'),
    `${JSON.stringify({ bench: 'run-scale', repeats: REPEATS, row }, null, 2)}\n`,
  );
} finally {
  await cluster.stop();
}
