/* global process, console, setTimeout, performance, URL, Buffer */
// A CONFIRMED full prune at scale, through the queue, as deployed. For each worker count (1, 2, 4) a fresh
// openshift-sim is filled through its API with the synthetic cluster of the core's plan benchmark (IMAGES
// Images, a fifth as many streams, half as many Pods; keepTagRevisions 2 makes about a third of the Images
// prunable), and the storage of the real distribution registry behind it is written directly on disk
// (blobs/sha256/<2>/<hex>/data, repositories/<ns>/<name>/_layers/.../link, _manifests/revisions/.../link):
// everything the plan deletes, the blobs it keeps because kept images share them, and every link and blob of
// a sample of kept images. A few real DELETEs of written files first prove that distribution accepts them.
// Then worker processes (NODE_OPTIONS of deploy/deployment.yaml) carry out `enqueue --confirm --wait`;
// measured: wall time (trigger to run end), registry DELETEs/s (the registry's own request counter), API
// calls/s (a counting TLS proxy in front of the API server), peak RSS per worker (VmHWM), items deleted; then
// the storage is checked (every kept file present, a sample of the deleted ones gone).
//
// Beside it, in the same run: the floors (raw registry DELETEs and Image DELETEs from one Node process over
// the same TLS routes with keep-alive, no pruner logic; on the filled storage and seeded API), one timed re-list of every Image and stream (what
// the previous version did before each image unit), and, during the 1-worker run, a race soak: skopeo pushes
// of images that re-use the layers of images being pruned, each pulled back afterwards and compared byte by
// byte. The rows go to bench-results/confirmed-scale.json at the repository root.
//
//   npx turbo run build --filter=@registry-push/pruner && node bench/confirmed-scale.bench.mjs
//
// Environment: BENCH_CONFIRMED_IMAGES (default 100000), BENCH_CONFIRMED_WORKERS (1,2,4), BENCH_CONFIRMED_SOAK
// (1; 0 turns the soak off), BENCH_FLOOR_DELETES (registry deletes per floor kind, default 5000),
// BENCH_REGISTRY_PATH (service: the workers and floors reach the registry through its service, as deployed;
// route: through the default route, one more TLS hop, as from outside the cluster), BENCH_REGISTRY_DELETES
// (upstream: distribution does the link deletes; storage: the simulator's front does them on the same
// storage as distribution's filesystem driver would, tested to answer alike), and the
// pruner's own PRUNER_API_RATE, PRUNER_REGISTRY_RATE, PRUNER_CONCURRENCY and PRUNER_BATCH_SIZE (passed to the
// workers when set; their defaults otherwise); BENCH_WORKER_NODE_OPTIONS and BENCH_WORKER_ENV (JSON) add to
// the workers' NODE_OPTIONS and environment. BENCH_RELIST_ONLY=1 only seeds and times the re-list. The
// registry's storage and every work directory go under TMPDIR (TMPDIR=/dev/shm puts them on tmpfs). Needs
// root: skopeo reaches the default route through /etc/hosts (the simulator's hosts mode).
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { request as httpsRequest, createServer as createHttpsServer, Agent } from 'node:https';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Resources, ClusterClient, resolvePrunePolicy, planPrune } from '@registry-push/core';
import { startCluster } from '@registry-push/openshift-sim';
import {
  buildOciImage,
  createCertificateAuthority,
  makeWorkDir,
  removeWorkDir,
  runSkopeo,
  startRedis,
} from '@registry-push/testkit';
import { Pool } from 'undici';
import {
  NOW,
  deployedNodeOptions,
  syntheticCluster,
} from '../../../packages/core/bench/prune-scale-fixture.mjs';
import { SnapshotBuilder } from '../../../packages/core/dist/prune/snapshot.js';
import { apiCaller, baseEnv, forCreate, peakRssSampler, pool, seed } from './scale-support.mjs';

const IMAGES = Number(process.env.BENCH_CONFIRMED_IMAGES ?? 100_000);
const COUNTS = (process.env.BENCH_CONFIRMED_WORKERS ?? '1,2,4').split(',').map(Number);
const SOAK = process.env.BENCH_CONFIRMED_SOAK !== '0';
const FLOOR_DELETES = Number(process.env.BENCH_FLOOR_DELETES ?? 5000);
// How the workers (and the floors) reach the registry: through its service, as a pruner deployed in the
// cluster does (the deploy's PRUNER_REGISTRY_HOST defaults to the internal registry hostname), or through
// the default route, as one running outside the cluster does (the rows before 2026-12-04).
const REGISTRY_PATH = process.env.BENCH_REGISTRY_PATH ?? 'service';
if (REGISTRY_PATH !== 'service' && REGISTRY_PATH !== 'route')
  throw new Error(`BENCH_REGISTRY_PATH must be service or route, not ${REGISTRY_PATH}`);
