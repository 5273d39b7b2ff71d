/* global process, console, performance */
// `npm run bench` at the root: runs every package's benchmark in sequence, each in its own process, collects
// the samples each one writes to bench-results/<name>.json and writes bench-results/README.md (one section
// per benchmark, the date, the machine and the exact commands).
//
//   npm run bench                     # full sizes; takes long (the push bench pushes GiB-sized images)
//   npm run bench -- --quick          # small sizes, few runs: a smoke check of a few minutes
//   BENCH_QUICK=1 npm run bench       # the same
//
// Figures are measured and reported, never asserted: nothing here fails on a slow result. A benchmark that
// crashes is reported in its section and makes the exit code 1; the others still run.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const results = join(root, 'bench-results');
const args = process.argv.slice(2);
const unknown = args.filter((arg) => arg !== '--quick');
if (unknown.length > 0) {
  console.error(`usage: npm run bench [-- --quick]   (unknown: ${unknown.join(' ')})`);
  process.exit(2);
}
const quick = args.includes('--quick') || process.env.BENCH_QUICK === '1';
const node = process.execPath;

// ---- machine facts, taken before anything runs ------------------------------------------------------------
const started = new Date();
const nproc = (() => {
  try {
    return execFileSync('nproc', { encoding: 'utf8' }).trim();
  } catch {
    return String(cpus().length);
  }
})();
const facts = {
  date: started.toISOString(),
  nproc,
  cpu: cpus()[0]?.model ?? 'unknown',
  memTotal: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
  memFree: `${(freemem() / 2 ** 30).toFixed(1)} GiB`,
  node: process.version,
  load: loadavg()
    .map((l) => l.toFixed(2))
    .join(' '),
};
const envPrefix = process.env.BENCH_QUICK === '1' ? 'BENCH_QUICK=1 ' : '';
const command =
  process.env.npm_lifecycle_event === 'bench'
    ? `${envPrefix}npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`
    : `${envPrefix}node scripts/bench.mjs ${args.join(' ')}`.trim();

// ---- the benchmarks ----------------------------------------------------------------------------------------
const core = join(root, 'packages', 'core');
const pruner = join(root, 'services', 'pruner');
const pass = (name, fallback) => ({ [name]: process.env[name] ?? fallback });

/** Each step: the processes to run (in order) and the JSON file the last one leaves in bench-results/. */
const BENCHES = [
  {
    name: 'push',
    title: 'Push: the command and the library vs skopeo vs the curl floor (packages/core)',
    json: 'push.json',
    repeat: 1,
    steps: [
      {
        cwd: core,
        argv: [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.bench.json'],
      },
      {
        cwd: core,
        argv: ['dist/bench/bench/push.bench.js'],
        env: { ...(quick ? { BENCH_QUICK: '1' } : {}), ...pass('BENCH_RUNS', quick ? '3' : '5') },
      },
    ],
  },
  {
    name: 'prune-plan',
    title: 'Prune plan at scale (packages/core)',
    json: 'prune-plan.json',
    // The plan bench takes one sample per size; run it several times for a median and a range.
    repeat: Number(process.env.BENCH_PLAN_RUNS ?? 3),
    steps: [
      {
        cwd: core,
        argv: ['bench/prune-plan.bench.mjs', ...(quick ? ['1000', '10000'] : ['10000', '50000', '100000'])],
      },
    ],
  },
  {
    name: 'run-scale',
    title: 'The pruner at scale, as deployed (services/pruner)',
    json: 'run-scale.json',
    repeat: 1,
    steps: [
      {
        cwd: pruner,
        argv: ['bench/run-scale.bench.mjs'],
        env: {
          ...pass('BENCH_SCALE_IMAGES', quick ? '10000' : '100000'),
          ...pass('BENCH_SCALE_REPEATS', '3'),
        },
      },
    ],
  },
  {
    name: 'confirmed-scale',
    title: 'A confirmed full prune at scale through the queue, 1 vs 2 vs 4 workers (services/pruner)',
    json: 'confirmed-scale.json',
    repeat: 1,
    steps: [
      {
        cwd: pruner,
        argv: ['bench/confirmed-scale.bench.mjs'],
        env: {
          ...pass('BENCH_CONFIRMED_IMAGES', quick ? '10000' : '100000'),
          ...pass('BENCH_CONFIRMED_WORKERS', '1,2,4'),
          ...pass('BENCH_FLOOR_DELETES', quick ? '1000' : '5000'),
        },
      },
    ],
  },
  {
    name: 'throughput',
    title: 'Worker throughput: 1 vs 2 vs 4 workers (services/pruner)',
    json: 'throughput.json',
    repeat: 1,
    steps: [
      {
        cwd: pruner,
        argv: ['bench/throughput.bench.mjs'],
        env: {
          ...pass('BENCH_STREAMS', quick ? '10' : '60'),
          ...pass('BENCH_REPEATS', '3'),
          ...pass('BENCH_LATENCY_MS', '20'),
          ...pass('BENCH_WORKERS', '1,2,4'),
        },
      },
    ],
  },
];

const shellWord = (word) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`);

/** The command line of a step as one could paste it at the repository root. */
function describe(step) {
  const env = Object.entries(step.env ?? {}).map(([k, v]) => `${k}=${shellWord(v)}`);
  const argv = step.argv.map((a) => shellWord(a.startsWith(root) ? relative(step.cwd, a) : a));
  return `(cd ${relative(root, step.cwd)} && ${[...env, 'npx', 'node', ...argv].join(' ')})`;
}

function run(step) {
  return new Promise((resolve, reject) => {
    const child = spawn(node, step.argv, {
      cwd: step.cwd,
      env: { ...process.env, ...step.env },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${describe(step)} exited ${signal ?? code}`)),
    );
  });
}

