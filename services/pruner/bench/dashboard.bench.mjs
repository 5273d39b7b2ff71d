/* global process, console, performance, URLSearchParams, fetch */
// The dashboard's plan explorer at scale: the synthetic cluster of the core's plan benchmark (IMAGES Images,
// a fifth as many streams, half as many pods) is planned as a dry run is (every decision listed, full mode,
// keepTagRevisions 2), its explorer index built and stored in a real Redis, and the explorer is then served
// by the dashboard's own server (access allowed by a stand-in: the cluster's reviews are not what is
// measured). It measures, in one process with the deployed NODE_OPTIONS as the worker runs it: the plan,
// the index build and store, the index's size in Redis, the peak RSS, the time to first render of each level
// of the explorer (first request, then the median of REPEATS), and the RSS while serving.
//
//   npx turbo run build --filter=@registry-push/pruner && node services/pruner/bench/dashboard.bench.mjs
//
// Environment: BENCH_DASHBOARD_IMAGES (default 100000), BENCH_DASHBOARD_REPEATS (20).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  NOW,
  deployedNodeOptions,
  syntheticCluster,
} from '../../../packages/core/bench/prune-scale-fixture.mjs';

const IMAGES = Number(process.env.BENCH_DASHBOARD_IMAGES ?? 100_000);
const REPEATS = Number(process.env.BENCH_DASHBOARD_REPEATS ?? 20);
const MiB = 1024 * 1024;

if (process.argv[2] !== '--child') {
  // Run the measurement in a process of its own, with the worker's heap settings.
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child'], {
    env: { ...process.env, NODE_OPTIONS: deployedNodeOptions() },
    stdio: 'inherit',
  });
  process.exit(child.status ?? 1);
}

const rss = () => process.memoryUsage().rss;
const peak = () => process.resourceUsage().maxRSS * 1024;
const page = (items) => JSON.parse(JSON.stringify({ items })).items;

const core = await import('@registry-push/core');
const { SnapshotBuilder } = await import('../../../packages/core/dist/prune/snapshot.js');
const { startRedis } = await import('@registry-push/testkit');
const { connectRedis } = await import('../dist/redis.js');
const { loadSettings } = await import('../dist/settings.js');
const { RedisRunStore } = await import('../dist/store/redis-run-store.js');
const { ExplorerStore, buildExplorerIndex } = await import('../dist/web/explorer.js');
const { Dashboard } = await import('../dist/web/server.js');
const { startHealthServer } = await import('../dist/http.js');
const { createLogger } = await import('../dist/logger.js');