// Who carries out the registry's link deletes: distribution behind the simulator's front (`upstream`, the
// real registry), or the front itself on the same storage, as distribution's filesystem driver does
// (`storage`: distribution rebuilds its URL router for every request and on two cores its CPU per delete
// crowds out the rest). Blob deletes (/admin/blobs) are the front's in both.
const LINK_DELETES = process.env.BENCH_REGISTRY_DELETES ?? 'upstream';
if (LINK_DELETES !== 'upstream' && LINK_DELETES !== 'storage')
  throw new Error(`BENCH_REGISTRY_DELETES must be upstream or storage, not ${LINK_DELETES}`);
/** BENCH_WORKER_ENV, a JSON object: variables added to the workers' environment only (MALLOC_*, say). */
const WORKER_ENV = JSON.parse(process.env.BENCH_WORKER_ENV ?? '{}');
const RATES = Object.fromEntries(
  ['PRUNER_API_RATE', 'PRUNER_REGISTRY_RATE', 'PRUNER_CONCURRENCY', 'PRUNER_BATCH_SIZE']
    .filter((name) => process.env[name] !== undefined)
    .map((name) => [name, process.env[name]]),
);
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');
const KEPT_SAMPLE_STREAMS = 200;
const DELETED_SAMPLE = 3000;
const FLOOR_CONCURRENCY = 8;
const SOAK_REPOS = 3;
// One push every ~2 s: the whole run is covered, and pulling every pushed image back stays short.
const SOAK_PAUSE_MS = 2000;
const log = (line) => console.error(`[confirmed-scale ${new Date().toISOString().slice(11, 19)}] ${line}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- registry storage, written directly -------------------------------------------------------------------
const hexOf = (digest) => digest.slice('sha256:'.length);
const storageRoot = (cluster) => join(cluster.registryStorageDir, 'docker', 'registry', 'v2');
const blobData = (root, digest) =>
  join(root, 'blobs', 'sha256', hexOf(digest).slice(0, 2), hexOf(digest), 'data');
const layerLink = (root, repo, digest) =>
  join(root, 'repositories', repo, '_layers', 'sha256', hexOf(digest), 'link');
const manifestLink = (root, repo, digest) =>
  join(root, 'repositories', repo, '_manifests', 'revisions', 'sha256', hexOf(digest), 'link');

/** The path of one storage entry: `{ kind: 'blob' | 'layer' | 'manifest', repo?, digest }`. */
const pathOf = (root, entry) =>
  entry.kind === 'blob'
    ? blobData(root, entry.digest)
    : entry.kind === 'layer'
      ? layerLink(root, entry.repo, entry.digest)
      : manifestLink(root, entry.repo, entry.digest);

/** Writes the entries as distribution lays them out: a link holds the digest, a blob some bytes. */
async function writeStorage(root, entries) {
  const dirs = new Set();
  await pool(
    entries,
    async (entry) => {
      const file = pathOf(root, entry);
      const dir = dirname(file);
      if (!dirs.has(dir)) {
        await mkdir(dir, { recursive: true });
        dirs.add(dir);
      }
      await writeFile(file, entry.kind === 'blob' ? `bench blob ${entry.digest}\n` : entry.digest);
    },
    16,
  );
}

const exists = (file) =>
  stat(file).then(
    () => true,
    () => false,
  );

// ---- what to write: the plan the workers will make, from the same fixture ------------------------------------
/** Every link and blob of the sampled kept images (`keptRepos`: image → repositories), added to `kept`. */
function keptImageEntries(imageCount, keptRepos, kept) {
  const keptImages = [];
  for (const { kind, items } of syntheticCluster(imageCount)) {
    if (kind !== 'images') break;
    for (const image of items) {
      const repos = keptRepos.get(image.metadata.name);
      if (repos === undefined) continue;
      keptImages.push(image.metadata.name);
      const digests = [...image.dockerImageLayers.map((layer) => layer.name), image.dockerImageMetadata.Id];
      for (const digest of [image.metadata.name, ...digests]) kept.push({ kind: 'blob', digest });
      for (const repo of repos) {
        kept.push({ kind: 'manifest', repo, digest: image.metadata.name });
        for (const digest of digests) kept.push({ kind: 'layer', repo, digest });
      }
    }
  }
  return keptImages;
}

/**
 * Plans the synthetic cluster as the worker will (keepTagRevisions 2, full mode) and returns the storage to
 * write: the entries the plan deletes, the blobs it keeps because kept images share them, and a sample of
 * kept images with every link and blob of theirs.
 */
function storagePlan(imageCount) {
  const builder = new SnapshotBuilder({
    takenAt: NOW.toISOString(),
    protectAnnotation: 'registry-push.io/prune-protect',
  });
  const add = { images: 'addImages', streams: 'addStreams', pods: 'addPods' };
  // Kept sample: the two newest revisions of each tag of every (streams / KEPT_SAMPLE_STREAMS)-th stream.
  const keptRepos = new Map();
  let streamIndex = 0;
  const every = Math.max(1, Math.floor(imageCount / 5 / KEPT_SAMPLE_STREAMS));
  for (const { kind, items } of syntheticCluster(imageCount)) {
    builder[add[kind]](items);
    if (kind !== 'streams') continue;
    for (const stream of items) {
      if (streamIndex++ % every !== 0) continue;
      const repo = `${stream.metadata.namespace}/${stream.metadata.name}`;
      for (const tag of stream.status.tags) {
        for (const item of tag.items.slice(0, 2)) {
          keptRepos.set(item.image, [...(keptRepos.get(item.image) ?? []), repo]);
        }
      }
    }
  }
  const { policy } = resolvePrunePolicy({ keepTagRevisions: 2, keepYoungerThanDuration: '0s' });
  const plan = planPrune(builder.finish(), policy, { mode: 'full', now: NOW, detail: 'summary' });
  const deleted = [];
  const linkedBlobs = new Set();
  const deletedBlobs = new Set();
  let imageDeletes = 0;
  for (const unit of plan.units) {
    if (unit.type === 'stream') {
      const repo = `${unit.namespace}/${unit.name}`;
      for (const digest of unit.manifestLinks) {
        deleted.push({ kind: 'manifest', repo, digest });
        linkedBlobs.add(digest);
      }
      for (const digest of unit.layerLinks) {
        deleted.push({ kind: 'layer', repo, digest });
        linkedBlobs.add(digest);
      }
    } else {
      imageDeletes++;
      for (const blob of unit.blobs) {
        deleted.push({ kind: 'blob', digest: blob.digest });
        deletedBlobs.add(blob.digest);
      }
    }
  }
  // Blobs whose links go but which the plan keeps (shared with kept images): they must stay.
  const kept = [...linkedBlobs]
    .filter((digest) => !deletedBlobs.has(digest))
    .map((digest) => ({ kind: 'blob', digest }));
  const keptImages = keptImageEntries(imageCount, keptRepos, kept);
  return { deleted, kept, keptImages, imageDeletes, units: plan.units.length, counts: plan.summary.counts };
}

// ---- HTTP helpers ------------------------------------------------------------------------------------------
/** A keep-alive pool to the registry's default route, as kubeadmin. */
function registryCaller(cluster, host, connections) {
  const viaService = REGISTRY_PATH === 'service';
  const registry = viaService
    ? new Pool(`https://${cluster.registryServiceAddress}`, {
        connections,
        connect: { ca: cluster.serviceCaPem, servername: cluster.internalRegistry.replace(/:\d+$/, '') },
      })
    : new Pool(`https://${host}`, { connections, connect: { ca: cluster.ingressCaPem } });
  const call = async (method, path) => {
    const response = await registry.request({
      method,
      path,
      headers: {
        authorization: `Bearer ${cluster.users.kubeadmin.token}`,
        ...(viaService ? { host: cluster.internalRegistry } : {}),
      },
    });
    const text = await response.body.text();
    return { status: response.statusCode, text };
  };
  return { call, close: () => registry.close() };
}