// ---- statistics and formatting ------------------------------------------------------------------------------
// Median as the package benches compute it (the upper middle for an even count), with the range.
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const num = (value) => (value >= 100 ? value.toFixed(0) : value.toFixed(2));
const stat = (values, fmt = num) =>
  values.length === 0
    ? '—'
    : values.length === 1
      ? fmt(values[0])
      : `${fmt(median(values))} (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})`;
const ratio = (a, b) => `${(median(a) / median(b)).toFixed(2)}x`;
const mib = (bytes) => bytes / 2 ** 20;
const int = (value) => value.toFixed(0);

function pushSection([data]) {
  const secs = (samples) => samples.map((s) => s.ms / 1000);
  const rss = (samples) => samples.map((s) => s.peakRssMiB).filter((v) => Number.isFinite(v));
  const tools = data.tools ?? ['cli', 'native', 'skopeo', 'curl', 'floor'];
  const versus = (samples, a, b) =>
    (samples[a] ?? []).length === 0 || (samples[b] ?? []).length === 0
      ? '—'
      : ratio(secs(samples[a]), secs(samples[b]));
  return [
    `${data.runs} run(s) per cell${data.quick ? ' (quick: small images)' : ''}, tools interleaved run by run; ` +
      "Debian's `docker-registry` on loopback over plain HTTP and over TLS, fresh storage per run. " +
      '**cli**: the `registry-push push` command as users run it (its bin in a new Node process, token in ' +
      '`REGISTRY_PUSH_TOKEN`); **native**: `pushImage` alone in a runner process; **skopeo**: `skopeo copy`; ' +
      '**curl**: the curl floor, parallel curl processes, one monolithic `PUT ?digest=` per blob after its POST, ' +
      'then the manifest PUT (the reference: the command aims at <= 1.15x of it); **floor**: the same floor with ' +
      "Node's HTTP client in one process. Wall time in seconds and peak RSS in MiB, median (min–max). Registry " +
      'CPU: the CPU seconds the registry process itself spent on the push (median), the part no client can remove; ' +
      'client CPU: what the pushing processes spent (all curl processes for the floor), which a loaded machine ' +
      'hardly changes.',
    '',
    `| case | registry | ${tools.map((tool) => `${tool} s`).join(' | ')} | cli/curl | native/curl | cli/skopeo | cli RSS MiB | skopeo RSS MiB | client CPU s ${tools.join(' / ')} | registry CPU s ${tools.join(' / ')} |`,
    `| :--- | :--- | ${tools.map(() => '---:').join(' | ')} | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
    ...data.cases
      .map(({ name, transport, samples }) =>
        [
          name,
          transport ?? 'tls',
          ...tools.map((tool) => stat(secs(samples[tool] ?? []))),
          versus(samples, 'cli', 'curl'),
          versus(samples, 'native', 'curl'),
          versus(samples, 'cli', 'skopeo'),
          stat(rss(samples.cli ?? []), int),
          stat(rss(samples.skopeo ?? []), int),
          tools
            .map((tool) => median((samples[tool] ?? []).map((s) => s.clientCpuS ?? NaN)).toFixed(2))
            .join(' / '),
          tools
            .map((tool) => median((samples[tool] ?? []).map((s) => s.registryCpuS ?? NaN)).toFixed(2))
            .join(' / '),
        ].join(' | '),
      )
      .map((row) => `| ${row} |`),
  ];
}

function planSection(runs) {
  const groups = new Map();
  for (const data of runs) {
    for (const row of data.rows) {
      const key = `${row.images}/${row.heap}/${row.detail}`;
      groups.set(key, [...(groups.get(key) ?? []), row]);
    }
  }
  const has100k = [...groups.values()].some(([row]) => row.images >= 100_000);
  const lines = [
    `${runs.length} run(s) of each size, every size and detail in its own process; heap ` +
      runs[0].heaps.map(({ heap, flags }) => `${heap}: \`${flags.join(' ') || '(no flags)'}\``).join(', ') +
      ' (as deployed = the NODE_OPTIONS of services/pruner/deploy/deployment.yaml); ' +
      'a synthetic cluster with a fifth as many streams and half as many pods as images, read page by page as ' +
      'from the API server, then `planPrune` (keepTagRevisions 2). Median (min–max) where there is more than one run.',
    '',
    'Reference: `oc adm prune images` holds every Image and every pod/workload list in memory; 4 GiB was reported ' +
      'to be enough at **~100k images** (openshift/release#3658, 2019), and it was still OOMKilled after more memory ' +
      'was added (release#10177).' +
      (has100k ? '' : ' (The quick run stops short of 100k images, so no row compares with it directly.)'),
    '',
    '| images | streams | pods | heap | detail | plan items | units | read ms | plan ms | peak RSS MiB | peak after JSON MiB | plan JSON MiB | oc (reported) | plan digest |',
    '| ---: | ---: | ---: | :--- | :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :--- |',
  ];
  for (const rows of groups.values()) {
    const [first] = rows;
    const digests = [...new Set(rows.map((r) => r.planSha))].join(', ');
    lines.push(
      `| ${[
        first.images,
        first.streams,
        first.pods,
        first.heap,
        first.detail,
        first.items,
        first.units,
        stat(
          rows.map((r) => r.readMs),
          int,
        ),
        stat(
          rows.map((r) => r.ms),
          int,
        ),
        stat(
          rows.map((r) => mib(r.peakRss)),
          int,
        ),
        stat(
          rows.map((r) => mib(r.peakWithJson)),
          int,
        ),
        int(mib(first.planJsonBytes)),
        first.images >= 90_000 && first.images <= 110_000 ? '~4096 MiB' : '—',
        digests,
      ].join(' | ')} |`,
    );
  }
  return lines;
}

