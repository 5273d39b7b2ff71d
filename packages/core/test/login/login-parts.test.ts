import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterClient } from '../../src/cluster/client.js';
import { RegistryPushError } from '../../src/errors.js';
import { removeAuthEntry, writeAuthEntry } from '../../src/login/auth-file.js';
import { preflightPush } from '../../src/login/preflight.js';
import { jwtExpiry, resolveToken, validateUsername } from '../../src/login/token.js';
import { runToolCommand, toolLoginCommand, type LoginTool } from '../../src/login/tool-login.js';
import { failure } from '../failure.js';

function jwt(claims: object): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256' })}.${part(claims)}.c2lnbmF0dXJl`;
}

const TOKEN = 'sha256~' + 'A1b2C3d4'.repeat(5) + 'xyz';

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'core-login-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('usernames and tokens', () => {
  it('refuses a username with a colon, whitespace, or nothing', () => {
    expect(validateUsername('ci-bot')).toBe('ci-bot');
    expect(() => validateUsername('ci:bot')).toThrow(/contains ":"/);
    expect(() => validateUsername('ci bot')).toThrow(RegistryPushError);
    expect(() => validateUsername('')).toThrow(/empty/);
  });

  it('reads the expiry of a service-account JWT and refuses an expired one', async () => {
    const soon = Math.floor(Date.now() / 1000) + 600;
    expect(jwtExpiry(jwt({ exp: soon }))?.getTime()).toBe(soon * 1000);
    expect(jwtExpiry(TOKEN)).toBeUndefined();
    const resolved = await resolveToken({ token: jwt({ exp: soon }) });
    expect(resolved).toMatchObject({ source: 'input' });
    expect(resolved.expiresAt?.getTime()).toBe(soon * 1000);
    const expired = await failure(resolveToken({ token: jwt({ exp: 1000 }) }));
    expect(expired.code).toBe('TOKEN_EXPIRED');
  });

  it('explains that there is no token to use', async () => {
    const error = await failure(resolveToken({}));
    expect(error.code).toBe('TOKEN_MISSING');
    expect(error.hint).toMatch(/oc create token/);
    expect((await failure(resolveToken({ token: 'two words' }))).code).toBe('TOKEN_MISSING');
  });
});

describe('the auth file', () => {
  it('is private and holds user:token for the host', async () => {
    const entry = await writeAuthEntry({ host: 'r.example:5000', username: 'ci', token: TOKEN });
    expect((await stat(entry.path)).mode & 0o777).toBe(0o600);
    expect((await stat(dirname(entry.path))).mode & 0o777).toBe(0o700);
    const content = JSON.parse(await readFile(entry.path, 'utf8')) as {
      auths: Record<string, { auth: string }>;
    };
    expect(Buffer.from(content.auths['r.example:5000']!.auth, 'base64').toString()).toBe(`ci:${TOKEN}`);
    expect(await removeAuthEntry(entry)).toBe('removed-directory');
    expect(existsSync(dirname(entry.path))).toBe(false);
  });

  it('keeps other entries of a shared file and removes only its own, if still its own', async () => {
    const path = join(scratch, 'shared', 'auth.json');
    await import('node:fs/promises').then((fs) => fs.mkdir(dirname(path), { recursive: true }));
    await writeFile(
      path,
      JSON.stringify({ auths: { 'quay.io': { auth: 'b3RoZXI6c2VjcmV0' } }, credHelpers: {} }),
    );
    const entry = await writeAuthEntry({ host: 'r.example', username: 'ci', token: TOKEN, path });
    const written = JSON.parse(await readFile(path, 'utf8')) as {
      auths: Record<string, unknown>;
      credHelpers: unknown;
    };
    expect(Object.keys(written.auths).sort()).toEqual(['quay.io', 'r.example']);
    expect(written.credHelpers).toEqual({});
    expect((await stat(path)).mode & 0o777).toBe(0o600);

    expect(await removeAuthEntry(entry)).toBe('removed-entry');
    const after = JSON.parse(await readFile(path, 'utf8')) as { auths: Record<string, unknown> };
    expect(Object.keys(after.auths)).toEqual(['quay.io']);

    const again = await writeAuthEntry({ host: 'r.example', username: 'ci', token: TOKEN, path });
    await writeAuthEntry({ host: 'r.example', username: 'someone-else', token: 'other-token', path });
    expect(await removeAuthEntry(again)).toBe('not-ours');
  });

  it('leaves a file that is not JSON alone', async () => {
    const path = join(scratch, 'broken.json');
    await writeFile(path, 'not json');
    expect((await failure(writeAuthEntry({ host: 'r', username: 'u', token: TOKEN, path }))).code).toBe(
      'OPTION_INVALID',
    );
    expect(await readFile(path, 'utf8')).toBe('not json');
  });
});

