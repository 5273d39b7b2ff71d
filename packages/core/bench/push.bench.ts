// `npm run bench` in packages/core: the push side by side with `skopeo copy` and two floors, in one run,
// on the same machine, against Debian's distribution registry on loopback with fresh storage for every
// run, over plain HTTP and over TLS. Prints a markdown table of medians (min–max) of wall time and peak
// RSS, and writes it to bench-results/push.md (raw samples: push.json).
//
// The tools, interleaved run by run:
// - cli: the `registry-push push` command as users run it (its bin, a new Node process, with a token in
//   REGISTRY_PUSH_TOKEN as CI passes one), so start-up and imports count;
// - native: `pushImage` in a bare runner process (the library alone);
// - skopeo: `skopeo copy` from the same OCI layout;
// - curl: the curl floor (curl-floor.ts): parallel curl processes, one monolithic `PUT ?digest=` per blob
//   after its POST, then the manifest PUT — the reference for the command's target (<= 1.15x);
// - floor: the same floor with Node's HTTP client, in one process.
//
// BENCH_RUNS (default 5) sets runs per cell; BENCH_QUICK=1 shrinks the images for a smoke run;
// BENCH_CASES=a,warm (letters of the cases, and `warm`) runs only those cells; BENCH_TRANSPORTS=plain,tls
// (the default) chooses the registries; BENCH_TOOLS=cli,curl (default all) chooses the tools.
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildOciImage, makeWorkDir, startRegistry, type BuiltImage } from '@registry-push/testkit';
import { curlFloorPlan, curlFloorPush } from './curl-floor.js';

const MIB = 1024 * 1024;
const runs = Number(process.env['BENCH_RUNS'] ?? '5');
const quick = process.env['BENCH_QUICK'] === '1';
const here = dirname(fileURLToPath(import.meta.url));
const runner = join(here, 'push-runner.js');
// dist/bench/bench -> the repository root.
const cliBin = join(here, '..', '..', '..', '..', '..', 'packages', 'cli', 'bin', 'registry-push.js');

interface Sample {
  ms: number;
  peakRssMiB: number;
  /** CPU seconds the registry process spent on this push (user + system). */
  registryCpuS?: number;
  /**
   * CPU seconds the pushing processes spent (user + system of every child this bench waited for during the
   * push: the CLI, the runner, skopeo, or all the curl processes). Unlike wall time, it hardly moves when
   * other work loads the machine.
   */
  clientCpuS?: number;
}

/** User + system CPU seconds of a process so far, from /proc (clock ticks are 1/100 s on Linux). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * User + system CPU seconds of the children this process has waited for (cutime + cstime of
 * /proc/self/stat): an exited child's CPU time is added there when it is reaped.
 */
