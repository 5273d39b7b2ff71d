// `registry-push login --login-tool`, run as the built binary against a real TLS registry with a throwaway
// CA: what the tool is given (the CA, and nothing secret from our environment) and how its failures read.
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RegistryPushError, registryLogin } from '@registry-push/core';
import { makeWorkDir, startRegistry, type RunningRegistry } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBinary, startBinary } from './binary.js';

const TOKEN = 'sha256~' + 'LoginToolSecret0123456789abcdefghijklmnopq';
const USERNAME = 'ci';

let work: string;
let registry: RunningRegistry;
let caFile: string;

beforeAll(async () => {
  work = await makeWorkDir('cli-login-tool');
  registry = await startRegistry({ tls: true, auth: { username: USERNAME, password: TOKEN } });
  caFile = join(work, 'ca.pem');
  await writeFile(caFile, registry.caPem!);
});

afterAll(async () => {
  await registry.stop();
  await rm(work, { recursive: true, force: true });
});

/** A private TMPDIR and HOME for one run, so what the run leaves behind can be listed. */
async function scratch(name: string): Promise<{ tmp: string; home: string }> {
  const tmp = join(work, name, 'tmp');
  const home = join(work, name, 'home');
  await mkdir(tmp, { recursive: true });
  await mkdir(home, { recursive: true });
  return { tmp, home };
}

/** `login` to the test registry with its CA through skopeo, plus `extra` options. */
function skopeoLoginArgs(...extra: string[]): string[] {
  return [
    'login',
    '--registry',
    registry.host,
    '--username',
    USERNAME,
    '--ca-file',
    caFile,
    ...extra,
    '--login-tool',
    'skopeo',
  ];
}

