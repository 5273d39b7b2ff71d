// `registry-push pull` and `copy` run through main() as the binary runs them, against real distribution
// registries and two openshift-sim clusters (promotion from one to the other with each cluster's login),
// checked with skopeo and the registries; and a pull cancelled with SIGINT, through the built binary.
import { existsSync } from 'node:fs';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RegistryClient } from '@registry-push/core';
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
import { sideOptions } from '../src/commands/transfer.js';
import { startBinary } from './binary.js';
import { runCli, type Run } from './run.js';

let work: string;
let a: RunningRegistry;
let b: RunningRegistry;
let image: BuiltImage;
const auth = { username: 'ci', password: 'ci-password' };

const run = (argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> => runCli(argv, work, env);

beforeAll(async () => {
  work = await makeWorkDir('cli-transfer');
  [a, b] = await Promise.all([startRegistry(), startRegistry({ tls: true, auth })]);
  image = await buildOciImage({
    outDir: join(work, 'image'),
    layers: 2,
    layerSize: 30_000,
    seed: 'cli-transfer',
    tag: 'v1',
  });
  const pushed = await run(['push', `oci:${image.layoutDir}`, `${a.host}/src/app:v1`, '--plain-http']);
  expect(pushed.code).toBe(0);
}, 120_000);

afterAll(async () => {
  await Promise.all([a.stop(), b.stop()]);
  await rm(work, { recursive: true, force: true });
});

describe('pull', () => {
  it('writes an OCI layout skopeo reads, and prints the result as JSON', async () => {
    const dir = join(work, 'pulled');
    const result = await run([
      'pull',
      `docker://${a.host}/src/app:v1`,
      `oci:${dir}:release`,
      '--plain-http',
      '-o',
      'json',
    ]);
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout) as { digest: string; ref: string; layout: string };
    expect(json).toMatchObject({ digest: image.digest, ref: 'release', layout: dir });
    const inspected = JSON.parse((await runSkopeo(['inspect', `oci:${dir}:release`])).stdout) as {
      Digest: string;
    };
    expect(inspected.Digest).toBe(image.digest);
  });

  it('says in one line that the source tag is missing, and that dir: is not a destination', async () => {
    const dir = join(work, 'missing');
    const missing = await run(['pull', `${a.host}/src/app:nope`, `oci:${dir}`, '--plain-http']);
    expect(missing.code).toBe(1);
    expect(missing.stderr.split('\n')).toEqual([
      `registry-push pull: The source ${a.host}/src/app:nope is not in the registry. Check the tag or digest (and the repository name); the registry has no manifest for it. [SOURCE_NOT_FOUND]`,
    ]);
    expect(existsSync(dir)).toBe(false);
    const other = await run(['pull', `${a.host}/src/app:v1`, `dir:${dir}`, '--plain-http', '-o', 'json']);
    expect(other.code).toBe(1);
    expect((JSON.parse(other.stdout) as { error: { code: string } }).error.code).toBe(
      'TRANSPORT_UNSUPPORTED',
    );
    expect((await run(['pull', `${a.host}/src/app:v1`])).code).toBe(2);
  });
});

