/* global process, console, setTimeout, URL */
// Worker throughput: one metadata-mode run of STREAMS imagestreams (two history items each, so one stream
// unit and one image unit per stream) through 1, 2 and 4 worker processes, against the simulator behind a
// TCP proxy that delays every client-to-server chunk by LATENCY ms (a remote API server). Each count runs
// REPEATS times on a fresh set of streams; the table gives the median and the range. The raw samples also go
// to bench-results/throughput.json at the repository root.
//
//   npx turbo run build --filter=@registry-push/pruner && npm run bench -w @registry-push/pruner
//
// Environment: BENCH_STREAMS (default 60), BENCH_LATENCY_MS (20), BENCH_REPEATS (3), BENCH_WORKERS (1,2,4).
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClusterClient, Resources } from '@registry-push/core';
import { startCluster } from '@registry-push/openshift-sim';
import { makeWorkDir, removeWorkDir, startRedis } from '@registry-push/testkit';

const STREAMS = Number(process.env.BENCH_STREAMS ?? 60);
const LATENCY = Number(process.env.BENCH_LATENCY_MS ?? 20);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const COUNTS = (process.env.BENCH_WORKERS ?? '1,2,4').split(',').map(Number);
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');
const INTERNAL = 'image-registry.openshift-image-registry.svc:5000';

const digest = (seed) => `sha256:${createHash('sha256').update(seed).digest('hex')}`;

/** A TCP proxy to `target` that holds every client chunk for `delayMs` (TLS passes through untouched). */
async function latencyProxy(target, delayMs) {
  const sockets = new Set();
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    client.on('data', (chunk) => setTimeout(() => upstream.write(chunk), delayMs));
    upstream.on('data', (chunk) => client.write(chunk));
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

async function createScenario(admin, namespace) {
  await admin.create(Resources.namespace, { metadata: { name: namespace } });
  const base = Date.now() - 3_600_000;
  const work = [];
  for (let s = 0; s < STREAMS; s++) {
    work.push(
      (async () => {
        const images = [];
        for (let d = 0; d < 2; d++) {
          const name = digest(`${namespace}-${s}-${d}`);
          await admin.create(Resources.image, {
            metadata: { name, annotations: { 'openshift.io/image.managed': 'true' } },
            dockerImageReference: `${INTERNAL}/${namespace}/app${s}@${name}`,
            dockerImageManifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
            dockerImageLayers: [
              {
                name: digest(`${name}-layer`),
                size: 1000,
                mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
              },
            ],
            dockerImageMetadata: { Id: digest(`${name}-config`), Size: 1100 },
          });
          images.push(name);
        }
        const stream = await admin.create(Resources.imageStream, {
          metadata: { name: `app${s}`, namespace },
          spec: {},
        });
        await admin.replaceStatus(Resources.imageStream, {
          ...stream,
          status: {
            tags: [
              {
                tag: 'latest',
                items: images.map((image, i) => ({
                  created: new Date(base - i * 60_000).toISOString().replace(/\.\d+Z$/, 'Z'),
                  dockerImageReference: `${INTERNAL}/${namespace}/app${s}@${image}`,
                  image,
                  generation: 1,
                })),
              },
            ],
          },
        });
      })(),
    );
    if (work.length >= 8) await Promise.all(work.splice(0));
  }
  await Promise.all(work);
}

function run(args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${args.join(' ')}: ${code}\n${out}\n${err}`)),
    );
  });
}

function startWorkers(count, env) {
  return Array.from({ length: count }, (_, i) => {
    const child = spawn(process.execPath, [CLI, 'worker'], {
      env: { ...env, PRUNER_WORKER_NAME: `bench-${i}` },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const ready = new Promise((resolve) => {
      let buffer = '';
      child.stdout.on('data', (chunk) => {
        buffer += chunk;
        if (buffer.includes('"worker started"')) resolve();
      });
    });
    return { child, ready };
  });
}

async function stopWorkers(workers) {
  await Promise.all(
    workers.map(
      ({ child }) =>
        new Promise((resolve) => {
          child.once('exit', resolve);
          process.kill(child.pid, 'SIGTERM');
        }),
    ),
  );
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const fmt = (values, digits) =>
  `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;

const cluster = await startCluster({ routerMode: 'port' });
const redis = await startRedis();
const work = await makeWorkDir('pruner-bench');
const proxy = await latencyProxy(
  { host: '127.0.0.1', port: Number(new URL(cluster.apiServer).port) },
  LATENCY,
);
try {
  const admin = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
  await admin.mergePatch(Resources.imagePruner, 'cluster', {
    spec: { keepTagRevisions: 1, keepYoungerThanDuration: '0s' },
  });
  const kubeconfig = join(work, 'slow.kubeconfig');
  await writeFile(
    kubeconfig,
    (await readFile(cluster.kubeconfig, 'utf8')).replace(
      cluster.apiServer,
      `https://127.0.0.1:${proxy.port}`,
    ),
  );
  const rows = [];
  const samples = [];
  for (const count of COUNTS) {
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
      KUBECONFIG: kubeconfig,
      REDIS_URL: redis.url,
      PRUNER_QUEUE: `bench-${randomUUID().slice(0, 8)}`,
      PRUNER_MODE: 'metadata',
      PRUNER_HTTP_PORT: '0',
      PRUNER_RATE: '1000',
      PRUNER_BATCH_SIZE: '5',
      PRUNER_LOG_LEVEL: 'info',
    };
    const workers = startWorkers(count, env);
    await Promise.all(workers.map((w) => w.ready));
    const seconds = [];
    const unitsPerSecond = [];
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      await createScenario(admin, `bench-${count}-${repeat}`);
      const { run: record } = JSON.parse(
        await run(['enqueue', '--confirm', '--wait', '--output', 'json'], env),
      );
      if (record.status !== 'succeeded') throw new Error(`run ${record.runId} ${record.status}`);
      const elapsed = (Date.parse(record.finishedAt) - Date.parse(record.createdAt)) / 1000;
      seconds.push(elapsed);
      unitsPerSecond.push(record.units / elapsed);
      console.error(
        `workers=${count} repeat=${repeat + 1}: ${record.units} units in ${elapsed.toFixed(2)} s`,
      );
    }
    await stopWorkers(workers);
    rows.push(`| ${count} | ${STREAMS * 2} | ${fmt(seconds, 2)} | ${fmt(unitsPerSecond, 1)} |`);
    samples.push({ workers: count, units: STREAMS * 2, seconds, unitsPerSecond });
  }
  console.log(
    `\nMetadata-mode run of ${STREAMS} streams (${STREAMS * 2} units), API latency +${LATENCY} ms per request, ${REPEATS} runs each:\n`,
  );
  console.log('| workers | units | run time, s: median (min–max) | units/s: median (min–max) |');
  console.log('| ------: | ----: | ----------------------------: | ------------------------: |');
  for (const row of rows) console.log(row);
  const results = fileURLToPath(new URL('../../../bench-results/', import.meta.url));
  await mkdir(results, { recursive: true });
  await writeFile(
    join(results, 'throughput.json'),
    `${JSON.stringify({ bench: 'throughput', streams: STREAMS, latencyMs: LATENCY, repeats: REPEATS, samples }, null, 2)}\n`,
  );
} finally {
  await proxy.close();
  await redis.stop();
  await cluster.stop();
  await removeWorkDir(work);
}