function throughputSection([data]) {
  const one = data.samples.find((s) => s.workers === 1);
  return [
    `A metadata-mode run of ${data.streams} streams (${data.streams * 2} units) against the simulator behind a proxy ` +
      `adding ${data.latencyMs} ms per client chunk, ${data.repeats} run(s) per worker count, each on fresh streams. ` +
      'Median (min–max); the reference is the single worker.',
    '',
    '| workers | units | run time s | units/s | speed-up vs 1 worker (medians) |',
    '| ---: | ---: | ---: | ---: | ---: |',
    ...data.samples.map(
      (s) =>
        `| ${s.workers} | ${s.units} | ${stat(s.seconds)} | ${stat(s.unitsPerSecond, (v) => v.toFixed(1))} | ${
          one === undefined ? '—' : ratio(s.unitsPerSecond, one.unitsPerSecond)
        } |`,
    ),
  ];
}

function runScaleSection([data]) {
  const [first] = data.rows;
  return [
    `\`registry-pruner run\` (a dry run in full mode: every list read page by page through the API, the plan, ` +
      `the output) in its own process with the deployed \`NODE_OPTIONS='${first.nodeOptions}'\`, against ` +
      `openshift-sim filled through its API with the plan benchmark's synthetic cluster (seeding took ` +
      `${first.seedSeconds.toFixed(0)} s, not counted). ${data.repeats} run(s) per output, median (min–max). ` +
      'Reference: oc adm prune images, ~4 GiB at ~100k images (see the plan section).',
    '',
    '| images | streams | pods | output | planned changes | printed MiB | run time s | peak RSS MiB |',
    '| ---: | ---: | ---: | :--- | ---: | ---: | ---: | ---: |',
    ...data.rows.map(
      (row) =>
        `| ${row.images} | ${row.streams} | ${row.pods} | ${row.output} | ${first.changes ?? '—'} | ` +
        `${row.outputMiB.toFixed(1)} | ${stat(row.seconds, (v) => v.toFixed(1))} | ${stat(row.peakRssMiB, int)} |`,
    ),
  ];
}

