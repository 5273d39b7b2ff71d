// `registry-pruner --version` and `-V`: the package version, from the bin users (and the image) run.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const bin = new URL('../bin/registry-pruner.js', import.meta.url).pathname;
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

describe('registry-pruner --version', () => {
  it.each(['--version', '-V'])('%s prints the package version and exits 0', async (flag) => {
    const { stdout, stderr } = await run(process.execPath, [bin, flag], {
      env: { PATH: process.env['PATH'] },
    });
    expect(stdout).toBe(`${version}\n`);
    expect(stderr).toBe('');
  });

  it('a command is still required without it (exit 2)', async () => {
    const failure = await run(process.execPath, [bin], { env: { PATH: process.env['PATH'] } }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(2);
  });
});