/** DELETE requests the registry has answered so far (its own counter, any status). */
async function registryDeletes(registry) {
  const { status, text } = await registry.call('GET', '/extensions/v2/metrics');
  if (status !== 200) throw new Error(`registry metrics: ${status} ${text}`);
  let total = 0;
  for (const match of text.matchAll(
    /^imageregistry_http_requests_total\{[^}]*method="delete"[^}]*\} (\d+)$/gm,
  ))
    total += Number(match[1]);
  return total;
}

/**
 * A TLS proxy in front of the API server that counts requests (method and whether it is a watch), so the
 * workers' API calls can be counted; it has a certificate of its own CA, given in the kubeconfig it writes.
 */
async function countingApiProxy(cluster, work) {
  const ca = await createCertificateAuthority('confirmed-scale bench proxy CA');
  const leaf = await ca.issue({ commonName: '127.0.0.1', altNames: ['127.0.0.1'] });
  const target = new URL(cluster.apiServer);
  const agent = new Agent({ keepAlive: true, maxSockets: 64, ca: cluster.apiCaPem });
  const counts = new Map();
  // Every request with its start and duration (ms since the proxy started), for finding where time goes.
  const timeline = createWriteStream(join(work, 'api-requests.log'));
  const origin = performance.now();
  const server = createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
    const watch = /[?&]watch=(1|true)/.test(req.url ?? '');
    const key = `${req.method}${watch ? ' watch' : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    const begun = performance.now();
    res.on('close', () =>
      timeline.write(
        `${(begun - origin).toFixed(1)} ${(performance.now() - begun).toFixed(1)} ${req.method} ${res.statusCode} ${req.url}\n`,
      ),
    );
    const upstream = httpsRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host },
        agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        // A watch's headers must reach the client before its first event, as from the API server.
        res.flushHeaders();
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${server.address().port}`;
  const kubeconfig = join(work, 'counted.kubeconfig');
  await writeFile(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'proxy',
          cluster: { server: url, 'certificate-authority-data': Buffer.from(ca.certPem).toString('base64') },
        },
      ],
      users: [{ name: 'kubeadmin', user: { token: cluster.users.kubeadmin.token } }],
      contexts: [{ name: 'proxy', context: { cluster: 'proxy', user: 'kubeadmin' } }],
      'current-context': 'proxy',
    }),
  );
  return {
    kubeconfig,
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
    snapshot: () => Object.fromEntries(counts),
    close: async () => {
      timeline.end();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      agent.destroy();
    },
  };
}

