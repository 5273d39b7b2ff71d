import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type Run } from './run.js';

const run = (argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> => runCli(argv, scratch, env);

let cluster: RunningCluster;
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'cli-'));
  cluster = await startCluster({ routeAdmissionDelayMs: 100 });
});

afterAll(async () => {
  await cluster.stop();
  await rm(scratch, { recursive: true, force: true });
});

describe('usage', () => {
  it('lists the commands, and each command lists its options with their environment form', async () => {
    const top = await run(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/expose .*\n.*trust .*\n.*login .*\n.*logout/);
    expect(top.stdout).toMatch(/REGISTRY_PUSH_TOKEN/);
    const expose = await run(['expose', '--help']);
    expect(expose.stdout).toMatch(/--route-hostname HOST/);
    expect(expose.stdout).toMatch(/--kubeconfig PATH/);
  });

  it('exits 2 on a usage mistake and names it', async () => {
    expect((await run([])).code).toBe(2);
    const unknown = await run(['teleport']);
    expect(unknown).toMatchObject({ code: 2 });
    expect(unknown.stderr).toMatch(/unknown command "teleport"/);
    const badChoice = await run(['expose', '--expose', 'sideways']);
    expect(badChoice.code).toBe(2);
    expect(badChoice.stderr).toMatch(/--expose must be one of auto, default-route, custom-route, none/);
    const badEnv = await run(['expose'], { REGISTRY_PUSH_OUTPUT: 'yaml' });
    expect(badEnv.stderr).toMatch(/--output must be one of text, json/);
    expect((await run(['expose', '--no-such-flag'])).code).toBe(2);
  });
});

describe('expose', () => {
  it('tells a non-admin what is missing, as text and as JSON, with exit code 1', async () => {
    const text = await run(['expose', '--namespace', 'demo'], {
      REGISTRY_PUSH_KUBECONFIG: cluster.users.developer!.kubeconfig,
    });
    expect(text.code).toBe(1);
    expect(text.stderr).toMatch(
      /registry-push expose: The integrated registry has no external host .*\[REGISTRY_NOT_EXPOSED\]/,
    );
    const json = await run([
      'expose',
      '-n',
      'demo',
      '-o',
      'json',
      '--kubeconfig',
      cluster.users.developer!.kubeconfig,
    ]);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'REGISTRY_NOT_EXPOSED' } });
  });

  it('`all` to a project that does not exist says so, not that the registry is not exposed', async () => {
    const result = await run(
      ['all', '--namespace', 'no-such-project', '--image', 'app', '--source', 'oci:/nowhere'],
      { REGISTRY_PUSH_KUBECONFIG: cluster.users.developer!.kubeconfig },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/registry-push all: .*project "no-such-project".*\[PROJECT_NOT_FOUND\]$/);
    expect(result.stderr).not.toMatch(/REGISTRY_NOT_EXPOSED/);
  });

  it('lets an admin enable the default route and revert it from the saved result', async () => {
    const exposed = await run([
      'expose',
      '--expose',
      'default-route',
      '--kubeconfig',
      cluster.kubeconfig,
      '--output',
      'json',
      '--timeout',
      '20',
    ]);
    expect(exposed.code).toBe(0);
    const result = JSON.parse(exposed.stdout) as { host: string; changes: unknown[] };
    expect(result.host).toBe(`default-route-openshift-image-registry.${cluster.appsDomain}`);
    expect(result.changes).toEqual([{ kind: 'default-route-enabled' }]);
    expect(exposed.stderr).toMatch(/\[patch\] setting spec.defaultRoute: true/);

    const saved = join(scratch, 'expose.json');
    await writeFile(saved, exposed.stdout);
    const reverted = await run(['expose', '--revert', saved, '--kubeconfig', cluster.kubeconfig]);
    expect(reverted).toMatchObject({ code: 0, stdout: 'set spec.defaultRoute back to false' });
  });
});

describe('trust', () => {
  it('installs the ingress CA for the route host into a private cert dir', async () => {
    if (cluster.routerMode !== 'hosts') return; // route hosts resolve only with /etc/hosts entries (root)
    await run(['expose', '--expose', 'default-route', '--kubeconfig', cluster.kubeconfig]);
    const host = `default-route-openshift-image-registry.${cluster.appsDomain}`;
    const certDir = join(scratch, 'certs');
    const trusted = await run([
      'trust',
      '--registry',
      host,
      '--cert-dir',
      certDir,
      '--kubeconfig',
      cluster.kubeconfig,
    ]);
    expect(trusted.stderr).toBe('');
    expect(trusted.code).toBe(0);
    expect(trusted.stdout).toMatch(/ca: default-ingress-cert .*verified by a TLS handshake/);
    expect(await readFile(join(certDir, host, 'ca.crt'), 'utf8')).toContain('BEGIN CERTIFICATE');
  });

  it('warns when the token is given on the command line', async () => {
    const result = await run([
      'trust',
      '--registry',
      'r.invalid',
      '--server',
      cluster.apiServer,
      '--token',
      'sha256~abc',
    ]);
    expect(result.stderr).toMatch(/--token puts the token on the command line/);
    expect(result.stderr).toMatch(/\[TOKEN_INVALID\]|\[CLUSTER_TLS_UNTRUSTED\]/);
    expect(result.stderr).not.toContain('sha256~abc');
    expect(result.code).toBe(1);
  });

  it('takes --ca-data PEM on argv, and warns about a token there once, also when it is not needed', async () => {
    const result = await run([
      'trust',
      '--registry',
      'r.invalid',
      '--ca-data',
      cluster.ingressCaPem,
      '--token',
      'sha256~abc',
    ]);
    expect(result.stderr.match(/--token puts the token on the command line/g)).toHaveLength(1);
    expect(result.stderr).not.toContain('sha256~abc');
    // Not a usage error about the PEM's leading dashes: the registry host is what fails.
    expect(result.stderr).not.toMatch(/ambiguous/);
    expect(result.code).toBe(1);
  });

  it('names an unreadable CA file', async () => {
    const result = await run(['trust', '--registry', 'r.invalid', '--ca-file', join(scratch, 'missing.crt')]);
    expect(result.stderr).toMatch(/--ca-file .*missing.crt cannot be read \(ENOENT\)/);
    expect(result.code).toBe(1);
  });
});

describe('logout', () => {
  it('refuses to touch an auth file that login did not write', async () => {
    const foreign = join(scratch, 'foreign.json');
    await writeFile(foreign, '{"auths":{}}');
    const result = await run(['logout', '--authfile', foreign]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/was not written by `registry-push login`/);
    expect(existsSync(foreign)).toBe(true);
  });
});
