// The conventions of a command-line tool on the `openshift-sim` bin: `--version` and `-V` print the package
// version; `completion bash|zsh` prints a script made from the option table that `--help` prints, which a
// real bash (and zsh, where installed) loads and completes with.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeWorkDir, removeWorkDir } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const bin = new URL('../bin/openshift-sim.js', import.meta.url).pathname;
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

let binDir: string;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  // `openshift-sim` on PATH, as npm links it, run by this Node.
  binDir = await makeWorkDir('sim-cli-conventions');
  await writeFile(join(binDir, 'openshift-sim'), `#!/bin/sh\nexec '${process.execPath}' '${bin}' "$@"\n`);
  await chmod(join(binDir, 'openshift-sim'), 0o755);
  env = { PATH: `${binDir}:${process.env['PATH'] ?? ''}`, HOME: binDir };
});
afterAll(async () => {
  await removeWorkDir(binDir);
});

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

describe('openshift-sim completion', () => {
  async function bashComplete(words: readonly string[]): Promise<string[]> {
    const quoted = words.map((word) => `'${word}'`).join(' ');
    const { stdout } = await run(
      'bash',
      [
        '-c',
        `source <(openshift-sim completion bash) && COMP_WORDS=(${quoted}) && COMP_CWORD=${words.length - 1} && _openshift_sim && printf '%s\\n' "\${COMPREPLY[@]}"`,
      ],
      { env },
    );
    return stdout.split('\n').filter((line) => line !== '');
  }

  it('bash loads it and completes the commands, the options --help lists, and their values', async () => {
    const { stdout } = await run(
      'bash',
      ['-c', 'source <(openshift-sim completion bash) && complete -p openshift-sim'],
      {
        env,
      },
    );
    expect(stdout.trim()).toBe('complete -F _openshift_sim openshift-sim');
    expect(await bashComplete(['openshift-sim', 'st'])).toEqual(['start']);
    const help = (await run(process.execPath, [bin, '--help'])).stdout;
    const listed = [...help.matchAll(/^ {2}(?:-\w, )?(--[a-z-]+)/gm)].map((match) => match[1]);
    expect(listed).toContain('--router-mode');
    const offered = (await bashComplete(['openshift-sim', 'start', '--'])).filter((w) => w.startsWith('--'));
    expect(offered.sort()).toEqual(listed.sort());
    expect(await bashComplete(['openshift-sim', 'start', '--router-mode', ''])).toEqual([
      'hosts',
      'port',
      'auto',
    ]);
    expect(await bashComplete(['openshift-sim', 'start', '--storage', 'e'])).toEqual(['emptyDir']);
    expect(await bashComplete(['openshift-sim', 'completion', ''])).toEqual(['bash', 'zsh']);
  });

  it('an unknown shell: one line, exit 2', async () => {
    const failure = await run(process.execPath, [bin, 'completion', 'fish']).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toBe('openshift-sim completion: name one shell, bash or zsh\n');
  });

  const zsh = run('zsh', ['--version']).then(
    () => true,
    () => false,
  );
  it('zsh loads it after compinit and lists the values of an option (skipped without zsh)', async (context) => {
    if (!(await zsh)) context.skip();
    const script = join(binDir, 'complete.zsh');
    await writeFile(
      script,
      `zmodload zsh/zpty
zpty z 'TERM=dumb zsh -f -i'
zpty -w z 'PS1="> "; autoload -Uz compinit; compinit -u -D; source <(openshift-sim completion zsh); print -r -- loaded:$_comps[openshift-sim]'
sleep 1
zpty -w -n z $'openshift-sim start --router-mode \\t'
sleep 1
out=""
while zpty -r -t z chunk; do out+=$chunk; done
print -r -- "$out"
zpty -d z
`,
    );
    const { stdout } = await run('zsh', ['-f', script], { env, timeout: 20_000 });
    // eslint-disable-next-line no-control-regex
    const shown = stdout.replace(/\u001b\[[0-9;?]*[A-Za-z]|[\r\u0007]/g, '');
    expect(shown).toMatch(/loaded:_openshift_sim/);
    expect(shown).toMatch(/auto +hosts +port/);
  });
});