function confirmedScaleSection([data]) {
  const [first] = data.rows;
  const floor = first.floor;
  const rates =
    Object.keys(first.rates).length === 0
      ? 'the default rates (API 50/s, registry 500/s per process)'
      : Object.entries(first.rates)
          .map(([name, value]) => `${name}=${value}`)
          .join(', ');
  const check = (row) =>
    `kept ${row.check.keptChecked - row.check.keptMissing}/${row.check.keptChecked} present, ` +
    `deleted ${row.check.deletedChecked - row.check.deletedLeft}/${row.check.deletedChecked} gone (sample)`;
  return [
    `\`enqueue --confirm --wait\` in full mode, worker processes with the deployed \`NODE_OPTIONS='${first.nodeOptions}'\` ` +
      `and ${rates}; a fresh openshift-sim per row filled through its API with ${first.images} Images, ` +
      `${first.streams} streams and ${first.pods} pods (keepTagRevisions 2), and the registry storage written on disk ` +
      `(${first.storageFiles} files: what the plan deletes, the blobs kept images share, a sample of kept images). ` +
      "Wall time from trigger to run end; registry DELETE/s from the registry front's own counter; API calls/s " +
      'counted by a TLS proxy in front of the API server; peak RSS is VmHWM of each worker.',
    '',
    '| workers | images deleted | registry deletes | wall s | registry DELETE/s | API calls/s | peak RSS MiB per worker | failed items | storage check |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | :--- | ---: | :--- |',
    ...data.rows.map(
      (row) =>
        `| ${row.workers} | ${row.imagesDeleted} | ${row.registryItemsDeleted} | ${row.seconds.toFixed(1)} | ` +
        `${row.registryDeletesPerSecond.toFixed(0)} | ${row.apiCallsPerSecond.toFixed(1)} | ` +
        `${row.peakRssMiB.map((v) => v.toFixed(0)).join(' / ')} | ${row.itemsFailed ?? '—'} | ${check(row)} |`,
    ),
    '',
    `Floors from one Node process over the same routes (keep-alive, 8 in flight): registry DELETE/s manifest link ` +
      `${floor.manifestLinkRate.toFixed(0)}, layer link ${floor.layerLinkRate.toFixed(0)}, blob ${floor.blobRate.toFixed(0)} ` +
      `(the run's mix ${data.floorMix.toFixed(0)}/s); Image DELETE/s through the API ${floor.imageDeleteRate.toFixed(0)}. ` +
      `Reference: \`oc adm prune images\` cannot run here; the previous version re-listed every Image and stream ` +
      `before each image unit (${first.relist.seconds.toFixed(1)} s per re-list of ${first.relist.objects} objects ` +
      `here), ~${(data.previousHours * 60).toFixed(0)} min for ${first.plannedImageDeletes} image units.` +
      (first.soak === undefined
        ? ''
        : ` Race soak during the 1-worker run: ${first.soak.pushed} pushes re-using layers of pruned images ` +
          `(${first.soak.pushFailed} failed), ${first.soak.unpullable.length} unpullable afterwards.`),
  ];
}

const SECTIONS = {
  push: pushSection,
  'prune-plan': planSection,
  'run-scale': runScaleSection,
  'confirmed-scale': confirmedScaleSection,
  throughput: throughputSection,
};

// ---- main ---------------------------------------------------------------------------------------------------
await mkdir(results, { recursive: true });
const sections = [];
let failed = false;
for (const bench of BENCHES) {
  const begun = performance.now();
  console.error(`\n== bench ${bench.name}${quick ? ' (quick)' : ''} ==`);
  const collected = [];
  let error;
  try {
    for (let i = 0; i < bench.repeat; i++) {
      await rm(join(results, bench.json), { force: true });
      for (const step of bench.steps) await run(step);
      if (!existsSync(join(results, bench.json)))
        throw new Error(`no bench-results/${bench.json} was written`);
      collected.push(JSON.parse(await readFile(join(results, bench.json), 'utf8')));
    }
  } catch (err) {
    error = err;
    failed = true;
    console.error(`bench ${bench.name} failed: ${err.message}`);
  }
  const minutes = ((performance.now() - begun) / 60_000).toFixed(1);
  const body = error === undefined ? SECTIONS[bench.name](collected) : [`**Failed:** ${error.message}`];
  sections.push(
    `## ${bench.title}`,
    '',
    ...body,
    '',
    `Command (${bench.repeat > 1 ? `${bench.repeat} times, ` : ''}${minutes} min):`,
    '',
    '```sh',
    ...bench.steps.map(describe),
    '```',
    '',
  );
}

const report = [
  `# Benchmarks${quick ? ' (quick smoke run: small sizes, few runs; not for quoting)' : ''}`,
  '',
  `- Date: ${facts.date}`,
  `- Command: \`${command}\` (at the repository root)`,
  `- Machine: ${facts.nproc} CPUs (\`nproc\`; ${facts.cpu}), ${facts.memTotal} memory (${facts.memFree} free at start), load average at start ${facts.load}`,
  `- Node ${facts.node}`,
  `- Total time: ${((Date.now() - started.getTime()) / 60_000).toFixed(1)} min`,
  '',
  'Performance is measured here, never asserted: no test reads these figures.',
  '',
  ...sections,
].join('\n');
await writeFile(join(results, 'README.md'), report);
console.error(`\nwrote ${relative(root, join(results, 'README.md'))}`);
process.exit(failed ? 1 : 0);
