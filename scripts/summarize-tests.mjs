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
const failures = [];
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
  for (const file of result.testResults) {
    const where = file.name.startsWith(root) ? file.name.slice(root.length) : file.name;
    // A file that failed to load has no assertions, only its message.
    if (file.status === 'failed' && file.assertionResults.every((a) => a.status !== 'failed')) {
      failures.push({ where, title: '(the file)', message: file.message });
    }
    for (const test of file.assertionResults) {
      if (test.status === 'failed') {
        failures.push({ where, title: test.fullName, message: test.failureMessages.join('\n') });
      }
    }
  }
}
// CI keeps only the end of the log: repeat what failed here, where it will be read.
for (const { where, title, message } of failures) {
  console.error(`FAILED ${where} > ${title}`);
  const lines = (message ?? '').split('\n').slice(0, 12);
  for (const line of lines) console.error(`    ${line}`);
}
for (const dir of missing) console.error(`no test report from ${dir}: its tests did not run to the end`);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || missing.length > 0 || passed === 0 ? 1 : 0);