// ---- checks and floors -------------------------------------------------------------------------------------
/** A few real DELETEs of files written the same way, through the route: distribution must accept them. */
async function probeDeletes(root, registry) {
  const repo = 'bench-probe/probe';
  const digest = () => `sha256:${randomBytes(32).toString('hex')}`;
  const manifest = digest();
  const layer = digest();
  const entries = [
    { kind: 'blob', digest: manifest },
    { kind: 'blob', digest: layer },
    { kind: 'manifest', repo, digest: manifest },
    { kind: 'layer', repo, digest: layer },
  ];
  await writeStorage(root, entries);
  const answers = [
    await registry.call('DELETE', `/v2/${repo}/manifests/${manifest}`),
    await registry.call('DELETE', `/v2/${repo}/blobs/${layer}`),
    await registry.call('DELETE', `/admin/blobs/${layer}`),
    await registry.call('DELETE', `/admin/blobs/${manifest}`),
  ];
  const left = [];
  for (const entry of entries) if (await exists(pathOf(root, entry))) left.push(entry.kind);
  const statuses = answers.map((a) => a.status);
  if (!statuses.every((s) => s === 202 || s === 204) || left.length > 0) {
    throw new Error(
      `distribution did not accept deletes of storage written directly: answers ${statuses.join(', ')}, ` +
        `still present: ${left.join(', ') || 'nothing'} (${answers.map((a) => a.text.trim()).join(' | ')})`,
    );
  }
  return statuses;
}

/** Raw DELETE rate over `paths` at FLOOR_CONCURRENCY; every answer must be 202/204. */
async function deleteRate(call, paths) {
  const started = performance.now();
  let bad = 0;
  let example = '';
  await pool(
    paths,
    async (path) => {
      const { status, text } = await call('DELETE', path);
      if (status !== 202 && status !== 204) {
        bad++;
        example = `${path}: ${status} ${text.trim()}`;
      }
    },
    FLOOR_CONCURRENCY,
  );
  const seconds = (performance.now() - started) / 1000;
  if (bad > 0) throw new Error(`floor: ${bad} of ${paths.length} DELETEs failed, e.g. ${example}`);
  return paths.length / seconds;
}

/** The floors: layer-link, manifest-link and blob DELETEs through the route; Image DELETEs through the API. */
async function floors(cluster, root, registry) {
  const repo = 'bench-floor/floor';
  // Distinct digests per kind: distribution's manifest DELETE also clears a layer link of the same digest.
  const fresh = () =>
    Array.from({ length: FLOOR_DELETES }, () => `sha256:${randomBytes(32).toString('hex')}`);
  const manifests = fresh();
  const layers = fresh();
  const blobs = fresh();
  await writeStorage(root, [
    ...[...manifests, ...layers, ...blobs].map((digest) => ({ kind: 'blob', digest })),
    ...layers.map((digest) => ({ kind: 'layer', repo, digest })),
    ...manifests.map((digest) => ({ kind: 'manifest', repo, digest })),
  ]);
  const manifestLinkRate = await deleteRate(
    registry.call,
    manifests.map((d) => `/v2/${repo}/manifests/${d}`),
  );
  const layerLinkRate = await deleteRate(
    registry.call,
    layers.map((d) => `/v2/${repo}/blobs/${d}`),
  );
  const blobRate = await deleteRate(
    registry.call,
    blobs.map((d) => `/admin/blobs/${d}`),
  );
  // Image DELETEs: Images of their own (no stream uses them), created first.
  const count = Math.min(FLOOR_DELETES, 3000);
  const api = apiCaller(cluster, FLOOR_CONCURRENCY);
  try {
    const names = Array.from({ length: count }, () => `sha256:${randomBytes(32).toString('hex')}`);
    await pool(names, (name) =>
      api.call(
        'POST',
        '/apis/image.openshift.io/v1/images',
        forCreate({
          metadata: { name },
          dockerImageReference: `${cluster.internalRegistry}/bench-floor/floor@${name}`,
        }),
      ),
    );
    const started = performance.now();
    await pool(
      names,
      (name) => api.call('DELETE', `/apis/image.openshift.io/v1/images/${name}`),
      FLOOR_CONCURRENCY,
    );
    const imageDeleteRate = count / ((performance.now() - started) / 1000);
    return { manifestLinkRate, layerLinkRate, blobRate, imageDeleteRate, deletes: FLOOR_DELETES };
  } finally {
    await api.close();
  }
}

