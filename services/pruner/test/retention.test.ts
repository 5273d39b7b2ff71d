// Retention against the simulator and its real registry, as a user would set it up: a Tekton TaskRun (a
// custom resource served through its CRD) names an old image by digest, which the `tekton` preset keeps;
// cosign signatures pushed next to their images are kept with a kept subject and pruned with a pruned one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { buildCosignArtifact, operatorCrds, runSkopeo, type BuiltImage } from '@registry-push/testkit';
import type { KubeObject, PrunePlan, PruneRunResult } from '@registry-push/core';
import { killAll, runCli, startWorkerProcess } from './support/processes.js';
import { pushGenerations, root, startWorld, type World } from './support/world.js';

let world: World;
const TASK_RUNS = { apiVersion: 'tekton.dev/v1', kind: 'TaskRun', plural: 'taskruns', namespaced: true };
const INTERNAL = 'image-registry.openshift-image-registry.svc:5000';

describe.runIf(root)('retention rules of a confirmed run', () => {
  beforeAll(async () => {
    world = await startWorld(['ret', 'retq'], { customResourceDefinitions: operatorCrds('tekton') });
    await world.setPruner({ keepTagRevisions: 1, keepYoungerThanDuration: '0s' });
  });

  afterAll(async () => {
    killAll();
    await world?.stop();
  });

  it('keeps what a TaskRun uses and the signatures of kept images, and prunes a signature with its image', async () => {
    const [g1, g2, g3] = (await pushGenerations(world, 'ret', 'ret')) as [BuiltImage, BuiltImage, BuiltImage];
    const sign = async (image: BuiltImage) => {
      const subject = { mediaType: image.mediaType, digest: image.digest, size: image.manifests[0]!.size };
      const sig = await buildCosignArtifact({
        outDir: join(world.work, `sig-${image.digest.slice(7, 19)}`),
        subject,
        reference: 'ret/app',
      });
      await world.push(sig, `ret/app:${sig.tag}`);
      return sig;
    };
    const [s1, s2, s3] = [await sign(g1), await sign(g2), await sign(g3)];
    const before = await world.history('ret', 'app');
    expect(before.latest).toEqual([g3.digest, g2.digest, g1.digest]);
    expect(before[s2.tag]).toEqual([s2.digest]);
    await world.admin.create<KubeObject>(TASK_RUNS, {
      metadata: { name: 'build-1', namespace: 'ret' },
      spec: { taskSpec: { steps: [{ name: 'test', image: `${INTERNAL}/ret/app@${g1.digest}` }] } },
    } as KubeObject);

    const run = await runCli(
      ['run', '--confirm', '--output', 'json'],
      world.env({ PRUNER_POLICY: JSON.stringify({ referenceSources: ['tekton', 'argo-rollouts'] }) }),
    );
    expect(run.code, run.stderr).toBe(0);
    const { plan, result } = JSON.parse(run.stdout) as { plan: PrunePlan; result: PruneRunResult };
    expect(plan.mode).toBe('full');
    expect(result.summary.errors).toEqual({});
    const deleted = (id: string) => plan.items.find((i) => i.id === id);
    expect(deleted('tag:ret/app:latest#1')).toMatchObject({ action: 'delete', rule: 'beyond-tag-revisions' });
    expect(deleted(`tag:ret/app:${s2.tag}#0`)).toMatchObject({
      action: 'delete',
      rule: 'subject-pruned',
      referrer: g2.digest,
    });
    expect(deleted('tag:ret/app:latest#2')).toBeUndefined();
    expect(plan.summary.reasons).toEqual(
      expect.arrayContaining([
        { rule: 'image-in-use', action: 'keep', count: 1 },
        { rule: 'subject-kept', action: 'keep', count: 2 },
      ]),
    );
    expect(plan.notes).toContain(
      'rollouts.argoproj.io is not served by this cluster; nothing there can use an image.',
    );

    const after = await world.history('ret', 'app');
    expect(after).toEqual({ latest: [g3.digest, g1.digest], [s1.tag]: [s1.digest], [s3.tag]: [s3.digest] });
    expect(await world.imageExists(g2.digest)).toBe(false);
    expect(await world.imageExists(s2.digest)).toBe(false);
    expect(await world.blobExists(s2.digest)).toBe(false);
    expect(await world.imageExists(s1.digest)).toBe(true);
    // What the TaskRun uses still pulls byte for byte, and so do the signatures of the kept images.
    expect(await world.pullDiff(`ret/app@${g1.digest}`, g1)).toEqual([]);
    for (const sig of [s1, s3]) {
      const { stdout } = await runSkopeo([
        'inspect',
        '--raw',
        '--creds',
        `kubeadmin:${world.cluster.users.kubeadmin!.token}`,
        '--cert-dir',
        join(world.work, 'certs', world.host),
        `docker://${world.host}/ret/app:${sig.tag}`,
      ]);
      expect(JSON.parse(stdout)).toMatchObject({ layers: [{ digest: sig.layer.digest }] });
    }
  });

  it('applies the same policy in the worker: a queued run keeps what a TaskRun uses', async () => {
    const [g1, g2, g3] = (await pushGenerations(world, 'retq', 'retq')) as [
      BuiltImage,
      BuiltImage,
      BuiltImage,
    ];
    await world.admin.create<KubeObject>(TASK_RUNS, {
      metadata: { name: 'build-1', namespace: 'retq' },
      spec: { taskSpec: { steps: [{ name: 'test', image: `${INTERNAL}/retq/app@${g1.digest}` }] } },
    } as KubeObject);
    const env = world.env({ PRUNER_POLICY: JSON.stringify({ referenceSources: ['tekton'] }) });
    const worker = startWorkerProcess('ret-worker', env);
    try {
      const run = await runCli(['enqueue', '--confirm', '--wait'], env);
      expect(run.code, run.stderr + run.stdout).toBe(0);
    } finally {
      worker.kill('SIGTERM');
      await worker.exited;
    }
    expect(await world.history('retq', 'app')).toEqual({ latest: [g3.digest, g1.digest] });
    expect(await world.imageExists(g2.digest)).toBe(false);
    expect(await world.pullDiff(`retq/app@${g1.digest}`, g1)).toEqual([]);
  });
});