describe('the environment of a login tool', () => {
  it('holds what the tool needs and none of the secrets of ours', async () => {
    const { tmp, home } = await scratch('env');
    // A skopeo that records its environment and succeeds; the real code path starts it from PATH.
    const bin = join(work, 'env', 'bin');
    const dump = join(work, 'env', 'environment.txt');
    await mkdir(bin);
    await writeFile(join(bin, 'skopeo'), `#!/bin/sh\nenv > '${dump}'\ncat > /dev/null\nexit 0\n`);
    await chmod(join(bin, 'skopeo'), 0o755);
    const result = await runBinary(skopeoLoginArgs(), {
      PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      HOME: home,
      TMPDIR: tmp,
      LC_ALL: 'C.UTF-8',
      no_proxy: 'example.invalid',
      CONTAINERS_REGISTRIES_CONF: join(work, 'env', 'registries.conf'),
      REGISTRY_PUSH_TOKEN: TOKEN,
      GITHUB_TOKEN: 'ghs_notForSkopeo',
      AWS_SECRET_ACCESS_KEY: 'aws-notForSkopeo',
      NPM_TOKEN: 'npm-notForSkopeo',
      KUBECONFIG: join(home, 'kubeconfig'),
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const text = await readFile(dump, 'utf8');
    const env = Object.fromEntries(
      text
        .split('\n')
        .filter((line) => line.includes('='))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    expect(env).toMatchObject({
      HOME: home,
      TMPDIR: tmp,
      LC_ALL: 'C.UTF-8',
      no_proxy: 'example.invalid',
      CONTAINERS_REGISTRIES_CONF: join(work, 'env', 'registries.conf'),
    });
    expect(env.PATH).toContain(bin);
    expect(env.REGISTRY_AUTH_FILE).toMatch(/registry-push-auth-.*\/config\.json$/);
    for (const secret of [
      'REGISTRY_PUSH_TOKEN',
      'GITHUB_TOKEN',
      'AWS_SECRET_ACCESS_KEY',
      'NPM_TOKEN',
      'KUBECONFIG',
    ])
      expect(env).not.toHaveProperty(secret);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain('notForSkopeo');
  });
});

describe('a CA given to login reaches the tool', () => {
  it('--ca-file with --cert-dir: the CA is installed there and skopeo logs in with it', async () => {
    const { tmp, home } = await scratch('cert-dir');
    const certDir = join(work, 'cert-dir', 'certs.d');
    const result = await runBinary(skopeoLoginArgs('--cert-dir', certDir), {
      PATH: process.env.PATH,
      HOME: home,
      TMPDIR: tmp,
      REGISTRY_PUSH_TOKEN: TOKEN,
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(await readFile(join(certDir, registry.host, 'ca.crt'), 'utf8')).toBe(registry.caPem);
    const authFile = /^authfile: (.+)$/m.exec(result.stdout)?.[1];
    expect(await readFile(authFile!, 'utf8')).toContain(registry.host);
  });

  it('--ca-file alone: skopeo gets a private cert dir for the login, removed afterwards', async () => {
    const { tmp, home } = await scratch('ca-only');
    const result = await runBinary(skopeoLoginArgs(), {
      PATH: process.env.PATH,
      HOME: home,
      TMPDIR: tmp,
      REGISTRY_PUSH_TOKEN: TOKEN,
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const left = await readdir(tmp);
    expect(left.filter((name) => name.startsWith('registry-push-certs-'))).toEqual([]);
    expect(left.filter((name) => name.startsWith('registry-push-auth-'))).toHaveLength(1);
  });

  it('a tool that does not trust the certificate is a TLS failure with a CA hint, not a credentials one', async () => {
    const error = await registryLogin({
      host: registry.host,
      username: USERNAME,
      token: TOKEN,
      tool: 'skopeo',
      verify: false,
    }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(RegistryPushError);
    const failure = error as RegistryPushError;
    expect(failure.code).toBe('REGISTRY_TLS_UNTRUSTED');
    expect(failure.message).toMatch(/x509|certificate/);
    expect(failure.hint).toMatch(/--ca-file|--cert-dir/);
    expect(failure.hint).not.toMatch(/credentials/);
  });
});

describe('an interrupted login', () => {
  it('SIGTERM during the tool login stops the tool and removes the private auth directory', async () => {
    const { tmp, home } = await scratch('interrupted');
    const bin = join(work, 'interrupted', 'bin');
    const startedMark = join(work, 'interrupted', 'tool-started');
    const stoppedMark = join(work, 'interrupted', 'tool-stopped');
    await mkdir(bin);
    // A skopeo that takes its time and notes that it was told to stop.
    await writeFile(
      join(bin, 'skopeo'),
      `#!/bin/sh\ntrap 'touch "${stoppedMark}"; exit 143' TERM\ncat > /dev/null\ntouch "${startedMark}"\nsleep 120 &\nwait $!\n`,
    );
    await chmod(join(bin, 'skopeo'), 0o755);
    const started = startBinary(skopeoLoginArgs(), {
      PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      HOME: home,
      TMPDIR: tmp,
      REGISTRY_PUSH_TOKEN: TOKEN,
    });
    const deadline = Date.now() + 60_000;
    while (!existsSync(startedMark) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(existsSync(startedMark), started.stderr()).toBe(true);
    expect((await readdir(tmp)).some((name) => name.startsWith('registry-push-auth-'))).toBe(true);
    started.child.kill('SIGTERM');
    const run = await started.done;
    expect(run.code).toBe(143);
    expect(run.stderr.trim()).toMatch(
      /^registry-push login: Interrupted by SIGTERM; removed .*registry-push-auth-.*\[INTERRUPTED\]$/,
    );
    expect(await readdir(tmp)).toEqual([]);
    const stopDeadline = Date.now() + 30_000;
    while (!existsSync(stoppedMark) && Date.now() < stopDeadline) await new Promise((r) => setTimeout(r, 20));
    expect(existsSync(stoppedMark)).toBe(true);
  }, 120_000);
});
