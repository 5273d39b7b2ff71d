// The single-file `registry-push` (scripts/build-cli-binary.sh: a Node single executable application) run as
// a CI system without Node runs it: an environment whose PATH holds no `node` at all, against openshift-sim.
// `push` and `all` succeed and what they pushed pulls with skopeo; a failure is one line with its code. The
// arm64 build runs the same push under qemu-user when the machine has it (Debian: qemu-user and
// libc6-arm64-cross, libstdc++6-arm64-cross).
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { buildOciImage, makeWorkDir, runSkopeo, type BuiltImage } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BUILD = join(ROOT, 'scripts/build-cli-binary.sh');
const X64 = join(ROOT, 'dist-bin/registry-push-linux-x64');
const ARM64 = join(ROOT, 'dist-bin/registry-push-linux-arm64');
/** The arm64 C and C++ runtimes Debian's cross packages install, for qemu-user's `-L`. */
const ARM64_SYSROOT = '/usr/aarch64-linux-gnu';
const QEMU = '/usr/bin/qemu-aarch64';
const canRunArm64 = existsSync(QEMU) && existsSync(join(ARM64_SYSROOT, 'lib/libstdc++.so.6'));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run `program argv...` with exactly `env` as its environment. */
function run(program: string, argv: readonly string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const started = performance.now();
  const child = spawn(program, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - started }));
  });
}

let work: string;
let image: BuiltImage;
let cluster: RunningCluster;
/** The whole environment the binary gets: a PATH of one empty directory, HOME and TMPDIR of its own. */
let bare: NodeJS.ProcessEnv;
let host: string;
let certDir: string;

/** Pull `repository:tag` from the route with skopeo as the developer, and return the manifest digest. */
async function pulledDigest(repository: string, tag: string): Promise<string> {
  const out = join(work, 'pulled', `${repository}-${tag}`);
  await mkdir(join(work, 'pulled'), { recursive: true });
  await runSkopeo([
    'copy',
    '--src-cert-dir',
    join(certDir, host),
    '--src-creds',
    `developer:${cluster.users.developer!.token}`,
    `docker://${host}/demo/${repository}:${tag}`,
    `oci:${out}:${tag}`,
  ]);
  const inspected = await runSkopeo(['inspect', `oci:${out}:${tag}`]);
  return (JSON.parse(inspected.stdout) as { Digest: string }).Digest;
}

