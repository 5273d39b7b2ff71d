/* global process, console, performance, URL */
// The pruner at scale, as it is deployed: openshift-sim is filled through its API with the synthetic cluster
// of the core's plan benchmark (IMAGES Images, a fifth as many ImageStreams with histories, half as many
// Pods), then `registry-pruner run` (a dry run: every list read page by page through the API, the plan, the
// table; then once more with --output json) runs in its own process with the NODE_OPTIONS of
// deploy/deployment.yaml. Its wall time and peak RSS (VmHWM, sampled) are the figures; REPEATS runs give a
// median and a range. The rows also go to bench-results/run-scale.json at the repository root.
//
//   npx turbo run build --filter=@registry-push/pruner && npm run bench -w @registry-push/pruner
//
// Environment: BENCH_SCALE_IMAGES (default 100000), BENCH_SCALE_REPEATS (3).
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClusterClient, Resources } from '@registry-push/core';
import { startCluster } from '@registry-push/openshift-sim';
import { deployedNodeOptions } from '../../../packages/core/bench/prune-scale-fixture.mjs';
import { fmt, peakRssSampler, seed } from './scale-support.mjs';

const IMAGES = Number(process.env.BENCH_SCALE_IMAGES ?? 100_000);
const REPEATS = Number(process.env.BENCH_SCALE_REPEATS ?? 3);
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');
/**
 * Runs `registry-pruner run --output <output>`; resolves with its wall time, peak RSS, the size of what it
 * printed and, for the table, the text (the JSON of a 100k-image run is half a GiB: only counted).
 */
function runPruner(env, output) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, 'run', '--output', output], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const peak = peakRssSampler(child.pid);
    let text = '';
    let bytes = 0;
    let err = '';
    child.stdout.on('data', (chunk) => {
      bytes += chunk.length;
      if (output === 'table') text += chunk;
    });
    child.stderr.on('data', (chunk) => (err = (err + chunk).slice(-4000)));
    child.on('error', reject);
    child.on('exit', (code) => {
      const seconds = (performance.now() - started) / 1000;
      void peak.stop().then((peakRssMiB) => {
        if (code !== 0) reject(new Error(`registry-pruner run exited ${code}\n${err}`));
        else resolve({ seconds, peakRssMiB, bytes, text });
      });
    });
  });
}

/** Deletes and updates in the plan table (`kind keep delete update` rows). */
function plannedChanges(table) {
  let changes = 0;
  for (const line of table.split('\n')) {
    const match =
      /^(tag-history|stream-update|manifest-link|layer-link|blob|image)\s+(\d+)\s+(\d+)\s+(\d+)$/.exec(line);
    if (match) changes += Number(match[3]) + Number(match[4]);
  }
  return changes;
}

const cluster = await startCluster({ routerMode: 'port' });
try {
  const admin = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
  const seeding = performance.now();
  const counts = await seed(cluster, IMAGES);
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
  const rows = [];
  for (const output of ['table', 'json']) {
    const samples = [];
    for (let repeat = 0; repeat < REPEATS; repeat++) samples.push(await runPruner(env, output));
    rows.push({
      output,
      images: counts.images,
      streams: counts.streams,
      pods: counts.pods,
      nodeOptions,
      seedSeconds,
      seconds: samples.map((s) => s.seconds),
      peakRssMiB: samples.map((s) => s.peakRssMiB),
      outputMiB: samples[0].bytes / 2 ** 20,
      ...(output === 'table' ? { changes: plannedChanges(samples[0].text) } : {}),
    });
  }
  console.log(
    `registry-pruner run (dry run, full mode) against openshift-sim, NODE_OPTIONS='${nodeOptions}', ${REPEATS} run(s) per output; ` +
      `seeding through the API took ${seedSeconds.toFixed(0)} s`,
  );
  console.log(
    '| images | streams | pods | output | planned changes | printed MiB | run time s | peak RSS MiB |',
  );
  console.log('| ---: | ---: | ---: | :--- | ---: | ---: | ---: | ---: |');
  for (const row of rows) {
    console.log(
      `| ${row.images} | ${row.streams} | ${row.pods} | ${row.output} | ${rows[0].changes} | ${row.outputMiB.toFixed(1)} | ${fmt(row.seconds, 1)} | ${fmt(row.peakRssMiB, 0)} |`,
    );
  }
  const results = fileURLToPath(new URL('../../../bench-results/', import.meta.url));
  await mkdir(results, { recursive: true });
  await writeFile(
    join(results, 'run-scale.json'),
    `${JSON.stringify({ bench: 'run-scale', repeats: REPEATS, rows }, null, 2)}\n`,
  );
} finally {
  await cluster.stop();
}