/** Lists every Image and ImageStream page by page (500 a page), as the previous version did per image unit. */
async function timedRelist(cluster) {
  const api = apiCaller(cluster, 2);
  const started = performance.now();
  let objects = 0;
  try {
    for (const path of ['/apis/image.openshift.io/v1/images', '/apis/image.openshift.io/v1/imagestreams']) {
      let next = '';
      do {
        const page = await api.call(
          'GET',
          `${path}?limit=500${next ? `&continue=${encodeURIComponent(next)}` : ''}`,
        );
        objects += page.items.length;
        next = page.metadata?.continue ?? '';
      } while (next);
    }
  } finally {
    await api.close();
  }
  return { seconds: (performance.now() - started) / 1000, objects };
}

/** Checks the storage after a run: every kept entry present, a sample of the deleted ones gone. */
async function checkStorage(root, storage) {
  let keptMissing = 0;
  const missing = [];
  await pool(storage.kept, async (entry) => {
    if (!(await exists(pathOf(root, entry)))) {
      keptMissing++;
      if (missing.length < 5) missing.push(entry);
    }
  });
  const step = Math.max(1, Math.floor(storage.deleted.length / DELETED_SAMPLE));
  const sample = storage.deleted.filter((_, i) => i % step === 0);
  let deletedLeft = 0;
  const left = [];
  await pool(sample, async (entry) => {
    if (await exists(pathOf(root, entry))) {
      deletedLeft++;
      if (left.length < 5) left.push(entry);
    }
  });
  return {
    keptChecked: storage.kept.length,
    keptMissing,
    deletedChecked: sample.length,
    deletedLeft,
    examples: { missing, left },
  };
}

// ---- processes ---------------------------------------------------------------------------------------------
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

function startWorkers(count, env, logDir) {
  return Array.from({ length: count }, (_, i) => {
    const child = spawn(process.execPath, [CLI, 'worker'], {
      env: { ...env, PRUNER_WORKER_NAME: `bench-${i}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const logFile = createWriteStream(join(logDir, `worker-${i}.log`));
    child.stdout.pipe(logFile);
    child.stderr.pipe(logFile);
    const peak = peakRssSampler(child.pid, 250);
    const ready = new Promise((resolve, reject) => {
      let buffer = '';
      child.stdout.on('data', (chunk) => {
        if (buffer === undefined) return;
        buffer += chunk;
        if (buffer.includes('"worker started"')) {
          buffer = undefined;
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`worker ${i} exited ${code} before it started`)));
    });
    return { child, ready, peak };
  });
}

async function stopWorkers(workers) {
  return Promise.all(
    workers.map(async ({ child, peak }) => {
      const peakMiB = await peak.stop();
      await new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', resolve);
        process.kill(child.pid, 'SIGTERM');
      });
      return peakMiB;
    }),
  );
}

// ---- the race soak -----------------------------------------------------------------------------------------
/** Pushes before the run: per soak repository four generations of distinct layers (two will be pruned). */
async function soakSetup(ctx) {
  const { call, close } = apiCaller(ctx.cluster, 2);
  try {
    await call('POST', '/api/v1/namespaces', { metadata: { name: 'soak' } });
  } finally {
    await close();
  }
  for (let r = 0; r < SOAK_REPOS; r++) {
    for (let g = 0; g < 4; g++) {
      const image = await buildOciImage({
        outDir: join(ctx.work, `soak-base-${r}-${g}`),
        seed: `soak-${r}-${g}`,
        layers: 2,
        layerSize: 32 * 1024,
      });
      await ctx.push(image, `soak/r${r}:latest`);
    }
  }
}

/** Pushes re-using the layers of the pruned generations, one after another, until `done()`. */
async function soakPushes(ctx, done) {
  const pushed = [];
  let failed = 0;
  for (let k = 0; !done(); k++) {
    const r = k % SOAK_REPOS;
    const g = Math.floor(k / SOAK_REPOS) % 2;
    const image = await buildOciImage({
      outDir: join(ctx.work, `soak-race-${k}`),
      seed: `soak-${r}-${g}`,
      layers: 2,
      layerSize: 32 * 1024,
      variant: `race-${k}`,
    });
    const ref = k % 2 === 0 ? `soak/r${r}:race-${k}` : `soak/n${r}:race-${k}`;
    try {
      await ctx.push(image, ref);
      pushed.push({ image, ref });
    } catch {
      failed++;
    }
    await sleep(SOAK_PAUSE_MS);
  }
  return { pushed, failed };
}

/** Pulls every pushed image and compares every blob byte by byte; returns the unpullable refs. */
async function soakVerify(ctx, pushed) {
  const unpullable = [];
  await pool(
    [...pushed.entries()],
    async ([i, { image, ref }]) => {
      const out = join(ctx.work, `soak-pull-${i}`);
      try {
        // A pull that fails is tried twice more (a flaky name lookup is not a lost blob); then it counts.
        await retried(3, () =>
          runSkopeo([
            'copy',
            '--src-creds',
            `kubeadmin:${ctx.cluster.users.kubeadmin.token}`,
            '--src-cert-dir',
            ctx.certDir,
            `docker://${ctx.host}/${ref}`,
            `oci:${out}:latest`,
          ]),
        );
        const blobs = join(image.layoutDir, 'blobs', 'sha256');
        for (const name of await readdir(blobs)) {
          const [want, got] = await Promise.all([
            readFile(join(blobs, name)),
            readFile(join(out, 'blobs', 'sha256', name)).catch(() => undefined),
          ]);
          // The layout's own index is not pushed; every manifest, config and layer must come back.
          if (got === undefined && !(await isIndexOnly(image, name))) throw new Error(`${name} missing`);
          if (got !== undefined && !want.equals(got)) throw new Error(`${name} differs`);
        }
      } catch (error) {
        unpullable.push(`${ref}: ${error.message.split('\n')[0]}`);
      }
      await rm(out, { recursive: true, force: true });
    },
    4,
  );
  return unpullable;
}

