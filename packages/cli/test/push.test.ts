// `registry-push push` against the real distribution registry, and `registry-push all` against
// openshift-sim, run through main() exactly as the binary runs them.
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { RegistryClient, readAuthCredentials } from '@registry-push/core';
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import {
  buildOciImage,
  makeWorkDir,
  runSkopeo,
  startRegistry,
  type BuiltImage,
  type RunningRegistry,
} from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type Run } from './run.js';

let work: string;
let registry: RunningRegistry;
let image: BuiltImage;

const run = (argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> => runCli(argv, work, env);

beforeAll(async () => {
  work = await makeWorkDir('cli-push');
  registry = await startRegistry();
  image = await buildOciImage({
    outDir: join(work, 'image'),
    layers: 2,
    layerSize: 20_000,
    seed: 'cli-push',
    tag: 'v1',
    formats: ['oci', 'docker-archive'],
  });
});

afterAll(async () => {
  await registry.stop();
  await rm(work, { recursive: true, force: true });
});

describe('push', () => {
  it('pushes an OCI layout to several tags and prints the digests as JSON', async () => {
    const result = await run(
      [
        'push',
        `oci:${image.layoutDir}`,
        `${registry.host}/demo/app`,
        '--tag',
        'v1',
        '-t',
        'v2',
        '--plain-http',
        '--output',
        'json',
      ],
      { REGISTRY_PUSH_TAGS: 'v3,\nv4' },
    );
    expect(result.stderr).toMatch(/source: oci/);
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout) as { digest: string; refs: { tag: string; digest: string }[] };
    expect(json.digest).toBe(image.digest);
    expect(json.refs.map((ref) => ref.tag)).toEqual(['v1', 'v2', 'v3', 'v4']);
    const inspected = await runSkopeo([
      'inspect',
      '--tls-verify=false',
      `docker://${registry.host}/demo/app:v4`,
    ]);
    expect(JSON.parse(inspected.stdout)).toMatchObject({ Digest: image.digest });
  });

  it('takes the target from --registry, --namespace and --image, and prints text', async () => {
    const result = await run([
      'push',
      '--source',
      `docker-archive:${image.dockerArchive!}`,
      '--registry',
      registry.host,
      '--namespace',
      'demo',
      '--image',
      'saved',
      '--plain-http',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(`pushed ${registry.host}/demo/saved:latest sha256:[0-9a-f]{64}`),
    );
    expect(result.stdout).toMatch(
      /in-cluster pull spec: image-registry\.openshift-image-registry\.svc:5000\/demo\/saved@sha256:/,
    );
    expect(result.stdout).toMatch(/blobs: 3 uploaded/);
  });

  it('pushes through skopeo when asked', async () => {
    const result = await run([
      'push',
      `oci:${image.layoutDir}:v1`,
      `${registry.host}/demo/tooled:v1`,
      '--push-tool',
      'skopeo',
      '--tls-verify',
      'false',
      '--plain-http',
      '--output',
      'json',
    ]);
    expect(result.stderr).toMatch(/tagged .*demo\/tooled:v1 sha256:/);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ via: 'skopeo', digest: image.digest });
  });

  it('fails with one message and exit code 1 for bad input, 2 for bad usage', async () => {
    const missing = await run(['push', 'oci:/nonexistent', `${registry.host}/demo/app`, '--plain-http']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /registry-push push: The source \/nonexistent does not exist\..*\[SOURCE_NOT_FOUND\]/,
    );
    const badTarget = await run([
      'push',
      `oci:${image.layoutDir}`,
      `${registry.host}/app`,
      '--output',
      'json',
    ]);
    expect(badTarget.code).toBe(1);
    expect(JSON.parse(badTarget.stdout)).toMatchObject({ error: { code: 'REFERENCE_INVALID' } });
    const unreachable = await run(['push', `oci:${image.layoutDir}`, '127.0.0.1:1/demo/app', '--plain-http']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/REGISTRY_UNREACHABLE/);
    expect((await run(['push', 'a', 'b', 'c'])).code).toBe(2);
    expect(
      (await run(['push', `oci:${image.layoutDir}`, `${registry.host}/demo/app`, '--retries', 'many'])).code,
    ).toBe(2);
  });
});