describe('tool logins keep the token off argv', () => {
  const tools: LoginTool[] = ['skopeo', 'podman', 'buildah', 'docker'];
  it.each(tools)('%s gets the token on stdin only', (tool) => {
    const command = toolLoginCommand(tool, {
      host: 'r.example',
      username: 'ci',
      token: TOKEN,
      authFile: '/tmp/x/config.json',
      certDir: '/tmp/certs',
      tlsVerify: false,
    });
    expect(command.stdin).toBe(TOKEN);
    expect(command.args).toContain('--password-stdin');
    expect(command.args.join(' ')).not.toContain(TOKEN);
    expect(JSON.stringify(command.env)).not.toContain(TOKEN);
    if (tool === 'docker') expect(command.env).toEqual({ DOCKER_CONFIG: '/tmp/x' });
    else
      expect(command.args).toEqual(
        expect.arrayContaining([
          '--authfile',
          '/tmp/x/config.json',
          '--cert-dir',
          '/tmp/certs',
          '--tls-verify=false',
        ]),
      );
  });

  it('redacts the token from a failing tool and names a missing one', async () => {
    // A tool that prints what it got on stdin (as some do in verbose or error output) and fails.
    const echo = { program: 'sh' as LoginTool, args: ['-c', 'cat >&2; echo; exit 3'], env: {}, stdin: TOKEN };
    const error = await failure(runToolCommand(echo, [TOKEN]));
    expect(error.code).toBe('LOGIN_TOOL_FAILED');
    expect(error.message).toContain('***');
    expect(error.message).not.toContain(TOKEN);
    const missing: LoginTool = 'docker';
    const absent = await failure(
      runToolCommand({ program: missing, args: ['login'], env: { PATH: '/nonexistent' }, stdin: '' }, []),
    );
    expect(absent.code).toBe('TOOL_MISSING');
  });
});

describe('push preflight', () => {
  let cluster: RunningCluster;
  beforeAll(async () => {
    cluster = await startCluster({
      routerMode: 'port',
      users: [
        { name: 'builder', roles: [{ role: 'system:image-builder', namespace: 'demo' }] },
        { name: 'system:serviceaccount:demo:pipeline', roles: [{ role: 'view', namespace: 'demo' }] },
      ],
    });
  });
  afterAll(async () => {
    await cluster.stop();
  });
  const as = (user: string) => ClusterClient.fromOptions({ kubeconfig: cluster.users[user]!.kubeconfig });

  it('passes a user who may push, even when the project itself is not readable', async () => {
    expect(await preflightPush(as('developer'), 'demo')).toMatchObject({
      username: 'developer',
      projectReadable: true,
    });
    expect(await preflightPush(as('builder'), 'demo')).toMatchObject({
      username: 'builder',
      projectReadable: false,
    });
  });

  it('names the role to ask for', async () => {
    const error = await failure(preflightPush(as('viewer'), 'demo'));
    expect(error.code).toBe('PUSH_FORBIDDEN');
    expect(error.message).toMatch(/User "viewer" cannot push to project "demo"/);
    expect(error.hint).toBe(
      'Ask a project admin to run `oc policy add-role-to-user system:image-builder viewer -n demo`.',
    );
    const sa = await failure(preflightPush(as('system:serviceaccount:demo:pipeline'), 'demo'));
    expect(sa.hint).toMatch(/add-role-to-user system:image-builder -z pipeline -n demo/);
  });

  it('says when the project does not exist', async () => {
    expect((await failure(preflightPush(as('kubeadmin'), 'nope'))).code).toBe('PROJECT_NOT_FOUND');
    const hidden = await failure(preflightPush(as('developer'), 'nope'));
    expect(hidden.code).toBe('PROJECT_NOT_FOUND');
    expect(hidden.message).toMatch(/cannot see project "nope"/);
  });
});