async function childrenCpuSeconds(): Promise<number> {
  const stat = await readFile('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100;
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

const TOOLS = ['cli', 'native', 'skopeo', 'curl', 'floor'] as const;
type Tool = (typeof TOOLS)[number];
type Transport = 'plain' | 'tls';

async function pushOnce(
  tool: Tool,
  transport: Transport,
  image: BuiltImage,
  warm: boolean,
  work: string,
): Promise<Sample> {
  const tls = transport === 'tls';
  const registry = await startRegistry({ tls });
  try {
    const caFile = join(work, 'ca.pem');
    if (tls) await writeFile(caFile, registry.caPem!);
    const source = `oci:${image.layoutDir}:${image.tag}`;
    const target = `${registry.host}/bench/app:v1`;
    const plan = await curlFloorPlan(image.layoutDir);
    const run = async (): Promise<Sample> => {
      switch (tool) {
        case 'skopeo':
          return measure('skopeo', [
            '--insecure-policy',
            'copy',
            '--quiet',
            ...(tls ? ['--dest-cert-dir', registry.certDir!] : ['--dest-tls-verify=false']),
            source,
            `docker://${target}`,
          ]);
        case 'cli':
          // As a CI job runs it: a token in the environment (this registry asks for none, so it is never sent).
          return measure(
            process.execPath,
            [
              cliBin,
              'push',
              ...(tls ? ['--ca-file', caFile] : ['--plain-http']),
              '--tag',
              'v1',
              source,
              `${registry.host}/bench/app`,
            ],
            { ...process.env, REGISTRY_PUSH_TOKEN: 'bench-token' },
          );
        case 'curl': {
          const started = performance.now();
          await curlFloorPush(plan, registry.url, 'bench/app', 'v1', tls ? caFile : undefined);
          return { ms: performance.now() - started, peakRssMiB: Number.NaN };
        }
        case 'native':
        case 'floor':
          return measure(process.execPath, [runner, tool, source, target, tls ? caFile : '-']);
      }
    };
    if (warm) await run();
    const before = await cpuSeconds(registry.pid);
    const clientBefore = await childrenCpuSeconds();
    const sample = await run();
    return {
      ...sample,
      registryCpuS: (await cpuSeconds(registry.pid)) - before,
      clientCpuS: (await childrenCpuSeconds()) - clientBefore,
    };
  } finally {
    await registry.stop();
  }
}

/** Every tool `runs` times on one cell, interleaved run by run so drift in the machine's load hits them alike. */
async function measureCell(
  tools: readonly Tool[],
  transport: Transport,
  cell: { image: BuiltImage; warm: boolean },
  work: string,
): Promise<Map<Tool, Sample[]>> {
  const results = new Map<Tool, Sample[]>();
  for (let run = 0; run < runs; run++) {
    for (const tool of tools) {
      const sample = await pushOnce(tool, transport, cell.image, cell.warm, work);
      results.set(tool, [...(results.get(tool) ?? []), sample]);
    }
  }
  return results;
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
  const records: Array<{ name: string; transport: Transport; samples: Record<Tool, Sample[]> }> = [];
  const tools = TOOLS.filter((tool) => {
    const only = process.env['BENCH_TOOLS']?.split(',').map((name) => name.trim());
    return only === undefined || only.includes(tool);
  });
  const transports = (process.env['BENCH_TRANSPORTS'] ?? 'plain,tls')
    .split(',')
    .map((name) => name.trim())
    .filter((name): name is Transport => name === 'plain' || name === 'tls');
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
      for (const transport of transports) {
        const results = await measureCell(tools, transport, cell, work);
        const time = (tool: Tool): number[] => (results.get(tool) ?? []).map((s) => s.ms / 1000);
        const rss = (tool: Tool): number[] => (results.get(tool) ?? []).map((s) => s.peakRssMiB);
        const ratio = (a: Tool, b: Tool): string =>
          time(a).length === 0 || time(b).length === 0
            ? '—'
            : `${(median(time(a)) / median(time(b))).toFixed(2)}x`;
        const clientCpu = tools
          .map((tool) => median((results.get(tool) ?? []).map((s) => s.clientCpuS ?? 0)).toFixed(2))
          .join(' / ');
        const registryCpu = tools
          .map((tool) => median((results.get(tool) ?? []).map((s) => s.registryCpuS ?? 0)).toFixed(2))
          .join(' / ');
        rows.push(
          `| ${cell.name} | ${transport} | ${tools.map((tool) => summary(time(tool))).join(' | ')} | ` +
            `${ratio('cli', 'curl')} | ${ratio('native', 'curl')} | ${ratio('cli', 'skopeo')} | ` +
            `${summary(rss('cli'))} | ${summary(rss('skopeo'))} | ${clientCpu} | ${registryCpu} |`,
        );
        records.push({
          name: cell.name,
          transport,
          samples: Object.fromEntries(TOOLS.map((tool) => [tool, results.get(tool) ?? []])) as Record<
            Tool,
            Sample[]
          >,
        });
        process.stderr.write(`done: ${cell.name} (${transport})\n`);
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const table = [
    `Push benchmark: ${runs} runs per cell, median (min–max) wall seconds; Debian's distribution registry on loopback (plain HTTP and TLS), fresh storage per run; ${new Date().toISOString().slice(0, 10)}.`,
    '',
    `| case | registry | ${tools.map((tool) => `${tool} s`).join(' | ')} | cli/curl | native/curl | cli/skopeo | cli peak RSS MiB | skopeo peak RSS MiB | client CPU s (${tools.join(' / ')}) | registry CPU s (${tools.join(' / ')}) |`,
    `| --- | --- | ${tools.map(() => '---').join(' | ')} | --- | --- | --- | --- | --- | --- | --- |`,
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
    JSON.stringify({ bench: 'push', runs, quick, tools, cases: records }, null, 2) + '\n',
  );
}

await main();
