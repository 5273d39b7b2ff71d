#!/usr/bin/env node
// The `registry-pruner` binary: runs one command and exits with its code.
import { main } from './main.js';

const stopSignal = new Promise<string>((resolve) => {
  process.once('SIGTERM', () => resolve('SIGTERM'));
  process.once('SIGINT', () => resolve('SIGINT'));
});

const code = await main(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text + '\n'),
  stderr: (text) => process.stderr.write(text + '\n'),
  env: process.env,
  stopSignal,
});
process.exit(code);
