/* global process, performance, console, URL */
// Plan-scale benchmark of the prune engine: generates a synthetic cluster (images sharing base layers,
// streams with multi-revision histories, pods using tags and digests), reads it the way `takeSnapshot` does
// and times `planPrune` on the snapshot, each size in its own process so peak RSS is per size. Prints a
// markdown table, and writes the rows to bench-results/prune-plan.json at the repository root.
//
//   npx turbo run build --filter=@registry-push/core && npx node packages/core/bench/prune-plan.bench.mjs [sizes…]
//
// Sizes are image counts; streams are a fifth of that and pods half (the issue's 100k/20k/50k shape).
//
// The objects arrive as the API server sends them: pages of 500 Images, ImageStreams and Pods serialised to
// JSON, parsed, converted by the engine's SnapshotBuilder and let go page by page. So every digest,
// namespace and pull spec in the snapshot is a string of its own parsed page, as in a real run, and the
// generator keeps no object of its own while the plan runs (only a few typed arrays of indices).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const DAY = 86_400_000;
const NOW = new Date('2026-06-01T00:00:00Z');
const PAGE = 500;
const HOST = 'image-registry.openshift-image-registry.svc:5000';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

const hex = (seed) => createHash('sha256').update(seed).digest('hex');
const digest = (seed) => `sha256:${hex(seed)}`;
const uid = (seed) => {
  const h = hex(`uid-${seed}`);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
};

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

/** One page of a list, as the client gets it: JSON text from the server, parsed. */
const page = (items) => JSON.parse(JSON.stringify({ kind: 'List', metadata: {}, items })).items;

/** An Image as openshift-apiserver returns it for a pushed OCI image (no raw manifest or config). */
function rawImage(i, created, managed, base) {
  const layers = [
    { name: base, size: 50_000_000, mediaType: OCI_LAYER },
    ...Array.from({ length: 4 }, (_, l) => ({
      name: digest(`layer-${i}-${l}`),
      size: 1_000_000 + l,
      mediaType: OCI_LAYER,
    })),
  ];
  return {
    metadata: {
      name: digest(`image-${i}`),
      uid: uid(`image-${i}`),
      resourceVersion: String(100_000 + i),
      creationTimestamp: created,
      annotations: {
        'image.openshift.io/dockerLayersOrder': 'ascending',
        'image.openshift.io/manifestBlobStored': 'true',
        ...(managed ? { 'openshift.io/image.managed': 'true' } : {}),
      },
    },
    dockerImageReference: `${HOST}/ns-${i % 97}/app@${digest(`image-${i}`)}`,
    dockerImageMetadata: {
      kind: 'DockerImage',
      apiVersion: 'image.openshift.io/1.0',
      Id: digest(`config-${i}`),
      Created: created,
      ContainerConfig: {},
      Config: {
        Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `BUILD=${i}`],
        Cmd: ['/usr/bin/run'],
        WorkingDir: '/opt/app-root/src',
        Labels: {
          'io.openshift.build.name': `app-${i}`,
          'org.opencontainers.image.revision': hex(`rev-${i}`),
        },
      },
      Architecture: 'amd64',
      Size: 54_002_006,
    },
    dockerImageMetadataVersion: '1.0',
    dockerImageLayers: layers,
    dockerImageManifestMediaType: OCI_MANIFEST,
  };
}

/**
 * Feeds a synthetic cluster to a SnapshotBuilder page by page. The random draws are the same, in the same
 * order, as in the benchmark's earlier generator, so the plans are the same.
 */