// openshift-sim's route hosts resolve through /etc/hosts, which needs root, as for the other `all` tests.
describe.runIf(process.getuid?.() === 0)('the single-file binary, with no node on the PATH', () => {
  beforeAll(async () => {
    // Builds what is missing or out of date from the built dist/ (turbo builds before it tests); the binaries
    // are kept in dist-bin/ between runs.
    const arches = canRunArm64 ? ['x64', 'arm64'] : ['x64'];
    await promisify(execFile)(BUILD, ['--no-build', ...arches], { cwd: ROOT, maxBuffer: 1 << 20 });
    work = await makeWorkDir('cli-single-file');
    const emptyBin = join(work, 'bin');
    await mkdir(emptyBin);
    await mkdir(join(work, 'tmp'));
    bare = { PATH: emptyBin, HOME: work, TMPDIR: join(work, 'tmp') };
    [cluster, image] = await Promise.all([
      startCluster({ defaultRoute: true }),
      buildOciImage({ outDir: join(work, 'image'), layers: 2, layerSize: 256 * 1024, seed: 'single-file' }),
    ]);
    host = `default-route-openshift-image-registry.${cluster.appsDomain}`;
    certDir = join(work, 'certs.d');
    await mkdir(join(certDir, host), { recursive: true });
    await writeFile(join(certDir, host, 'ca.crt'), cluster.ingressCaPem);
  }, 300_000);

  afterAll(async () => {
    await cluster?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('is one executable and finds no node where it runs', async () => {
    expect(readdirSync(bare.PATH!)).toEqual([]);
    const onPath = (bare.PATH ?? '').split(delimiter).some((dir) => existsSync(join(dir, 'node')));
    expect(onPath).toBe(false);
    const help = await run(X64, ['--help'], bare);
    expect(help.stderr).toBe('');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: registry-push <command> \[options\]/);
    // The CLI's code is inside the executable, not read from the checkout: it runs from anywhere.
    const copy = join(work, 'registry-push');
    await promisify(execFile)('cp', [X64, copy]);
    expect((await run(copy, ['push', '--help'], bare)).stdout).toMatch(/usage: registry-push push/);
  });

  it('push: an OCI layout to the route with a token, and it pulls with skopeo', async () => {
    const result = await run(
      X64,
      [
        'push',
        `oci:${image.layoutDir}`,
        `${host}/demo/bin-push`,
        '-t',
        'v1',
        '-t',
        'latest',
        '--output',
        'json',
      ],
      {
        ...bare,
        REGISTRY_PUSH_TOKEN: cluster.users.developer!.token,
        REGISTRY_PUSH_CA_DATA: cluster.ingressCaPem,
      },
    );
    expect(result.stderr).not.toMatch(/error|warning/i);
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout) as { digest: string; refs: { tag: string }[] };
    expect(json.digest).toBe(image.digest);
    expect(json.refs.map((ref) => ref.tag)).toEqual(['v1', 'latest']);
    expect(result.stdout + result.stderr).not.toContain(cluster.users.developer!.token);
    expect(await pulledDigest('bin-push', 'latest')).toBe(image.digest);
  });

  it('all: discovers, trusts, logs in, pushes and cleans up, and it pulls with skopeo', async () => {
    const result = await run(
      X64,
      [
        'all',
        '--namespace',
        'demo',
        '--image',
        'bin-all',
        '--source',
        `oci:${image.layoutDir}`,
        '--tags',
        'v1,latest',
      ],
      {
        ...bare,
        REGISTRY_PUSH_KUBECONFIG: cluster.users.developer!.kubeconfig,
        REGISTRY_PUSH_CA_DATA: cluster.ingressCaPem,
      },
    );
    expect(result.stderr).not.toMatch(/error|warning/i);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`pushed ${host}/demo/bin-all:v1 ${image.digest}`));
    expect(result.stdout).toMatch(
      /in-cluster pull spec: image-registry\.openshift-image-registry\.svc:5000\/demo\/bin-all@sha256:/,
    );
    // The private auth file and cert dir `all` wrote are gone.
    expect(readdirSync(bare.TMPDIR!)).toEqual([]);
    expect(await pulledDigest('bin-all', 'v1')).toBe(image.digest);
  });

  it('a failure is one line with its code and exit 1, no stack trace', async () => {
    const result = await run(
      X64,
      ['push', `oci:${image.layoutDir}`, `${host}/no-such-project/app`, '-t', 'v1'],
      {
        ...bare,
        REGISTRY_PUSH_TOKEN: cluster.users.developer!.token,
        REGISTRY_PUSH_CA_DATA: cluster.ingressCaPem,
      },
    );
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines.at(-1)).toMatch(
      /^registry-push push: .*\[(PROJECT_NOT_FOUND|REGISTRY_NAME_UNKNOWN|REGISTRY_DENIED)\]$/,
    );
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it.runIf(canRunArm64)(
    'the arm64 build pushes too (under qemu-user)',
    async () => {
      const result = await run(
        QEMU,
        ['-L', ARM64_SYSROOT, ARM64, 'push', `oci:${image.layoutDir}`, `${host}/demo/bin-arm64`, '-t', 'v1'],
        {
          ...bare,
          REGISTRY_PUSH_TOKEN: cluster.users.developer!.token,
          REGISTRY_PUSH_CA_DATA: cluster.ingressCaPem,
        },
      );
      expect(result.stderr).not.toMatch(/error|warning/i);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`pushed ${host}/demo/bin-arm64:v1 ${image.digest}`));
      expect(await pulledDigest('bin-arm64', 'v1')).toBe(image.digest);
    },
    120_000,
  );
});
