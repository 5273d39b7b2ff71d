// One push in its own process, so the benchmark can read this process's own peak RSS.
// argv: <mode native|floor> <source> <host/repo:tag> <caFile>
import { readFile } from 'node:fs/promises';
import { pushImage } from '../src/push-api.js';
import { floorPush } from './floor.js';

const [mode, source, target, caFile] = process.argv.slice(2);
if (mode === undefined || source === undefined || target === undefined || caFile === undefined) {
  throw new Error('usage: push-runner <native|floor> <source> <target> <caFile>');
}
const caPem = await readFile(caFile, 'utf8');
const started = performance.now();
if (mode === 'native') {
  await pushImage({ source, target, openshift: false, connection: { caPem } });
} else {
  await floorPush(source, target, caPem);
}
const ms = performance.now() - started;
// maxRSS is in KiB.
process.stdout.write(JSON.stringify({ ms, peakRssMiB: process.resourceUsage().maxRSS / 1024 }) + '\n');