function syntheticSnapshot(imageCount, { SnapshotBuilder }) {
  const rand = random(imageCount);
  const streamCount = Math.max(1, Math.floor(imageCount / 5));
  const podCount = Math.floor(imageCount / 2);
  const baseCount = Math.max(10, Math.floor(imageCount / 100));
  const builder = new SnapshotBuilder({
    takenAt: NOW.toISOString(),
    protectAnnotation: 'registry-push.io/prune-protect',
  });

  // Images, in pages. Only their creation times are remembered, for the stream histories.
  const created = new Float64Array(imageCount);
  for (let start = 0; start < imageCount; start += PAGE) {
    const items = [];
    for (let i = start; i < Math.min(imageCount, start + PAGE); i++) {
      const base = digest(`base-${Math.floor(rand() * baseCount)}`);
      created[i] = NOW.getTime() - rand() * 365 * DAY;
      items.push(rawImage(i, new Date(created[i]).toISOString(), rand() > 0.1, base));
    }
    builder.addImages(page(items));
  }

  // Streams, in pages; the images of each stream's first tag are kept (as indices) for the pods.
  const latestStart = new Int32Array(streamCount + 1);
  const latest = new Int32Array(streamCount * 5);
  let next = 0;
  let items = [];
  for (let s = 0; s < streamCount; s++) {
    const namespace = `ns-${s % Math.max(1, Math.floor(streamCount / 10))}`;
    const tags = [];
    for (const tag of ['latest', 'stable']) {
      const history = [];
      const length = 1 + Math.floor(rand() * 5);
      for (let r = 0; r < length; r++) history.push(next++ % imageCount);
      history.sort((a, b) => (created[a] < created[b] ? 1 : -1));
      if (tag === 'latest') {
        latestStart[s + 1] = latestStart[s] + history.length;
        latest.set(history, latestStart[s]);
      }
      tags.push({
        tag,
        items: history.map((i) => ({
          created: new Date(created[i]).toISOString(),
          dockerImageReference: `${HOST}/${namespace}/s${s}@${digest(`image-${i}`)}`,
          image: digest(`image-${i}`),
          generation: 1,
        })),
        conditions: null,
      });
    }
    items.push({
      metadata: {
        name: `s${s}`,
        namespace,
        uid: uid(`stream-${s}`),
        resourceVersion: String(s + 1),
        generation: 1,
        creationTimestamp: new Date(NOW.getTime() - 400 * DAY).toISOString(),
      },
      spec: { lookupPolicy: { local: false } },
      status: { dockerImageRepository: `${HOST}/${namespace}/s${s}`, tags },
    });
    if (items.length === PAGE || s === streamCount - 1) {
      builder.addStreams(page(items));
      items = [];
    }
  }

  // Pods, in pages.
  for (let p = 0; p < podCount; p++) {
    const s = Math.floor(rand() * streamCount);
    const namespace = `ns-${s % Math.max(1, Math.floor(streamCount / 10))}`;
    const byDigest = rand() < 0.3;
    const count = latestStart[s + 1] - latestStart[s];
    const image = latest[latestStart[s] + Math.floor(rand() * count)];
    const repository = `${HOST}/${namespace}/s${s}`;
    items.push({
      metadata: {
        name: `pod-${p}`,
        namespace,
        uid: uid(`pod-${p}`),
        resourceVersion: String(p + 1),
        creationTimestamp: new Date(NOW.getTime() - DAY).toISOString(),
        labels: { app: `s${s}`, deployment: `s${s}-1` },
      },
      spec: {
        containers: [
          {
            name: 'app',
            image: byDigest ? `${repository}@${digest(`image-${image}`)}` : `${repository}:latest`,
            ports: [{ containerPort: 8080, protocol: 'TCP' }],
            resources: {},
            terminationMessagePath: '/dev/termination-log',
            imagePullPolicy: 'IfNotPresent',
          },
        ],
        restartPolicy: 'Always',
        serviceAccountName: 'default',
        nodeName: `worker-${p % 12}`,
      },
      status: { phase: 'Running', podIP: `10.128.${(p >> 8) & 255}.${p & 255}` },
    });
    if (items.length === PAGE || p === podCount - 1) {
      builder.addPods(page(items));
      items = [];
    }
  }
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
function deployedNodeOptions() {
  const manifest = readFileSync(
    fileURLToPath(new URL('../../../services/pruner/deploy/deployment.yaml', import.meta.url)),
    'utf8',
  );
  const match = /name: NODE_OPTIONS\s*\n\s*value: (.+)/.exec(manifest);
  if (!match) throw new Error('services/pruner/deploy/deployment.yaml sets no NODE_OPTIONS value');
  return match[1].trim();
}
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
