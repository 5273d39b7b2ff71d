#!/usr/bin/env node
// The `registry-push` binary: runs one subcommand and exits with its code.
import { readFileSync } from 'node:fs';
import { main } from './main.js';

const code = await main(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text + '\n'),
  stderr: (text) => process.stderr.write(text + '\n'),
  env: process.env,
  readStdin: () => readFileSync(0, 'utf8'),
  ...(process.stderr.isTTY
    ? { statusLine: (text: string) => process.stderr.write(`\r\u001b[2K${text}`) }
    : {}),
});
process.exitCode = code;
