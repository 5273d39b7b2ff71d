// The conventions of a command-line tool, checked on the built binary in real shells: `--version` and `-V`
// print the package version; `completion bash|zsh` prints a script that bash (and zsh, where installed)
// loads, and whose candidates are the options `--help` lists for each command.
import { execFile } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { makeWorkDir, removeWorkDir } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, runBinary } from './binary.js';

const run = promisify(execFile);
const COMMANDS = [
  'expose',
  'trust',
  'login',
  'logout',
  'push',
  'all',
  'status',
  'doctor',
  'enable',
  'metrics',
  'config',
  'trusted-ca',
];

let binDir: string;
let env: NodeJS.ProcessEnv;
const version = (
  JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

beforeAll(async () => {
  // `registry-push` on PATH, as npm links it, run by this Node.
  binDir = await makeWorkDir('cli-conventions');
  await writeFile(join(binDir, 'registry-push'), `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`);
  await chmod(join(binDir, 'registry-push'), 0o755);
  env = { PATH: `${binDir}:${process.env['PATH'] ?? ''}`, HOME: binDir };
  // Generated once for the many completion calls below; the first test loads it as users do.
  await writeFile(join(binDir, 'completion.bash'), (await runBinary(['completion', 'bash'], env)).stdout);
});
afterAll(async () => {
  await removeWorkDir(binDir);
});

/** The candidates bash's completion function offers for `words`, the last one being completed. */
async function bashComplete(words: readonly string[]): Promise<string[]> {
  const quoted = words.map((word) => `'${word}'`).join(' ');
  const { stdout } = await run(
    'bash',
    [
      '-c',
      `source '${join(binDir, 'completion.bash')}' && COMP_WORDS=(${quoted}) && COMP_CWORD=${words.length - 1} && _registry_push && printf '%s\\n' "\${COMPREPLY[@]}"`,
    ],
    { env },
  );
  return stdout.split('\n').filter((line) => line !== '');
}

describe('registry-push --version', () => {
  it.each(['--version', '-V'])('%s prints the package version and exits 0', async (flag) => {
    const result = await runBinary([flag], env);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toBe(`${version}\n`);
  });

  it('takes the version a bundler defines, where no package.json sits beside the code', async () => {
    // As a single-file build would: one file (esbuild), REGISTRY_PUSH_VERSION defined or not.
    const esbuild = fileURLToPath(new URL('../../../node_modules/.bin/esbuild', import.meta.url));
    const bundled = async (defines: string[]): Promise<string> => {
      const bundle = join(binDir, 'bundle', 'cli.mjs');
      await run(esbuild, [
        fileURLToPath(new URL('../dist/cli.js', import.meta.url)),
        '--bundle',
        '--platform=node',
        '--format=esm',
        `--outfile=${bundle}`,
        '--log-level=error',
        ...defines,
      ]);
      return (await run(process.execPath, [bundle, '-V'], { env })).stdout;
    };
    expect(await bundled(['--define:REGISTRY_PUSH_VERSION="9.8.7-bundled"'])).toBe('9.8.7-bundled\n');
    expect(await bundled([])).toBe('unknown\n');
  });

  it('is listed in --help', async () => {
    const result = await runBinary(['--help'], env);
    expect(result.stdout).toMatch(/registry-push --version \| -V/);
    expect(result.stdout).toMatch(/completion +print a completion script/);
  });
});

describe('registry-push completion bash', () => {
  it('is a script bash loads, registering the completion function', async () => {
    const { stdout } = await run(
      'bash',
      ['-c', 'source <(registry-push completion bash) && complete -p registry-push'],
      { env },
    );
    expect(stdout.trim()).toBe('complete -F _registry_push registry-push');
  });

  it('completes commands, options and their values', async () => {
    expect(await bashComplete(['registry-push', 'pu'])).toEqual(['push', 'pull']);
    expect(await bashComplete(['registry-push', '-'])).toEqual(['--help', '-h', '--version', '-V']);
    expect(await bashComplete(['registry-push', 'push', '--push-t'])).toEqual(['--push-tool']);
    expect(await bashComplete(['registry-push', 'push', '--push-tool', ''])).toEqual([
      'native',
      'skopeo',
      'podman',
      'buildah',
      'docker',
    ]);
    expect(await bashComplete(['registry-push', 'all', '--expose', 'd'])).toEqual(['default-route']);
    expect(await bashComplete(['registry-push', 'completion', ''])).toEqual(['bash', 'zsh', '--help']);
    // A value with no fixed choices (a tag) gets no guesses; a file option gets file names.
    expect(await bashComplete(['registry-push', 'push', '--tag', ''])).toEqual([]);
    const files = await bashComplete(['registry-push', 'push', '--ca-file', `${binDir}/reg`]);
    expect(files).toEqual([join(binDir, 'registry-push')]);
  });

  it.each(COMMANDS)('offers exactly the options `%s --help` lists', async (command) => {
    const help = (await runBinary([command, '--help'], env)).stdout;
    const listed = [...help.matchAll(/^\s+(?:-\w, )?(--[a-z0-9-]+)/gm)].map((match) => match[1]);
    expect(listed.length).toBeGreaterThan(2);
    expect((await bashComplete(['registry-push', command, '--'])).sort()).toEqual(listed.sort());
  });

  it('an unknown shell is a usage mistake: one line, OPTION_INVALID, exit 2', async () => {
    const result = await runBinary(['completion', 'fish'], env);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      'registry-push completion: expected one shell, bash or zsh, not ""fish"". Run "registry-push completion --help" for the options. [OPTION_INVALID]\n',
    );
  });
});

const zsh = await run('zsh', ['--version']).then(
  () => true,
  () => false,
);

describe.skipIf(!zsh)('registry-push completion zsh (zsh installed)', () => {
  /**
   * Types `line` and a TAB into an interactive zsh (through zsh's own pseudo-terminal module) with the
   * script loaded after compinit, and returns what the shell printed.
   */
  async function zshComplete(line: string): Promise<string> {
    const script = join(binDir, 'complete.zsh');
    await writeFile(
      script,
      `zmodload zsh/zpty
zpty z 'TERM=dumb zsh -f -i'
zpty -w z 'PS1="> "; autoload -Uz compinit; compinit -u -D; source <(registry-push completion zsh); print -r -- loaded:$_comps[registry-push]'
sleep 1
zpty -w -n z ${`$'${line.replace(/'/g, "\\'")}\\t'`}
sleep 1
out=""
while zpty -r -t z chunk; do out+=$chunk; done
print -r -- "$out"
zpty -d z
`,
    );
    const { stdout } = await run('zsh', ['-f', script], { env, timeout: 20_000 });
    // What a terminal would show: no carriage returns, bells or escape sequences.
    // eslint-disable-next-line no-control-regex
    return stdout.replace(/\u001b\[[0-9;?]*[A-Za-z]|[\r\u0007]/g, '');
  }

  it('loads after compinit and lists the values of an option', async () => {
    const out = await zshComplete('registry-push push --push-tool ');
    expect(out).toMatch(/loaded:_registry_push/);
    expect(out).toMatch(/buildah +docker +native +podman +skopeo/);
  });

  it('completes a command name', async () => {
    expect(await zshComplete('registry-push met')).toMatch(/registry-push metrics /);
  });
});
