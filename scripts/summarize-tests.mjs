// Adds up the JSON reports every workspace's vitest run wrote and prints one closing line
// ("N passed, N failed, N skipped"). Exits non-zero when a report is missing for a workspace with tests
// or anything failed, so a suite that silently ran nothing cannot look green.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const { workspaces } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const dirs = workspaces.flatMap((pattern) => {
  if (!pattern.endsWith('/*')) return [join(root, pattern)];
  const parent = join(root, pattern.slice(0, -2));
  return existsSync(parent)
    ? readdirSync(parent, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => join(parent, e.name))
    : [];
});

let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
for (const dir of dirs) {
  if (!existsSync(join(dir, 'vitest.config.ts'))) continue;
  const report = join(dir, '.vitest-results.json');
  if (!existsSync(report)) {
    missing.push(dir.slice(root.length));
    continue;
  }
  const result = JSON.parse(readFileSync(report, 'utf8'));
  passed += result.numPassedTests;
  failed += result.numFailedTests;
  skipped += result.numPendingTests + result.numTodoTests;
}
for (const dir of missing) console.error(`no test report from ${dir}: its tests did not run to the end`);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || missing.length > 0 || passed === 0 ? 1 : 0);
