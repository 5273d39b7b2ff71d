// Bundles the built CLI (packages/cli/dist) and its dependencies into one CommonJS file for a Node single
// executable application. Usage: node bundle.mjs OUT_FILE
import { readFileSync } from 'node:fs';
import { argv, stdout } from 'node:process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = argv[2];
if (!out) throw new Error('usage: node bundle.mjs OUT_FILE');

const { version } = JSON.parse(readFileSync(resolve(here, '../../packages/cli/package.json'), 'utf8'));

const result = await build({
  absWorkingDir: resolve(here, '../..'),
  entryPoints: [resolve(here, 'entry.mjs')],
  outfile: resolve(out),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node24',
  // A CommonJS file has no import.meta; the code uses import.meta.url only to create a require for Node's
  // own modules, which any file URL serves. The executable's own path is the honest one.
  // REGISTRY_PUSH_VERSION: what `--version` prints, as no package.json sits next to the bundled code.
  define: { 'import.meta.url': '__registry_push_url', REGISTRY_PUSH_VERSION: JSON.stringify(version) },
  banner: { js: "var __registry_push_url = require('node:url').pathToFileURL(process.execPath).href;" },
  minify: true,
  legalComments: 'none',
  charset: 'utf8',
  metafile: true,
  logLevel: 'warning',
});
const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
stdout.write(
  `bundled ${Object.keys(result.metafile.inputs).length} modules into ${out} (${(bytes / 1024).toFixed(0)} KiB)\n`,
);