describe.runIf(process.getuid?.() === 0)('all, against openshift-sim', () => {
  let cluster: RunningCluster;
  beforeAll(async () => {
    cluster = await startCluster({ defaultRoute: true });
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('a developer discovers, trusts, logs in and pushes in one go, and nothing is left behind', async () => {
    const token = cluster.users.developer!.token;
    const result = await run(
      [
        'all',
        '--namespace',
        'demo',
        '--image',
        'app',
        '--source',
        `oci:${image.layoutDir}`,
        '--tags',
        'v1,latest',
        '--output',
        'json',
      ],
      {
        REGISTRY_PUSH_KUBECONFIG: cluster.users.developer!.kubeconfig,
        REGISTRY_PUSH_CA_DATA: cluster.ingressCaPem,
      },
    );
    expect(result.stderr).not.toMatch(/error|warning/i);
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout) as {
      registry: string;
      registrySource: string;
      digest: string;
      refs: unknown[];
    };
    expect(json).toMatchObject({ registrySource: 'imagestream', digest: image.digest });
    expect(json.refs).toHaveLength(2);
    expect(result.stdout + result.stderr).not.toContain(token);
    const client = new RegistryClient({
      host: json.registry,
      caPem: cluster.ingressCaPem,
      credentials: { kind: 'basic', username: 'x', password: token },
    });
    expect(await client.headManifest('demo/app', 'latest')).toMatchObject({ digest: image.digest });
    await client.close();
  });

  it('a viewer is stopped before anything is uploaded, with the role to ask for', async () => {
    const host = `default-route-openshift-image-registry.${cluster.appsDomain}`;
    const result = await run(
      [
        'all',
        '--namespace',
        'demo',
        '--image',
        'app',
        '--registry',
        host,
        '--source',
        `oci:${image.layoutDir}`,
      ],
      {
        REGISTRY_PUSH_KUBECONFIG: cluster.users.viewer!.kubeconfig,
        REGISTRY_PUSH_CA_DATA: cluster.ingressCaPem,
      },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/system:image-builder/);
    expect(result.stderr).toMatch(/PUSH_FORBIDDEN/);
  });

  it('an admin without a CA at hand: the CA found in the cluster also serves the login', async () => {
    const result = await run(
      ['all', '--namespace', 'demo', '--image', 'admin', '--source', `oci:${image.layoutDir}`],
      { REGISTRY_PUSH_KUBECONFIG: cluster.users.kubeadmin!.kubeconfig },
    );
    expect(result.stderr).not.toMatch(/error|warning/i);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/pushed .*\/demo\/admin:latest sha256:/);
  });

  it('step by step as in the README: trust, login and push share the cert dir, logout undoes the login', async () => {
    const env = { REGISTRY_PUSH_KUBECONFIG: cluster.users.kubeadmin!.kubeconfig };
    const certDir = join(work, 'steps', 'certs.d');
    const authFile = join(work, 'steps', 'auth', 'config.json');
    const host = `default-route-openshift-image-registry.${cluster.appsDomain}`;
    const trusted = await run(['trust', '--namespace', 'demo', '--cert-dir', certDir], env);
    expect(trusted.code, trusted.stderr).toBe(0);
    const login = await run(
      ['login', '--namespace', 'demo', '--authfile', authFile, '--cert-dir', certDir],
      env,
    );
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toContain(`authfile: ${authFile}`);
    const pushed = await run(
      [
        'push',
        `oci:${image.layoutDir}`,
        `${host}/demo/steps`,
        '-t',
        'v1.2.3',
        '-t',
        'latest',
        '--authfile',
        authFile,
        '--cert-dir',
        certDir,
      ],
      env,
    );
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.stdout).toMatch(/pushed .*\/demo\/steps:v1\.2\.3 sha256:/);
    const logout = await run(['logout', '--authfile', authFile], env);
    expect(logout.code, logout.stderr).toBe(0);
    expect(await readAuthCredentials(authFile, host)).toBeUndefined();
  });

  /** `all --logout false` as the developer, with more arguments. */
  const allKeepingFiles = (...more: string[]) =>
    run(
      [
        'all',
        '--namespace',
        'demo',
        '--image',
        'kept',
        '--source',
        `oci:${image.layoutDir}`,
        '--logout',
        'false',
        ...more,
      ],
      {
        REGISTRY_PUSH_KUBECONFIG: cluster.users.developer!.kubeconfig,
        REGISTRY_PUSH_CA_DATA: cluster.ingressCaPem,
      },
    );

  it('keeps the auth file when --logout false, for later steps', async () => {
    const result = await allKeepingFiles('--output', 'json');
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout) as { authFile: string; certDir: string };
    expect(existsSync(json.authFile)).toBe(true);
    await rm(join(json.authFile, '..'), { recursive: true, force: true });
    await rm(join(json.certDir, '..'), { recursive: true, force: true });
  });

  it('says where the kept files are in text output too', async () => {
    const result = await allKeepingFiles();
    expect(result.code, result.stderr).toBe(0);
    const authFile = /^authfile: (.+)$/m.exec(result.stdout)?.[1];
    const certDir = /^cert-dir: (.+)$/m.exec(result.stdout)?.[1];
    expect(authFile !== undefined && existsSync(authFile)).toBe(true);
    expect(certDir !== undefined && existsSync(join(certDir, 'ca.crt'))).toBe(true);
    await rm(join(authFile!, '..'), { recursive: true, force: true });
    await rm(join(certDir!, '..'), { recursive: true, force: true });
  });
});
