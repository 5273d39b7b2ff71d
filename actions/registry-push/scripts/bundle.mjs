// Bundles the action for the runner: dist/main.js and dist/post.js (ESM, node24) sharing one chunk, plus
// dist/licenses.txt with the license of every third-party package inside. The output is committed and must be
// reproducible: scripts/check-action-dist.sh rebuilds it and fails on any difference.
import { readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { stdout } from 'node:process';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');

rmSync(dist, { recursive: true, force: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: { main: 'src/entry/main.ts', post: 'src/entry/post.ts' },
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  // Some dependencies are CommonJS and require() Node's modules; ESM has no require of its own.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);",
  },
  minify: true,
  legalComments: 'none',
  charset: 'utf8',
  metafile: true,
  logLevel: 'warning',
});

// Whatever package.json sits above the checkout, dist/*.js are ES modules.
writeFileSync(join(dist, 'package.json'), JSON.stringify({ type: 'module' }, null, 2) + '\n');

/** The directory of the package a bundled file belongs to (the last node_modules/<name> in its path). */
function packageDir(file) {
  const parts = resolve(root, file).split(sep);
  const index = parts.lastIndexOf('node_modules');
  if (index < 0) return undefined;
  const length = parts[index + 1]?.startsWith('@') ? 3 : 2;
  return parts.slice(0, index + length).join(sep);
}

const LICENSE_FILE = /^(licen[cs]e|copying|notice)(\..*)?$/i;

const packages = new Map();
for (const file of Object.keys(result.metafile.inputs)) {
  const dir = packageDir(file);
  if (dir === undefined || packages.has(dir)) continue;
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const texts = readdirSync(dir)
    .filter((name) => LICENSE_FILE.test(name))
    .sort()
    .map((name) => readFileSync(join(dir, name), 'utf8').trim());
  packages.set(dir, { name: manifest.name, version: manifest.version, license: manifest.license, texts });
}

const sections = [...packages.values()]
  .sort((a, b) => a.name.localeCompare(b.name))
  .map(({ name, version, license, texts }) => {
    const body =
      texts.length > 0
        ? texts.join('\n\n')
        : `(no license file in the package; package.json says ${license ?? 'nothing'})`;
    return `${name}@${version} — ${license ?? 'unknown'}\n\n${body}\n`;
  });
const header =
  'Third-party software bundled into dist/ of the registry-push action.\n' +
  'The action itself and @registry-push/core are Apache-2.0 (see the repository).\n';
writeFileSync(join(dist, 'licenses.txt'), [header, ...sections].join('\n' + '-'.repeat(78) + '\n\n'));

const outputs = Object.entries(result.metafile.outputs).map(
  ([file, output]) => `${relative(root, join(root, file))} ${(output.bytes / 1024).toFixed(0)} KiB`,
);
stdout.write(`bundled ${packages.size} third-party packages:\n  ${outputs.join('\n  ')}\n`);
if (!existsSync(join(dist, 'main.js')) || !existsSync(join(dist, 'post.js'))) {
  throw new Error('dist/main.js or dist/post.js is missing after the build');
}
