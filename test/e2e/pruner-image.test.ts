// The pruner image, end to end: built from the workspace with buildah (scripts/build-pruner-image.sh, on a
// Node base assembled from this machine's files, as no base image can be pulled here), pushed into
// openshift-sim with `registry-push all`, checked with skopeo (user, entrypoint, labels, size), pulled back
// and run as its non-root user on a read-only root filesystem, and pinned by digest in the deploy's
// kustomization. One to two minutes on two cores, and it needs the npm registry (the Containerfile runs
// `npm ci`) and root (buildah's vfs driver with chroot isolation). It runs in every `npm test` as root (the
// setup script installs buildah; a missing buildah fails it); REGISTRY_PUSH_IMAGE_CHECK=0 leaves it out, and
// `npm run check:pruner-image` runs it alone.
// The deploy's image reference (a digest, pinned by the script or by the example workflow's overlay) is checked
// in every run.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAllYaml, loadYaml } from '@kubernetes/client-node';
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { makeWorkDir, runSkopeo } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'packages/cli/dist/cli.js');
const PRUNER_VERSION = (
  JSON.parse(await readFile(join(ROOT, 'services/pruner/package.json'), 'utf8')) as { version: string }
).version;
const INTERNAL = 'image-registry.openshift-image-registry.svc:5000';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a program to its end without blocking this process (the simulator serves from it). */
function run(program: string, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  const child = spawn(program, argv, { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Run and insist on exit 0. */
async function ok(program: string, argv: readonly string[], env?: NodeJS.ProcessEnv): Promise<Run> {
  const result = await run(program, argv, env);
  if (result.code !== 0) {
    throw new Error(`${program} ${argv.join(' ')} exited ${result.code}: ${result.stderr.slice(-2000)}`);
  }
  return result;
}

let work: string;
let cluster: RunningCluster;
let archive: string;
let buildah: string[];
let host: string;
let certDir: string;
let pushed: { digest: string; internalRef: string };
/** The pushed image's user, environment and entrypoint, as skopeo read them. */
let imageConfig: { User: string; Env: string[]; Entrypoint: string[] };

const asRoot = process.getuid?.() === 0;
const enabled = process.env['REGISTRY_PUSH_IMAGE_CHECK'] !== '0' && asRoot;
if (!asRoot) console.warn('the pruner image check needs root (buildah with the vfs driver); it is left out');

describe.runIf(enabled)('the pruner image', () => {
  beforeAll(async () => {
    work = await makeWorkDir('pruner-image');
    archive = join(work, 'registry-pruner.tar');
    const storage = join(work, 'buildah');
    buildah = ['--root', join(storage, 'root'), '--runroot', join(storage, 'run'), '--storage-driver', 'vfs'];
    const started = Date.now();
    const [built, running] = await Promise.all([
      ok(join(ROOT, 'scripts/build-pruner-image.sh'), ['--offline-base', '--storage', storage, archive]),
      startCluster({ defaultRoute: true, namespaces: ['registry-pruner'] }),
    ]);
    cluster = running;
    console.log(`${built.stdout.trim()} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    host = `default-route-openshift-image-registry.${cluster.appsDomain}`;
    certDir = join(work, 'certs.d', host);
    await mkdir(certDir, { recursive: true });
    await writeFile(join(certDir, 'ca.crt'), cluster.ingressCaPem);
  }, 900_000);

  afterAll(async () => {
    await cluster?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('pushes into its project with registry-push all', async () => {
    const result = await run(
      process.execPath,
      [
        CLI,
        'all',
        '--namespace',
        'registry-pruner',
        '--image',
        'registry-pruner',
        '--source',
        `oci-archive:${archive}`,
        '--tags',
        `${PRUNER_VERSION},latest`,
        '--output',
        'json',
      ],
      {
        PATH: process.env['PATH'],
        HOME: work,
        REGISTRY_PUSH_KUBECONFIG: cluster.kubeconfig,
        REGISTRY_PUSH_CA_DATA: cluster.ingressCaPem,
      },
    );
    expect(result.stderr).not.toMatch(/error|warning/i);
    expect(result.code).toBe(0);
    pushed = JSON.parse(result.stdout) as { digest: string; internalRef: string };
    expect(pushed.internalRef).toBe(`${INTERNAL}/registry-pruner/registry-pruner@${pushed.digest}`);
  });

  it('is what skopeo sees: non-root user, entrypoint, labels, size', async () => {
    const creds = ['--creds', `kubeadmin:${cluster.users.kubeadmin!.token}`, '--cert-dir', certDir];
    const ref = `docker://${host}/registry-pruner/registry-pruner:latest`;
    const config = JSON.parse((await runSkopeo(['inspect', '--config', ...creds, ref])).stdout) as {
      config: {
        User?: string;
        Entrypoint?: string[];
        Cmd?: string[];
        Labels?: Record<string, string>;
        ExposedPorts?: Record<string, unknown>;
        Env?: string[];
      };
      architecture: string;
      os: string;
    };
    expect(config).toMatchObject({ architecture: 'amd64', os: 'linux' });
    expect(config.config.User).toBe('1001:0');
    expect(config.config.Entrypoint).toEqual(['node', '/app/services/pruner/dist/cli.js']);
    expect(config.config.Cmd).toEqual(['worker']);
    expect(Object.keys(config.config.ExposedPorts ?? {})).toEqual(['8080/tcp']);
    expect(config.config.Env).toContain('NODE_ENV=production');
    imageConfig = {
      User: config.config.User!,
      Env: config.config.Env ?? [],
      Entrypoint: config.config.Entrypoint ?? [],
    };
    const head = (await ok('git', ['rev-parse', 'HEAD'])).stdout.trim();
    expect(config.config.Labels).toMatchObject({
      'org.opencontainers.image.title': 'registry-pruner',
      'org.opencontainers.image.licenses': 'Apache-2.0',
      'org.opencontainers.image.version': PRUNER_VERSION,
      'org.opencontainers.image.revision': head,
    });
    const digest = JSON.parse((await runSkopeo(['inspect', ...creds, ref])).stdout) as { Digest: string };
    expect(digest.Digest).toBe(pushed.digest);
    const manifest = JSON.parse((await runSkopeo(['inspect', '--raw', ...creds, ref])).stdout) as {
      config: { size: number };
      layers: { size: number }[];
    };
    const bytes = manifest.layers.reduce((sum, layer) => sum + layer.size, manifest.config.size);
    console.log(`pushed ${manifest.layers.length} layers, ${(bytes / 2 ** 20).toFixed(1)} MiB compressed`);
    // Node (about 35 MiB compressed), the production dependencies and the compiled code; no dev tooling.
    expect(bytes).toBeLessThan(100 * 2 ** 20);
  });

  it('pulled back, runs as UID 1001 on a read-only root: a dry run against the cluster', async () => {
    // Pulled from the route, as a node would, then run with its config's entrypoint in a chroot whose root
    // is mounted read-only, as the user the image names.
    const container = (
      await ok('buildah', [
        ...buildah,
        'from',
        '--cert-dir',
        certDir,
        '--creds',
        `kubeadmin:${cluster.users.kubeadmin!.token}`,
        `docker://${host}/registry-pruner/registry-pruner@${pushed.digest}`,
      ])
    ).stdout.trim();
    const rootfs = (await ok('buildah', [...buildah, 'mount', container])).stdout.trim();
    try {
      // The pod mounts its service-account files; here the kubeconfig takes their place.
      await mkdir(join(rootfs, 'var/run/registry-pruner'), { recursive: true });
      await writeFile(join(rootfs, 'var/run/registry-pruner/kubeconfig'), '');
      // The image's own user, environment and entrypoint, as a container runtime would use them.
      const { User, Env, Entrypoint } = imageConfig;
      const script = [
        'set -e',
        `mount --bind "$ROOTFS" "$ROOTFS"`,
        `mount -o remount,bind,ro "$ROOTFS"`,
        `mount --bind -o ro "$KUBECONFIG_FILE" "$ROOTFS/var/run/registry-pruner/kubeconfig"`,
        // exec: the chroot's exit code is the script's.
        `exec chroot --userspec="$USERSPEC" "$ROOTFS" /usr/bin/env -i HOME=/ "$@"`,
      ].join('\n');
      // Readable by group 0, as OpenShift mounts a secret for the arbitrary UID it assigns (GID 0).
      const kubeconfig = join(work, 'kubeconfig');
      await writeFile(kubeconfig, await readFile(cluster.kubeconfig), { mode: 0o640 });
      const env = {
        PATH: process.env['PATH'],
        ROOTFS: rootfs,
        KUBECONFIG_FILE: kubeconfig,
        USERSPEC: User,
      };
      const inChroot = (argv: string[]) =>
        run('unshare', ['--mount', 'sh', '-c', script, 'sh', ...Env, ...argv], env);
      const dry = await inChroot([
        ...Entrypoint,
        'run',
        '--mode',
        'metadata',
        '--output',
        'json',
        '--kubeconfig',
        '/var/run/registry-pruner/kubeconfig',
      ]);
      expect(dry.stderr).not.toMatch(/EROFS|EACCES|\n\s+at /);
      expect(dry.code).toBe(0);
      // The plan sees the cluster through the API: the one Image there is the pruner's own, and kept.
      const output = JSON.parse(dry.stdout) as unknown;
      expect(output).toMatchObject({
        plan: { mode: 'metadata', summary: { counts: { image: { keep: 1 } } } },
        result: { dryRun: true },
      });
      // And the root really is read-only for it.
      const write = await inChroot(['node', '-e', "require('fs').writeFileSync('/app/x', '')"]);
      expect(write.code).not.toBe(0);
      expect(write.stderr).toMatch(/EROFS|read-only file system/i);
    } finally {
      await ok('buildah', [...buildah, 'umount', container]);
      await ok('buildah', [...buildah, 'rm', container]);
    }
  });

  it('the deploy pins the pushed digest (scripts/pin-pruner-image.sh)', async () => {
    const deploy = join(work, 'deploy');
    await cp(join(ROOT, 'services/pruner/deploy'), deploy, { recursive: true });
    await ok(join(ROOT, 'scripts/pin-pruner-image.sh'), [pushed.internalRef, deploy]);
    expect((await renderedWorker(deploy)).image).toBe(pushed.internalRef);
  });
});

/** The worker container of the Deployment that `kubectl kustomize dir` renders. */
async function renderedWorker(dir: string): Promise<Container> {
  const docs = loadAllYaml((await ok('kubectl', ['kustomize', dir])).stdout) as Deployment[];
  const deployment = docs.find((doc) => doc.kind === 'Deployment' && doc.metadata.name === 'registry-pruner');
  const worker = deployment?.spec.template.spec.containers.find((container) => container.name === 'worker');
  if (!deployment || !worker) throw new Error(`kubectl kustomize ${dir} rendered no registry-pruner worker`);
  return { ...worker, podSecurityContext: deployment.spec.template.spec.securityContext };
}

interface Container {
  name: string;
  image: string;
  securityContext?: Record<string, unknown>;
  podSecurityContext?: Record<string, unknown>;
}

interface Deployment {
  kind: string;
  metadata: { name: string };
  spec: { template: { spec: { containers: Container[]; securityContext?: Record<string, unknown> } } };
}

// Needs only kubectl, so it runs in every `npm test`.
describe("the deploy's image reference", () => {
  let scratch: string;
  /** A digest no registry holds: the pin is about the manifests, not the image. */
  const ref = `${INTERNAL}/registry-pruner/registry-pruner@sha256:${createHash('sha256').update(randomBytes(16)).digest('hex')}`;

  beforeAll(async () => {
    scratch = await makeWorkDir('pruner-deploy-image');
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('is a digest in the kustomize images entry, and the pod runs non-root on a read-only root', async () => {
    const worker = await renderedWorker(join(ROOT, 'services/pruner/deploy'));
    expect(worker.image).toMatch(/^quay\.io\/registry-push\/registry-pruner@sha256:[0-9a-f]{64}$/);
    expect(worker.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(worker.podSecurityContext).toMatchObject({ runAsNonRoot: true });
    // Any UID: OpenShift's restricted SCC assigns one; the image's files are readable by group 0.
    expect(worker.podSecurityContext).not.toHaveProperty('runAsUser');
    expect(worker.securityContext).not.toHaveProperty('runAsUser');
  });

  it('scripts/pin-pruner-image.sh sets the pushed name and digest, and refuses a tag', async () => {
    const deploy = join(scratch, 'pinned');
    await cp(join(ROOT, 'services/pruner/deploy'), deploy, { recursive: true });
    await ok(join(ROOT, 'scripts/pin-pruner-image.sh'), [ref, deploy]);
    expect((await renderedWorker(deploy)).image).toBe(ref);
    const tagged = await run(join(ROOT, 'scripts/pin-pruner-image.sh'), [`${INTERNAL}/x/y:latest`, deploy]);
    expect(tagged.code).toBe(2);
    expect(tagged.stderr.trim().split('\n')).toHaveLength(1);
    expect(tagged.stderr).toMatch(/NAME@sha256:/);
    expect((await renderedWorker(deploy)).image).toBe(ref);
  });

  it("examples/pruner-deploy.yml's overlay pins the digest the action pushed", async () => {
    const workflow = loadYaml<{ jobs: { deploy: { steps: { name?: string; run?: string }[] } } }>(
      await readFile(join(ROOT, 'examples/pruner-deploy.yml'), 'utf8'),
    );
    const step = workflow.jobs.deploy.steps.find(
      (candidate) => candidate.name === 'Roll out the pushed digest',
    );
    const lines = (step?.run ?? '').split('\n');
    // The step's script up to its `oc` calls, run as the runner would in a checkout.
    const script = lines
      .slice(
        0,
        lines.findIndex((line) => line.startsWith('oc ')),
      )
      .join('\n');
    expect(script).toMatch(/kustomization\.yaml/);
    const checkout = join(scratch, 'checkout');
    await cp(join(ROOT, 'services/pruner/deploy'), join(checkout, 'services/pruner/deploy'), {
      recursive: true,
    });
    const result = await run('bash', ['-euo', 'pipefail', '-c', `cd "$CHECKOUT"\n${script}`], {
      PATH: process.env['PATH'],
      CHECKOUT: checkout,
      IMAGE: ref,
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect((await renderedWorker(join(checkout, '.deploy'))).image).toBe(ref);
  });
});
