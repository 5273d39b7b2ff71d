// `registry-push all` cancelled mid-upload (as a cancelled CI job is, with SIGTERM, or Ctrl-C with SIGINT):
// the built binary against openshift-sim removes the auth directory (base64 user:token) and the cert dir
// it wrote, says so in one line, and exits 128+signal.
import { readdirSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { buildOciImage, makeWorkDir, type BuiltImage } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBinary } from './binary.js';

let work: string;
let image: BuiltImage;
let cluster: RunningCluster;

// openshift-sim needs root, as for the other `all` tests.
describe.runIf(process.getuid?.() === 0)('all, interrupted mid-upload', () => {
  beforeAll(async () => {
    work = await makeWorkDir('cli-all-interrupt');
    cluster = await startCluster({ defaultRoute: true });
    // One big layer, so the upload is still going on when the signal arrives, even on a fast machine.
    image = await buildOciImage({
      outDir: join(work, 'image'),
      layerSizes: [192 * 1024 * 1024],
      seed: 'all-interrupt',
    });
  }, 300_000);

  afterAll(async () => {
    await cluster.stop();
    await rm(work, { recursive: true, force: true });
  });

  /** Poll until `check` holds; false if `child` ended first or time ran out. */
  async function until(check: () => boolean, ended: () => boolean, limitMs = 120_000): Promise<boolean> {
    const deadline = Date.now() + limitMs;
    while (Date.now() < deadline) {
      if (check()) return true;
      if (ended()) return false;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return false;
  }

  it.each([
    ['SIGTERM', 143, 'term'],
    ['SIGINT', 130, 'int'],
  ] as const)(
    '%s: nothing private is left in TMPDIR, one line says so, exit code %i',
    async (signal, exitCode, name) => {
      const tmp = join(work, `tmp-${name}`);
      await mkdir(tmp);
      const repository = `interrupted-${name}`;
      const uploads = join(
        cluster.registryStorageDir,
        'docker/registry/v2/repositories/demo',
        repository,
        '_uploads',
      );
      const started = startBinary(
        [
          'all',
          '--namespace',
          'demo',
          '--image',
          repository,
          '--source',
          `oci:${image.layoutDir}`,
          '--concurrency',
          '1',
        ],
        {
          PATH: process.env.PATH,
          HOME: work,
          TMPDIR: tmp,
          REGISTRY_PUSH_KUBECONFIG: cluster.users.developer!.kubeconfig,
          REGISTRY_PUSH_CA_DATA: cluster.ingressCaPem,
        },
      );
      let ended = false;
      void started.done.then(() => (ended = true));
      const privateDirs = () =>
        entries(tmp).filter(
          (entry) => entry.startsWith('registry-push-auth-') || entry.startsWith('registry-push-certs-'),
        );
      // Logged in and trusted (both private directories exist), and the upload has begun.
      const uploading = await until(
        () => privateDirs().length === 2 && entries(uploads).length > 0,
        () => ended,
      );
      expect(uploading, `the push never reached the upload: ${started.stderr()}`).toBe(true);
      started.child.kill(signal);
      const run = await started.done;
      expect(run.signal).toBeNull();
      expect(run.code).toBe(exitCode);
      const last = run.stderr.trim().split('\n').pop() ?? '';
      expect(last).toMatch(
        new RegExp(
          `^registry-push all: Interrupted by ${signal}; removed .*registry-push-auth-.*\\[INTERRUPTED\\]$`,
        ),
      );
      expect(last).toMatch(/registry-push-certs-/);
      expect(run.stderr).not.toMatch(/\n\s+at /);
      expect(await readdir(tmp)).toEqual([]);
    },
    240_000,
  );
});

/** The entries of a directory, none if it does not exist (yet); synchronous, for the polling loop. */
function entries(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}
