// `npm run bench` in packages/core: the native push side by side with `skopeo copy` and the floor (parallel
// monolithic PUTs and nothing else), in one run, on the same machine, against Debian's distribution
// registry over TLS on loopback with fresh storage for every run. Prints a markdown table of medians
// (min–max) of wall time and peak RSS, and writes it to bench-results/push.md (raw samples: push.json).
//
// BENCH_RUNS (default 5) sets runs per cell; BENCH_QUICK=1 shrinks the images for a smoke run;
// BENCH_CASES=a,warm (letters of the cases, and `warm`) runs only those cells.
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildOciImage, makeWorkDir, startRegistry, type BuiltImage } from '@registry-push/testkit';

const MIB = 1024 * 1024;
const runs = Number(process.env['BENCH_RUNS'] ?? '5');
const quick = process.env['BENCH_QUICK'] === '1';
const here = dirname(fileURLToPath(import.meta.url));
const runner = join(here, 'push-runner.js');

interface Sample {
  ms: number;
  peakRssMiB: number;
  /** CPU seconds the registry process spent on this push (user + system). */
  registryCpuS?: number;
}

/** User + system CPU seconds of a process so far, from /proc (clock ticks are 1/100 s on Linux). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Case {
  name: string;
  layers: number;
  layerSize: number;
}

const CASES: Case[] = quick
  ? [
      { name: 'a) 4 layers x 4 MiB', layers: 4, layerSize: 4 * MIB },
      { name: 'b) 10 layers x 256 KiB', layers: 10, layerSize: 256 * 1024 },
      { name: 'c) 1 layer x 32 MiB', layers: 1, layerSize: 32 * MIB },
    ]
  : [
      { name: 'a) 4 layers x 64 MiB', layers: 4, layerSize: 64 * MIB },
      { name: 'b) 40 layers x 1 MiB', layers: 40, layerSize: MIB },
      { name: 'c) 1 layer x 1 GiB', layers: 1, layerSize: 1024 * MIB },
    ];

/** Run a command; sample its peak RSS from /proc (VmHWM) every 20 ms, as a tool's own usage is not ours. */
function measure(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let peakKiB = 0;
    const timer = setInterval(() => {
      readFile(`/proc/${child.pid}/status`, 'utf8').then(
        (status) => {
          const match = /VmHWM:\s+(\d+) kB/.exec(status);
          if (match) peakKiB = Math.max(peakKiB, Number(match[1]));
        },
        () => undefined,
      );
    }, 20);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(timer);
      const ms = performance.now() - started;
      if (code !== 0) {
        const reason =
          stderr.split('\n').find((line) => /error/i.test(line)) ?? stderr.trim().split('\n').pop();
        reject(new Error(`${command} ${args.join(' ')} exited ${String(code)}: ${reason ?? ''}`));
        return;
      }
      // The node runners report their own peak exactly; for other programs use the sampled value.
      const reported = stdout.trim().split('\n').pop();
      if (reported?.startsWith('{') === true) {
        const parsed = JSON.parse(reported) as Sample;
        resolve({ ms, peakRssMiB: parsed.peakRssMiB });
        return;
      }
      resolve({ ms, peakRssMiB: peakKiB / 1024 });
    });
  });
}

type Tool = 'native' | 'skopeo' | 'floor';

async function pushOnce(tool: Tool, image: BuiltImage, warm: boolean, work: string): Promise<Sample> {
  const registry = await startRegistry({ tls: true });
  try {
    const caFile = join(work, 'ca.pem');
    await writeFile(caFile, registry.caPem!);
    const source = `oci:${image.layoutDir}:${image.tag}`;
    const target = `${registry.host}/bench/app:v1`;
    const run = (): Promise<Sample> => {
      if (tool === 'skopeo') {
        return measure('skopeo', [
          '--insecure-policy',
          'copy',
          '--quiet',
          '--dest-cert-dir',
          registry.certDir!,
          source,
          `docker://${target}`,
        ]);
      }
      return measure(process.execPath, [runner, tool, source, target, caFile]);
    };
    if (warm) await run();
    const before = await cpuSeconds(registry.pid);
    const sample = await run();
    return { ...sample, registryCpuS: (await cpuSeconds(registry.pid)) - before };
  } finally {
    await registry.stop();
  }
}

