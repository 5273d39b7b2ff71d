// The conventions of `registry-pruner` as users meet them from the bin (and the image): `--version` and
// `-V` print the package version; `--help` of each command lists its options; `completion bash|zsh`
// prints a script that bash (and zsh, where installed) loads, offering exactly those options and their values.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeWorkDir, removeWorkDir } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

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

const env = { PATH: process.env['PATH'] };
const pruner = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
  run(process.execPath, [bin, ...args], { env }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
const COMMANDS = ['run', 'worker', 'enqueue', 'status', 'explain', 'completion'];
const hasZsh = await run('zsh', ['--version']).then(
  () => true,
  () => false,
);

let dir: string;
beforeAll(async () => {
  dir = await makeWorkDir('pruner-completion');
  await writeFile(join(dir, 'completion.bash'), (await pruner(['completion', 'bash'])).stdout);
});
afterAll(async () => {
  await removeWorkDir(dir);
});

/** The candidates bash's completion function offers for `words`, the last one being completed. */
async function bashComplete(words: readonly string[]): Promise<string[]> {
  const quoted = words.map((word) => `'${word}'`).join(' ');
  const { stdout } = await run('bash', [
    '-c',
    `source '${join(dir, 'completion.bash')}' && COMP_WORDS=(${quoted}) && COMP_CWORD=${words.length - 1} && _registry_pruner && printf '%s\\n' "\${COMPREPLY[@]}"`,
  ]);
  return stdout.split('\n').filter((line) => line !== '');
}

describe('registry-pruner --help', () => {
  it.each(COMMANDS)('%s --help lists every option with what it does', async (command) => {
    const result = await pruner([command, '--help']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(new RegExp(`^usage: registry-pruner ${command} `));
    expect(result.stdout).toMatch(/^\s+-h, --help\s+show this help$/m);
  });
});

describe('registry-pruner completion', () => {
  it('bash loads it and it registers the completion function', async () => {
    const { stdout } = await run('bash', [
      '-c',
      `source <('${process.execPath}' '${bin}' completion bash) && complete -p registry-pruner`,
    ]);
    expect(stdout.trim()).toBe('complete -F _registry_pruner registry-pruner');
  });

  it('completes commands, options and their values', async () => {
    expect(await bashComplete(['registry-pruner', 'en'])).toEqual(['enqueue']);
    expect(await bashComplete(['registry-pruner', '-'])).toEqual(['--help', '-h', '--version', '-V']);
    expect(await bashComplete(['registry-pruner', 'run', '--keep-t'])).toEqual(['--keep-tag-revisions']);
    expect(await bashComplete(['registry-pruner', 'run', '--mode', ''])).toEqual([
      'auto',
      'metadata',
      'full',
    ]);
    expect(await bashComplete(['registry-pruner', 'status', '-o', 'j'])).toEqual(['json']);
    expect(await bashComplete(['registry-pruner', 'completion', ''])).toEqual(['bash', 'zsh', '--help']);
    // A value with no fixed choices gets no guesses; a file option gets file names.
    expect(await bashComplete(['registry-pruner', 'enqueue', '--timeout', ''])).toEqual([]);
    expect(await bashComplete(['registry-pruner', 'run', '--kubeconfig', `${dir}/compl`])).toEqual([
      join(dir, 'completion.bash'),
    ]);
  });

  it.each(COMMANDS)('offers exactly the options `%s --help` lists', async (command) => {
    const [, help = ''] = (await pruner([command, '--help'])).stdout.split('\noptions:\n');
    const listed = [...help.matchAll(/^\s+(?:-\w, )?(--[a-z0-9-]+)/gm)].map((match) => match[1]);
    expect(listed.length).toBeGreaterThan(0);
    expect((await bashComplete(['registry-pruner', command, '--'])).sort()).toEqual(listed.sort());
  });

  it.skipIf(!hasZsh)('zsh loads it after compinit and completes a command name', async () => {
    const script = join(dir, 'completion.zsh');
    await writeFile(script, (await pruner(['completion', 'zsh'])).stdout);
    const { stdout } = await run('zsh', [
      '-f',
      '-c',
      `autoload -Uz compinit && compinit -u && source '${script}' && print -r -- \${_comps[registry-pruner]}`,
    ]);
    expect(stdout.trim()).toBe('_registry_pruner');
  });

  it.each([
    [['completion'], /Name the shell: bash or zsh/],
    [['completion', 'fish'], /Unknown shell "fish" \(shells: bash, zsh\)/],
    [['completion', 'bash', 'zsh'], /Unexpected argument "zsh"/],
  ])('%j is a usage mistake: one line, PRUNER_USAGE, exit 2', async (args, message) => {
    const result = await pruner(args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/PRUNER_USAGE/);
  });
});