async function retried(times, task) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await task();
    } catch (error) {
      if (attempt >= times) throw error;
      await sleep(1000);
    }
  }
}

async function isIndexOnly(image, name) {
  return image.index !== undefined && image.index.digest === `sha256:${name}`;
}

// ---- one worker count on a fresh simulator -----------------------------------------------------------------
async function measure(workerCount, withExtras) {
  const cluster = await startCluster({
    routerMode: 'hosts',
    defaultRoute: true,
    registryLinkDeletes: LINK_DELETES,
  });
  const redis = await startRedis();
  const work = await makeWorkDir('confirmed-scale');
  const host = `default-route-openshift-image-registry.${cluster.appsDomain}`;
  const certDir = join(work, 'certs', host);
  await mkdir(certDir, { recursive: true });
  await writeFile(join(certDir, 'ca.crt'), cluster.ingressCaPem);
  const serviceCaFile = join(work, 'service-ca.crt');
  await writeFile(serviceCaFile, cluster.serviceCaPem);
  const registry = registryCaller(cluster, host, FLOOR_CONCURRENCY);
  const proxy = await countingApiProxy(cluster, work);
  const root = storageRoot(cluster);
  let workers = [];
  try {
    for (
      let i = 0;
      i < 100 && (await registry.call('GET', '/v2/').catch(() => ({ status: 0 }))).status !== 401;
      i++
    )
      await sleep(100);
    const admin = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
    await admin.mergePatch(Resources.imagePruner, 'cluster', {
      spec: { keepTagRevisions: 2, keepYoungerThanDuration: '0s' },
    });
    const probes = await probeDeletes(root, registry);
    const extras = {};
    log(`seeding ${IMAGES} images through the API`);
    let started = performance.now();
    const counts = await seed(cluster, IMAGES);
    const seedSeconds = (performance.now() - started) / 1000;
    log(`seeded in ${seedSeconds.toFixed(0)} s; planning the storage`);
    started = performance.now();
    const storage = storagePlan(IMAGES);
    const entries = [...storage.deleted, ...storage.kept];
    const blobs = new Set(entries.filter((e) => e.kind === 'blob').map((e) => e.digest));
    // Blob data under every link (distribution stats it before deleting a link).
    const supporting = entries
      .filter((e) => e.kind !== 'blob' && !blobs.has(e.digest) && blobs.add(e.digest))
      .map((e) => ({ kind: 'blob', digest: e.digest }));
    await writeStorage(root, [...entries, ...supporting]);
    const fillSeconds = (performance.now() - started) / 1000;
    log(`wrote ${entries.length + supporting.length} storage files in ${fillSeconds.toFixed(0)} s`);
    if (withExtras) {
      // On the filled storage and the seeded API, as the run meets them: a registry of half a million files
      // deletes more slowly than an empty one, so a floor measured before the fill overstated it.
      log('floors');
      extras.floor = await floors(cluster, root, registry);
      log('one timed re-list of every Image and stream');
      extras.relist = await timedRelist(cluster);
    }
    const push = async (image, ref) => {
      await runSkopeo([
        'copy',
        '--dest-creds',
        `kubeadmin:${cluster.users.kubeadmin.token}`,
        '--dest-cert-dir',
        certDir,
        `oci:${image.layoutDir}`,
        `docker://${host}/${ref}`,
      ]);
    };
    const soakCtx = { cluster, work, host, certDir, push };
    const soaking = withExtras && SOAK;
    if (soaking) await soakSetup(soakCtx);

    const nodeOptions = deployedNodeOptions();
    const env = {
      ...baseEnv(),
      KUBECONFIG: proxy.kubeconfig,
      REDIS_URL: redis.url,
      PRUNER_QUEUE: `bench-${randomUUID().slice(0, 8)}`,
      PRUNER_HTTP_PORT: '0',
      ...(REGISTRY_PATH === 'service'
        ? {
            PRUNER_REGISTRY_HOST: cluster.internalRegistry,
            PRUNER_REGISTRY_CONNECT_TO: cluster.registryServiceAddress,
            PRUNER_REGISTRY_CA_FILE: serviceCaFile,
          }
        : { PRUNER_REGISTRY_HOST: host, PRUNER_REGISTRY_CA_FILE: cluster.ingressCA }),
      PRUNER_LOG_LEVEL: 'info',
      // One phase, as measured: the registry deletes right away (no undo window).
      PRUNER_UNDO_WINDOW: '0',
      // BENCH_WORKER_NODE_OPTIONS adds to the deployed ones (a CPU profile: --cpu-prof --cpu-prof-dir=DIR).
      NODE_OPTIONS: [nodeOptions, process.env.BENCH_WORKER_NODE_OPTIONS ?? ''].join(' ').trim(),
      ...RATES,
      ...WORKER_ENV,
    };
    workers = startWorkers(workerCount, env, work);
    await Promise.all(workers.map((w) => w.ready));
    const deletesBefore = await registryDeletes(registry);
    const apiBefore = proxy.total();
    log(`run with ${workerCount} worker(s)`);
    let finished = false;
    const soak = soaking ? soakPushes(soakCtx, () => finished) : undefined;
    const enqueueEnv = { ...baseEnv(), REDIS_URL: redis.url, PRUNER_QUEUE: env.PRUNER_QUEUE };
    await run(['enqueue', '--confirm', '--wait', '--timeout', '4h'], enqueueEnv).finally(() => {
      finished = true;
    });
    const apiCalls = proxy.total() - apiBefore;
    const apiKinds = proxy.snapshot();
    const deletes = (await registryDeletes(registry)) - deletesBefore;
    const status = JSON.parse(await run(['status', '--limit', '1', '--output', 'json'], enqueueEnv));
    const [record] = status.runs;
    const peaks = await stopWorkers(workers);
    const seconds = (Date.parse(record.finishedAt) - Date.parse(record.createdAt)) / 1000;
    log(`run ${record.status} in ${seconds.toFixed(1)} s; checking the storage`);
    const check = await checkStorage(root, storage);
    if (soak !== undefined) {
      const { pushed, failed } = await soak;
      log(`soak: ${pushed.length} pushed, ${failed} pushes failed; pulling them back`);
      const unpullable = await soakVerify(soakCtx, pushed);
      extras.soak = { pushed: pushed.length, pushFailed: failed, unpullable };
    }
    const summed = (kinds) =>
      kinds.reduce((sum, kind) => sum + (record.summary?.counts?.[kind]?.deleted ?? 0), 0);
    return {
      workers: workerCount,
      images: counts.images,
      streams: counts.streams,
      pods: counts.pods,
      nodeOptions,
      rates: RATES,
      seedSeconds,
      fillSeconds,
      storageFiles: entries.length + supporting.length,
      probeStatuses: probes,
      plannedImageDeletes: storage.imageDeletes,
      plannedRegistryDeletes: storage.deleted.length,
      status: record.status,
      units: record.units,
      seconds,
      registryDeletes: deletes,
      registryDeletesPerSecond: deletes / seconds,
      apiCalls,
      apiCallsPerSecond: apiCalls / seconds,
      apiKinds,
      peakRssMiB: peaks,
      itemsDeleted: record.progress?.itemsDeleted,
      itemsFailed: record.progress?.itemsFailed,
      imagesDeleted: summed(['image']),
      registryItemsDeleted: summed(['manifest-link', 'layer-link', 'blob']),
      summary: record.summary,
      check,
      ...extras,
    };
  } finally {
    // Workers left by a failure would wait for their Redis forever.
    for (const { child } of workers) if (child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    await proxy.close();
    await registry.close();
    await redis.stop();
    await cluster.stop();
    if (process.env.BENCH_KEEP_WORK === '1') log(`kept ${work}`);
    else await removeWorkDir(work);
  }
}

// ---- main --------------------------------------------------------------------------------------------------
if (process.env.BENCH_RELIST_ONLY === '1') {
  // Only the previous version's cost at this size: seed, then timed re-lists of every Image and stream.
  const cluster = await startCluster({ routerMode: 'port' });
  try {
    const started = performance.now();
    await seed(cluster, IMAGES);
    log(`seeded ${IMAGES} images in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    const relists = [];
    for (let i = 0; i < 3; i++) relists.push(await timedRelist(cluster));
    console.log(
      `One re-list of every Image and stream at ${IMAGES} images (${relists[0].objects} objects): ` +
        `${relists.map((r) => r.seconds.toFixed(1)).join(' / ')} s`,
    );
  } finally {
    await cluster.stop();
  }
  process.exit(0);
}
const rows = [];
for (const [i, count] of COUNTS.entries()) rows.push(await measure(count, i === 0));
const first = rows[0];
const f = first.floor;
const mix = first.summary?.counts ?? {};
const n = (kind) => mix[kind]?.deleted ?? 0;
// The floor for the run's own mix of registry deletes (each kind at its raw rate, one after another).
const floorMix =
  (n('manifest-link') + n('layer-link') + n('blob')) /
  (n('manifest-link') / f.manifestLinkRate + n('layer-link') / f.layerLinkRate + n('blob') / f.blobRate);
const previousHours = (first.plannedImageDeletes * first.relist.seconds) / 3600;
const mib = (values) => values.map((v) => v.toFixed(0)).join(' / ');
console.log(
  `\nConfirmed full prune through the queue, fresh openshift-sim per row (${first.images} Images, ${first.streams} streams, ` +
    `${first.pods} pods; keepTagRevisions 2), registry storage written directly (${first.storageFiles} files), ` +
    `the registry reached through its ${REGISTRY_PATH}, link deletes by ${LINK_DELETES === 'upstream' ? 'distribution' : 'the front on the storage'}, NODE_OPTIONS='${first.nodeOptions}', rates ${Object.keys(RATES).length === 0 ? 'at their defaults (API 100/s, registry 1000/s)' : JSON.stringify(RATES)}:\n`,
);
console.log(
  '| workers | images deleted | registry deletes | wall s | registry DELETE/s | API calls/s | peak RSS MiB per worker | failed items | storage check |',
);
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | :--- | ---: | :--- |');
for (const row of rows) {
  console.log(
    `| ${row.workers} | ${row.imagesDeleted} | ${row.registryItemsDeleted} | ${row.seconds.toFixed(1)} | ` +
      `${row.registryDeletesPerSecond.toFixed(0)} | ${row.apiCallsPerSecond.toFixed(1)} | ${mib(row.peakRssMiB)} | ` +
      `${row.itemsFailed ?? '—'} | kept ${row.check.keptChecked - row.check.keptMissing}/${row.check.keptChecked} present, ` +
      `deleted sample ${row.check.deletedChecked - row.check.deletedLeft}/${row.check.deletedChecked} gone |`,
  );
}
console.log(
  `\nFloors (one Node process, keep-alive, ${FLOOR_CONCURRENCY} in flight, ${f.deletes} deletes per kind): ` +
    `registry DELETE/s manifest link ${f.manifestLinkRate.toFixed(0)}, layer link ${f.layerLinkRate.toFixed(0)}, ` +
    `blob ${f.blobRate.toFixed(0)} (the run's mix: ${floorMix.toFixed(0)}/s); API Image DELETE/s ${f.imageDeleteRate.toFixed(0)}.`,
);
console.log(
  `Pruner, ${first.workers} worker${first.workers === 1 ? '' : 's'}: ${first.registryDeletesPerSecond.toFixed(0)} registry DELETE/s (${((100 * first.registryDeletesPerSecond) / floorMix).toFixed(0)}% of the mix floor), ` +
    `${(first.imagesDeleted / first.seconds).toFixed(1)} Image DELETE/s.`,
);
console.log(
  `Reference: \`oc adm prune images\` cannot run here (it needs a real cluster). The previous version re-listed every ` +
    `Image and stream before each image unit: one re-list of ${first.relist.objects} objects took ${first.relist.seconds.toFixed(1)} s, ` +
    `so its ${first.plannedImageDeletes} image units alone would take ~${(previousHours * 60).toFixed(0)} min.`,
);
if (first.soak !== undefined) {
  console.log(
    `Race soak (1-worker run): ${first.soak.pushed} skopeo pushes re-using layers of pruned images succeeded ` +
      `(${first.soak.pushFailed} failed), ${first.soak.unpullable.length} unpullable after the run` +
      `${first.soak.unpullable.length > 0 ? `: ${first.soak.unpullable.slice(0, 5).join('; ')}` : ''}.`,
  );
}
const results = fileURLToPath(new URL('../../../bench-results/', import.meta.url));
await mkdir(results, { recursive: true });
await writeFile(
  join(results, 'confirmed-scale.json'),
  `${JSON.stringify({ bench: 'confirmed-scale', registryPath: REGISTRY_PATH, linkDeletes: LINK_DELETES, floorMix, previousHours, rows }, null, 2)}\n`,
);