function summary(samples: readonly number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  const fmt = (value: number): string => (value >= 100 ? value.toFixed(0) : value.toFixed(2));
  return `${fmt(median)} (${fmt(sorted[0] ?? 0)}–${fmt(sorted.at(-1) ?? 0)})`;
}

function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function main(): Promise<void> {
  const work = await makeWorkDir('bench-push');
  const rows: string[] = [];
  const records: Array<{ name: string; samples: Record<Tool, Sample[]> }> = [];
  try {
    const only = process.env['BENCH_CASES']?.split(',').map((name) => name.trim());
    const chosen = (name: string): boolean =>
      only === undefined ||
      only.some((key) => (key === 'warm' ? name.startsWith('warm') : name.startsWith(`${key})`)));
    const cells: Array<{ name: string; image: BuiltImage; warm: boolean }> = [];
    for (const [i, spec] of CASES.entries()) {
      // The warm re-push reuses case (a)'s image.
      if (!chosen(spec.name) && !(i === 0 && chosen('warm'))) continue;
      const image = await buildOciImage({
        outDir: join(work, `case-${i}`),
        layers: spec.layers,
        layerSize: spec.layerSize,
        seed: `bench-${i}`,
        tag: 'v1',
      });
      cells.push({ name: spec.name, image, warm: false });
    }
    if (chosen('warm')) {
      cells.push({ name: 'warm re-push of (a), every blob present', image: cells[0]!.image, warm: true });
    }
    for (const cell of cells.filter((candidate) => chosen(candidate.name))) {
      const results = new Map<Tool, Sample[]>();
      // Interleave the tools run by run, so drift in the machine's load hits them alike.
      for (let run = 0; run < runs; run++) {
        for (const tool of ['native', 'skopeo', 'floor'] as const) {
          const sample = await pushOnce(tool, cell.image, cell.warm, work);
          results.set(tool, [...(results.get(tool) ?? []), sample]);
        }
      }
      const time = (tool: Tool): number[] => (results.get(tool) ?? []).map((s) => s.ms / 1000);
      const rss = (tool: Tool): number[] => (results.get(tool) ?? []).map((s) => s.peakRssMiB);
      const registryCpu = (tool: Tool): string =>
        median((results.get(tool) ?? []).map((s) => s.registryCpuS ?? 0)).toFixed(2);
      rows.push(
        `| ${cell.name} | ${summary(time('native'))} | ${summary(time('skopeo'))} | ${summary(time('floor'))} | ` +
          `${(median(time('native')) / median(time('skopeo'))).toFixed(2)}x | ${(median(time('native')) / median(time('floor'))).toFixed(2)}x | ` +
          `${summary(rss('native'))} | ${summary(rss('skopeo'))} | ${summary(rss('floor'))} | ` +
          `${registryCpu('native')} / ${registryCpu('skopeo')} / ${registryCpu('floor')} |`,
      );
      records.push({
        name: cell.name,
        samples: {
          native: results.get('native') ?? [],
          skopeo: results.get('skopeo') ?? [],
          floor: results.get('floor') ?? [],
        },
      });
      process.stderr.write(`done: ${cell.name}\n`);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const table = [
    `Push benchmark: ${runs} runs per cell, median (min–max); TLS registry on loopback, fresh storage per run; ${new Date().toISOString().slice(0, 10)}.`,
    '',
    '| case | native s | skopeo s | floor s | native/skopeo | native/floor | native peak RSS MiB | skopeo peak RSS MiB | floor peak RSS MiB | registry CPU s (native / skopeo / floor) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
  process.stdout.write(table + '\n');
  // npm runs this in packages/core; results go to the repository's bench-results/.
  const out = join(process.cwd(), '..', '..', 'bench-results');
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'push.md'), table + '\n');
  // The raw samples (wall ms, peak RSS MiB per run and tool), for scripts/bench.mjs.
  await writeFile(
    join(out, 'push.json'),
    JSON.stringify({ bench: 'push', runs, quick, cases: records }, null, 2) + '\n',
  );
}

await main();
