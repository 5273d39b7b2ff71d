/* global process, performance, console */
// Plan-scale benchmark of the prune engine: builds a synthetic cluster snapshot (images sharing base layers,
// streams with multi-revision histories, pods using tags and digests) and times `planPrune` on it, each size
// in its own process so peak RSS is per size. Prints a markdown table.
//
//   npx turbo run build --filter=@registry-push/core && npx node packages/core/bench/prune-plan.bench.mjs [sizes…]
//
// Sizes are image counts; streams are a fifth of that and pods half (the 100k/20k/50k shape).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const DAY = 86_400_000;
const NOW = new Date('2026-06-01T00:00:00Z');

const hex = (seed) => createHash('sha256').update(seed).digest('hex');
const digest = (seed) => `sha256:${hex(seed)}`;

/** A deterministic pseudo-random generator (mulberry32). */
function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function syntheticSnapshot(imageCount, { SNAPSHOT_SCHEMA }) {
  const rand = random(imageCount);
  const streamCount = Math.max(1, Math.floor(imageCount / 5));
  const podCount = Math.floor(imageCount / 2);
  const bases = Array.from({ length: Math.max(10, Math.floor(imageCount / 100)) }, (_, i) =>
    digest(`base-${i}`),
  );
  const images = [];
  for (let i = 0; i < imageCount; i++) {
    const layers = [
      { digest: bases[Math.floor(rand() * bases.length)], size: 50_000_000 },
      ...Array.from({ length: 4 }, (_, l) => ({ digest: digest(`layer-${i}-${l}`), size: 1_000_000 + l })),
    ];
    images.push({
      digest: digest(`image-${i}`),
      created: new Date(NOW.getTime() - rand() * 365 * DAY).toISOString(),
      managed: rand() > 0.1,
      protected: false,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      layers,
      config: { digest: digest(`config-${i}`), size: 2000 },
      manifests: [],
      size: 54_002_000,
    });
  }
  const streams = [];
  let next = 0;
  for (let s = 0; s < streamCount; s++) {
    const namespace = `ns-${s % Math.max(1, Math.floor(streamCount / 10))}`;
    const tags = [];
    for (const tag of ['latest', 'stable']) {
      const items = [];
      const length = 1 + Math.floor(rand() * 5);
      for (let r = 0; r < length; r++) {
        const image = images[next++ % images.length];
        items.push({
          created: image.created,
          image: image.digest,
          dockerImageReference: `registry/${namespace}/s${s}@${image.digest}`,
        });
      }
      items.sort((a, b) => (a.created < b.created ? 1 : -1));
      tags.push({ tag, items });
    }
    streams.push({
      namespace,
      name: `s${s}`,
      uid: `uid-${s}`,
      resourceVersion: '1',
      created: new Date(NOW.getTime() - 400 * DAY).toISOString(),
      protected: false,
      tags,
    });
  }
  const uses = [];
  for (let p = 0; p < podCount; p++) {
    const stream = streams[Math.floor(rand() * streams.length)];
    const byDigest = rand() < 0.3;
    const item = stream.tags[0].items[Math.floor(rand() * stream.tags[0].items.length)];
    uses.push({
      referrer: `Pod ${stream.namespace}/pod-${p} spec.containers[0].image`,
      namespace: stream.namespace,
      name: stream.name,
      ...(byDigest ? { digest: item.image } : { tag: 'latest' }),
    });
  }
  return {
    schema: SNAPSHOT_SCHEMA,
    takenAt: NOW.toISOString(),
    images,
    streams,
    uses,
    invalidReferences: [],
    imageSizeLimits: {},
    notes: [],
  };
}

async function measure(imageCount, detail) {
  const core = await import('../dist/index.js');
  const snapshot = syntheticSnapshot(imageCount, core);
  const { policy } = core.resolvePrunePolicy({ keepTagRevisions: 2 });
  globalThis.gc?.();
  const before = process.memoryUsage().rss;
  const started = performance.now();
  const plan = core.planPrune(snapshot, policy, { mode: 'full', now: NOW, detail });
  const ms = performance.now() - started;
  const peak = process.resourceUsage().maxRSS * 1024;
  let json = 0;
  for (const item of plan.items) json += JSON.stringify(item).length + 1;
  for (const unit of plan.units) json += JSON.stringify(unit).length + 1;
  return {
    images: imageCount,
    detail,
    streams: snapshot.streams.length,
    pods: snapshot.uses.length,
    items: plan.items.length,
    units: plan.units.length,
    ms: Math.round(ms),
    snapshotRss: before,
    peakRss: peak,
    planJsonBytes: json,
  };
}

const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

if (process.argv[2] === '--one') {
  process.stdout.write(JSON.stringify(await measure(Number(process.argv[3]), process.argv[4])));
} else {
  const sizes = process.argv.slice(2).map(Number);
  const rows = [];
  for (const size of sizes.length > 0 ? sizes : [1000, 10_000, 50_000, 100_000]) {
    for (const detail of ['all', 'changes']) {
      const out = execFileSync(
        process.execPath,
        [
          '--expose-gc',
          '--max-old-space-size=4096',
          fileURLToPath(import.meta.url),
          '--one',
          String(size),
          detail,
        ],
        { encoding: 'utf8', maxBuffer: 1 << 20 },
      );
      rows.push(JSON.parse(out));
    }
  }
  console.log(
    '| images | streams | pods | detail | plan items | units | plan time | RSS with snapshot | peak RSS | plan JSON |',
  );
  console.log('|---:|---:|---:|:---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(
      `| ${r.images} | ${r.streams} | ${r.pods} | ${r.detail} | ${r.items} | ${r.units} | ${r.ms} ms | ${mib(r.snapshotRss)} | ${mib(r.peakRss)} | ${mib(r.planJsonBytes)} |`,
    );
  }
}