describe('copy', () => {
  it('copies between two registries with the destination login in its own auth file', async () => {
    const authFile = join(work, 'dest-auth.json');
    const caFile = join(work, 'b-ca.pem');
    await writeFile(caFile, b.caPem ?? '');
    await writeFile(
      authFile,
      JSON.stringify({
        auths: { [b.host]: { auth: Buffer.from(`${auth.username}:${auth.password}`).toString('base64') } },
      }),
    );
    const result = await run([
      'copy',
      `docker://${a.host}/src/app:v1`,
      `docker://${b.host}/prod/app:v1`,
      '--src-plain-http',
      '--dest-authfile',
      authFile,
      '--dest-ca-file',
      caFile,
    ]);
    expect(result.stderr).not.toMatch(/error|warning/i);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`copied ${a.host}/src/app:v1 to ${b.host}/prod/app:v1 ${image.digest}`);
    const raw = await runSkopeo([
      'inspect',
      '--raw',
      `--cert-dir=${b.certDir ?? ''}`,
      `--creds=${auth.username}:${auth.password}`,
      `docker://${b.host}/prod/app:v1`,
    ]);
    const source = await runSkopeo([
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${a.host}/src/app:v1`,
    ]);
    expect(raw.stdout).toBe(source.stdout);
  });

  it('mounts within one registry', async () => {
    const result = await run([
      'copy',
      `${a.host}/src/app:v1`,
      `${a.host}/staging/app:rc`,
      '--plain-http',
      '-o',
      'json',
    ]);
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout) as { blobs: { mounted: number; transferred: number } };
    expect(json.blobs).toMatchObject({ mounted: 3, transferred: 0 });
  });
});

describe('copy options per side', () => {
  it("a side's own kubeconfig or token file replaces every shared credential; the other side keeps them", () => {
    const shared = {
      authfile: 'shared-auth.json',
      token: 'shared-token',
      server: 'https://api.dev:6443',
      'ca-data': 'PEM',
      'dest-kubeconfig': 'prod.kubeconfig',
      'dest-ca-file': 'prod-ca.pem',
      'src-token-file': 'dev-token',
      'src-tls-verify': 'false',
    } as const;
    expect(sideOptions(shared, 'dest')).toMatchObject({
      kubeconfig: 'prod.kubeconfig',
      'ca-file': 'prod-ca.pem',
    });
    for (const name of ['authfile', 'token', 'server', 'ca-data', 'token-file'] as const) {
      expect(sideOptions(shared, 'dest')).not.toHaveProperty(name);
    }
    const source = sideOptions(shared, 'src');
    expect(source).toMatchObject({ 'token-file': 'dev-token', 'ca-data': 'PEM', 'tls-verify': 'false' });
    expect(source).not.toHaveProperty('token');
    expect(source).not.toHaveProperty('authfile');
    expect(sideOptions({ token: 'shared-token' }, 'dest')).toMatchObject({ token: 'shared-token' });
  });
});

describe('pull, cancelled', () => {
  it('SIGINT removes the layout it was writing, says so, and exits 130', async () => {
    const big = await buildOciImage({
      outDir: join(work, 'big'),
      layerSizes: [128 * 1024 * 1024],
      compression: 'none',
      seed: 'cli-big',
    });
    expect((await run(['push', `oci:${big.layoutDir}`, `${a.host}/src/big:v1`, '--plain-http'])).code).toBe(
      0,
    );
    const dir = join(work, 'cancelled');
    const started = startBinary(['pull', `${a.host}/src/big:v1`, `oci:${dir}`, '--plain-http'], {
      PATH: process.env.PATH,
      HOME: work,
    });
    let ended = false;
    void started.done.then(() => (ended = true));
    // Wait for the download's temporary file: the signal lands while the blob is being written.
    const blobs = join(dir, 'blobs', 'sha256');
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !ended) {
      if (existsSync(blobs) && (await readdir(blobs)).some((name) => name.endsWith('.part'))) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(ended).toBe(false);
    started.child.kill('SIGINT');
    const done = await started.done;
    expect(done.code).toBe(130);
    expect(done.stderr).toContain(`registry-push pull: Interrupted by SIGINT; removed ${dir}`);
    expect(existsSync(dir)).toBe(false);
  }, 180_000);
});

describe.runIf(process.getuid?.() === 0)('copy between two openshift-sim clusters (promotion)', () => {
  let dev: RunningCluster;
  let prod: RunningCluster;
  const route = (cluster: RunningCluster): string =>
    `default-route-openshift-image-registry.${cluster.appsDomain}`;

  beforeAll(async () => {
    [dev, prod] = await Promise.all([
      startCluster({ defaultRoute: true, appsDomain: 'apps.dev-transfer.test' }),
      startCluster({ defaultRoute: true, appsDomain: 'apps.prod-transfer.test' }),
    ]);
  }, 180_000);
  afterAll(async () => {
    await Promise.all([dev?.stop(), prod?.stop()]);
  });

  it("promotes dev's image to prod with each cluster's login, pulls it back, and a viewer is denied", async () => {
    const devCa = join(work, 'dev-ca.pem');
    const prodCa = join(work, 'prod-ca.pem');
    await writeFile(devCa, dev.ingressCaPem);
    await writeFile(prodCa, prod.ingressCaPem);
    const pushed = await run(
      ['push', `oci:${image.layoutDir}`, `${route(dev)}/demo/app:v1`, '--ca-file', devCa],
      {
        REGISTRY_PUSH_KUBECONFIG: dev.users.developer!.kubeconfig,
      },
    );
    expect(pushed.code).toBe(0);
    const promote = [
      'copy',
      `docker://${route(dev)}/demo/app:v1`,
      `docker://${route(prod)}/demo/app:v1`,
      '--src-ca-file',
      devCa,
      '--dest-ca-file',
      prodCa,
      '--src-kubeconfig',
      dev.users.developer!.kubeconfig,
    ];
    const copied = await run([
      ...promote,
      '--dest-kubeconfig',
      prod.users.developer!.kubeconfig,
      '-o',
      'json',
    ]);
    expect(copied.stderr).not.toMatch(/error|warning/i);
    expect(copied.code).toBe(0);
    expect((JSON.parse(copied.stdout) as { digest: string }).digest).toBe(image.digest);
    const client = new RegistryClient({
      host: route(prod),
      caPem: prod.ingressCaPem,
      credentials: { kind: 'basic', username: 'x', password: prod.users.developer!.token },
    });
    expect(await client.headManifest('demo/app', 'v1')).toMatchObject({ digest: image.digest });
    await client.close();
    expect(copied.stdout + copied.stderr).not.toContain(prod.users.developer!.token);

    // Within one cluster the registry links the blobs from the source repository: nothing is uploaded.
    const within = await run(
      ['copy', `${route(dev)}/demo/app:v1`, `${route(dev)}/demo/app-rc:v1`, '--ca-file', devCa, '-o', 'json'],
      { REGISTRY_PUSH_KUBECONFIG: dev.users.developer!.kubeconfig },
    );
    expect(within.code).toBe(0);
    expect((JSON.parse(within.stdout) as { blobs: unknown }).blobs).toMatchObject({
      mounted: 3,
      transferred: 0,
    });

    // Pull from the prod cluster with its login, as push would log in.
    const dir = join(work, 'from-prod');
    const pulled = await run(['pull', `${route(prod)}/demo/app:v1`, `oci:${dir}`, '--ca-file', prodCa], {
      REGISTRY_PUSH_KUBECONFIG: prod.users.developer!.kubeconfig,
    });
    expect(pulled.code).toBe(0);
    expect(JSON.parse((await runSkopeo(['inspect', `oci:${dir}:v1`])).stdout)).toMatchObject({
      Digest: image.digest,
    });

    const denied = await run([
      'copy',
      promote[1]!,
      `docker://${route(prod)}/demo/app:v2`,
      ...promote.slice(3),
      '--dest-kubeconfig',
      prod.users.viewer!.kubeconfig,
    ]);
    expect(denied.code).toBe(1);
    // The progress line names the source, then one line says what the destination refused.
    const [, refused, ...more] = denied.stderr.split('\n');
    expect(more).toEqual([]);
    expect(refused).toMatch(
      /^registry-push copy: The registry default-route-openshift-image-registry\.apps\.prod-transfer\.test did not allow you to .* \[REGISTRY_DENIED\]$/,
    );
  }, 120_000);
});
