/* global process, performance, console, URL */
// Plan-scale benchmark of the prune engine: generates a synthetic cluster (images sharing base layers,
// streams with multi-revision histories, pods using tags and digests), reads it the way `takeSnapshot` does
// and times `planPrune` on the snapshot, each size in its own process so peak RSS is per size. Prints a
// markdown table, and writes the rows to bench-results/prune-plan.json at the repository root.
//
//   npx turbo run build --filter=@registry-push/core && npx node packages/core/bench/prune-plan.bench.mjs [sizes…]
//
// Sizes are image counts; streams are a fifth of that and pods half (the 100k/20k/50k shape).
//
// The objects arrive as the API server sends them: pages of 500 Images, ImageStreams and Pods serialised to
// JSON, parsed, converted by the engine's SnapshotBuilder and let go page by page. So every digest,
// namespace and pull spec in the snapshot is a string of its own parsed page, as in a real run, and the
// generator keeps no object of its own while the plan runs (only a few typed arrays of indices).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { NOW, deployedNodeOptions, syntheticCluster } from './prune-scale-fixture.mjs';

/** One page of a list, as the client gets it: JSON text from the server, parsed. */
const page = (items) => JSON.parse(JSON.stringify({ kind: 'List', metadata: {}, items })).items;

/** Feeds the synthetic cluster to a SnapshotBuilder page by page, as `takeSnapshot` would. */
function syntheticSnapshot(imageCount, { SnapshotBuilder }) {
  const builder = new SnapshotBuilder({
    takenAt: NOW.toISOString(),
    protectAnnotation: 'registry-push.io/prune-protect',
  });
  const add = { images: 'addImages', streams: 'addStreams', pods: 'addPods' };
  for (const { kind, items } of syntheticCluster(imageCount)) builder[add[kind]](page(items));
  return builder.finish();
}

const maxRss = () => process.resourceUsage().maxRSS * 1024;
const heapAfterGc = () => {
  globalThis.gc?.();
  return process.memoryUsage().heapUsed;
};

async function measure(imageCount, detail) {
  const core = await import('../dist/index.js');
  const { SnapshotBuilder } = await import('../dist/prune/snapshot.js');
  const baseHeap = heapAfterGc();
  const read = performance.now();
  const snapshot = syntheticSnapshot(imageCount, { SnapshotBuilder });
  const readMs = performance.now() - read;
  const readPeak = maxRss();
  const { policy } = core.resolvePrunePolicy({ keepTagRevisions: 2 });
  const snapshotHeap = heapAfterGc() - baseHeap;
  const before = process.memoryUsage().rss;
  const started = performance.now();
  const plan = core.planPrune(snapshot, policy, { mode: 'full', now: NOW, detail });
  const ms = performance.now() - started;
  const peak = maxRss();
  const planHeap = heapAfterGc() - baseHeap - snapshotHeap;
  // Size and digest of the plan as JSON lines (the digest tells whether two builds plan the same).
  let json = 0;
  const sha = createHash('sha256');
  for (const part of [plan.items, plan.units]) {
    for (const entry of part) {
      const line = `${JSON.stringify(entry)}\n`;
      json += line.length;
      sha.update(line);
    }
  }
  return {
    images: imageCount,
    detail,
    streams: snapshot.streams.length,
    pods: snapshot.uses.length,
    items: plan.items.length,
    units: plan.units.length,
    ms: Math.round(ms),
    readMs: Math.round(readMs),
    readPeak,
    snapshotHeap,
    snapshotRss: before,
    planHeap,
    peakRss: peak,
    peakWithJson: maxRss(),
    planJsonBytes: json,
    planSha: sha.digest('hex').slice(0, 16),
  };
}

const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

// The V8 flags of the measuring processes. Every row runs with the pruner's heap settings as deployed (the
// NODE_OPTIONS of services/pruner/deploy/deployment.yaml, read from there so the two cannot drift;
// PRUNE_BENCH_FLAGS overrides them), and the `all` rows once more with Node's own defaults, for comparison.
const HEAPS = [
  {
    heap: 'as deployed',
    flags: (process.env.PRUNE_BENCH_FLAGS ?? deployedNodeOptions()).split(' ').filter(Boolean),
  },
  { heap: 'Node defaults', flags: [] },
];

if (process.argv[2] === '--one') {
  process.stdout.write(JSON.stringify(await measure(Number(process.argv[3]), process.argv[4])));
} else {
  const sizes = process.argv.slice(2).map(Number);
  const rows = [];
  for (const size of sizes.length > 0 ? sizes : [1000, 10_000, 50_000, 100_000]) {
    for (const { heap, flags } of HEAPS) {
      for (const detail of heap === 'as deployed' ? ['all', 'changes'] : ['all']) {
        const out = execFileSync(
          process.execPath,
          ['--expose-gc', ...flags, fileURLToPath(import.meta.url), '--one', String(size), detail],
          { encoding: 'utf8', maxBuffer: 1 << 20 },
        );
        rows.push({ ...JSON.parse(out), heap, flags });
      }
    }
  }
  console.log(HEAPS.map(({ heap, flags }) => `${heap}: ${flags.join(' ') || '(none)'}`).join('; '));
  console.log(
    '| images | streams | pods | heap | detail | plan items | units | read (with generation) | peak while reading | snapshot heap | RSS with snapshot | plan time | plan heap | peak RSS | peak after JSON | plan JSON | plan digest |',
  );
  console.log('|---:|---:|---:|:---|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---|');
  for (const r of rows) {
    console.log(
      `| ${r.images} | ${r.streams} | ${r.pods} | ${r.heap} | ${r.detail} | ${r.items} | ${r.units} | ${r.readMs} ms | ${mib(r.readPeak)} | ${mib(r.snapshotHeap)} | ${mib(r.snapshotRss)} | ${r.ms} ms | ${mib(r.planHeap)} | ${mib(r.peakRss)} | ${mib(r.peakWithJson)} | ${mib(r.planJsonBytes)} | ${r.planSha} |`,
    );
  }
  // The same rows (bytes and ms as numbers), for scripts/bench.mjs.
  const results = fileURLToPath(new URL('../../../bench-results/', import.meta.url));
  mkdirSync(results, { recursive: true });
  writeFileSync(
    `${results}prune-plan.json`,
    `${JSON.stringify({ bench: 'prune-plan', heaps: HEAPS, rows }, null, 2)}\n`,
  );
}
