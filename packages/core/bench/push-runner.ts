// One push in its own process, so the benchmark can read this process's own peak RSS.
// argv: <mode native|floor> <source> <host/repo:tag> <caFile, or - for a plain-HTTP registry>
import { readFile } from 'node:fs/promises';
import { pushImage } from '../src/push-entry.js';
import { floorPush } from './floor.js';

const [mode, source, target, caFile] = process.argv.slice(2);
if (mode === undefined || source === undefined || target === undefined || caFile === undefined) {
  throw new Error('usage: push-runner <native|floor> <source> <target> <caFile>');
}
const caPem = caFile === '-' ? undefined : await readFile(caFile, 'utf8');
const started = performance.now();
if (mode === 'native') {
  // BENCH_MONOLITHIC_MAX / BENCH_CHUNK (bytes) and BENCH_CONCURRENCY tune the client for experiments.
  const env = process.env;
  await pushImage({
    source,
    target,
    openshift: false,
    ...(env['BENCH_CONCURRENCY'] === undefined ? {} : { concurrency: Number(env['BENCH_CONCURRENCY']) }),
    connection: {
      ...(caPem === undefined ? { plainHttp: true } : { caPem }),
      ...(env['BENCH_MONOLITHIC_MAX'] === undefined
        ? {}
        : { monolithicMaxBytes: Number(env['BENCH_MONOLITHIC_MAX']) }),
      ...(env['BENCH_CHUNK'] === undefined ? {} : { chunkBytes: Number(env['BENCH_CHUNK']) }),
    },
  });
} else {
  await floorPush(source, target, caPem);
}
const ms = performance.now() - started;
// maxRSS is in KiB.
process.stdout.write(JSON.stringify({ ms, peakRssMiB: process.resourceUsage().maxRSS / 1024 }) + '\n');