const redis = await startRedis();
const settings = loadSettings({ REDIS_URL: redis.url, PRUNER_QUEUE: 'bench' });
const connection = connectRedis(settings.redis, 'worker');
const store = new RedisRunStore(connection, settings.prefix, settings.queue);
const explorer = new ExplorerStore(connection, settings.prefix, settings.queue);
const runId = 'bench-dry-run';
const rows = [];
try {
  let started = performance.now();
  const builder = new SnapshotBuilder({
    takenAt: NOW.toISOString(),
    protectAnnotation: 'registry-push.io/prune-protect',
  });
  const add = { images: 'addImages', streams: 'addStreams', pods: 'addPods' };
  for (const { kind, items } of syntheticCluster(IMAGES)) builder[add[kind]](page(items));
  let snapshot = builder.finish();
  const { policy } = core.resolvePrunePolicy({ keepTagRevisions: 2 });
  let plan = core.planPrune(snapshot, policy, { mode: 'full', now: NOW, detail: 'all' });
  snapshot = undefined;
  rows.push([
    'snapshot and plan (every decision)',
    `${((performance.now() - started) / 1000).toFixed(1)} s`,
    `${plan.items.length} decisions`,
  ]);
  started = performance.now();
  let index = buildExplorerIndex(runId, plan);
  rows.push([
    'index built',
    `${((performance.now() - started) / 1000).toFixed(1)} s`,
    `${index.digests.size} digests, ${index.items.size} tags`,
  ]);
  started = performance.now();
  const before = Number(/used_memory:(\d+)/.exec(await connection.info('memory'))?.[1] ?? 0);
  await explorer.put(index);
  const after = Number(/used_memory:(\d+)/.exec(await connection.info('memory'))?.[1] ?? 0);
  rows.push([
    'index stored in Redis',
    `${((performance.now() - started) / 1000).toFixed(1)} s`,
    `${((after - before) / MiB).toFixed(0)} MiB in Redis`,
  ]);
  const planId = plan.id;
  plan = undefined;
  index = undefined;
  globalThis.gc?.();
  rows.push(['peak RSS while planning and indexing', '', `${(peak() / MiB).toFixed(0)} MiB`]);
  await store.putRun({
    runId,
    trigger: 'manual',
    status: 'succeeded',
    dryRun: true,
    createdAt: NOW.toISOString(),
    planId,
  });

  const dashboard = new Dashboard({
    settings,
    client: undefined,
    store,
    explorer,
    queue: undefined,
    logger: createLogger('warn'),
    access: async () => ({ user: 'bench', canRead: true, canApprove: true }),
  });
  const http = await startHealthServer('127.0.0.1', 0, {
    notReady: async () => undefined,
    metrics: { contentType: 'text/plain', metrics: async () => '' },
    web: (request, response) => dashboard.handle(request, response),
  });
  const base = `http://127.0.0.1:${http.port}`;
  const get = async (path) => {
    const t = performance.now();
    const response = await fetch(base + path, { headers: { authorization: 'Bearer bench' } });
    const body = await response.text();
    if (response.status !== 200) throw new Error(`${path}: ${response.status} ${body.slice(0, 300)}`);
    return { ms: performance.now() - t, bytes: body.length };
  };
  const namespaces = await explorer.namespaces(runId);
  const ns = namespaces.sort((a, b) => b.changes + b.keeps - a.changes - a.keeps)[0].name;
  const streams = await explorer.streams(runId, ns);
  const stream = streams.sort((a, b) => b.changes + b.keeps - a.changes - a.keeps)[0].name;
  const tags = await explorer.tags(runId, `${ns}/${stream}`);
  const tag = tags.sort((a, b) => b.changes + b.keeps - a.changes - a.keeps)[0].name;
  const q = (o) => new URLSearchParams(o).toString();
  const levels = [
    [`namespaces (${namespaces.length})`, `/plans/${runId}`],
    [`namespaces, page 2 sorted by name`, `/plans/${runId}?sort=name&dir=asc&page=2`],
    [`streams of ${ns} (${streams.length})`, `/plans/${runId}?${q({ ns })}`],
    [`tags of ${ns}/${stream} (${tags.length})`, `/plans/${runId}?${q({ ns, stream })}`],
    [`decisions of tag ${tag}`, `/plans/${runId}?${q({ ns, stream, tag })}`],
  ];
  for (const [label, path] of levels) {
    const first = await get(path);
    const times = [];
    for (let i = 0; i < REPEATS; i++) times.push((await get(path)).ms);
    times.sort((a, b) => a - b);
    rows.push([
      `first render: ${label}`,
      `${first.ms.toFixed(0)} ms`,
      `median ${times[Math.floor(times.length / 2)].toFixed(1)} ms, ${(first.bytes / 1024).toFixed(0)} KiB`,
    ]);
  }
  rows.push(['RSS while serving', '', `${(rss() / MiB).toFixed(0)} MiB`]);
  await http.close();
} finally {
  connection.disconnect();
  await redis.stop();
}
console.log(
  `Plan explorer, ${IMAGES} images (${IMAGES / 5} streams, ${IMAGES / 2} pods), NODE_OPTIONS ${deployedNodeOptions()}`,
);
console.log('| step | time | figure |\n| --- | ---: | ---: |');
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
