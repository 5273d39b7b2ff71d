#!/usr/bin/env node
// The `registry-pruner` command. This file is committed so that `npm ci` links the command into node_modules/.bin
// even before the first build (npm silently skips a bin whose file does not exist yet); the code is the built
// dist/cli.js.
import { existsSync } from 'node:fs';
import process from 'node:process';
import { URL } from 'node:url';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write(
    'registry-pruner is not built yet: run `npm run build` at the repository root first.\n',
  );
  process.exit(1);
}
await import(cli.href);
