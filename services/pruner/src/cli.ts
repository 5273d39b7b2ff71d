#!/usr/bin/env node
// The `registry-pruner` binary: runs one command and exits with its code.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { main } from './main.js';

// `--version` and `-V` print the package version: the package.json next to dist/ (in the image too).
const first = process.argv[2];
if (first === '--version' || first === '-V') {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version?: unknown;
  };
  process.stdout.write(`${typeof pkg.version === 'string' ? pkg.version : 'unknown'}\n`);
  process.exit(0);
}

const stopSignal = new Promise<string>((resolve) => {
  process.once('SIGTERM', () => resolve('SIGTERM'));
  process.once('SIGINT', () => resolve('SIGINT'));
});

const code = await main(process.argv.slice(2), {
  // A full pipe makes the caller wait (large JSON results are written block by block): memory stays flat.
  stdout: (text) =>
    process.stdout.write(text + '\n') ? undefined : once(process.stdout, 'drain').then(() => undefined),
  stderr: (text) => process.stderr.write(text + '\n'),
  env: process.env,
  stopSignal,
});
// Pipes take writes asynchronously: let everything written reach them before exiting (a large JSON result
// would otherwise be cut short). Exiting explicitly ends idle keep-alive connections of the clients.
const flushed = (stream: NodeJS.WriteStream): Promise<void> =>
  new Promise((resolve) => stream.write('', () => resolve()));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
