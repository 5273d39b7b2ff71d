// `openshift-sim --version` and `-V`: the package version, from the bin users run, exit 0, nothing else.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const bin = new URL('../bin/openshift-sim.js', import.meta.url).pathname;
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

describe('openshift-sim --version', () => {
  it.each(['--version', '-V'])('%s prints the package version', async (flag) => {
    const { stdout, stderr } = await run(process.execPath, [bin, flag]);
    expect(stdout).toBe(`${version}\n`);
    expect(stderr).toBe('');
  });

  it('is in --help', async () => {
    const { stdout } = await run(process.execPath, [bin, '--help']);
    expect(stdout).toMatch(/openshift-sim --version \| -V/);
  });
});
