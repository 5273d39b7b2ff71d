// `registry-pruner run` against the simulator and its real registry: dry run by default, metadata-only when
// the registry is not Managed (storage untouched), full when it is (blobs freed, what is used still pulls),
// and clear failures that change nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PrunePlan, PruneRunResult } from '@registry-push/core';
import { createImage, createStream } from './support/objects.js';
import { killAll, runCli } from './support/processes.js';
import { pushGenerations, root, startWorld, type World } from './support/world.js';

let world: World;

describe.runIf(root)('registry-pruner run', () => {
  beforeAll(async () => {
    world = await startWorld(['one', 'two', 'err', 'page']);
    await world.setPruner({ keepTagRevisions: 1, keepYoungerThanDuration: '0s' });
  });

  afterAll(async () => {
    killAll();
    await world?.stop();
  });

  it('is a dry run without --confirm, and metadata-only while the registry is Unmanaged', async () => {
    const [g1, g2, g3] = await pushGenerations(world, 'one', 'one');
    const files = await world.storageFiles();

    const dry = await runCli(['run'], world.env());
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stderr).toContain('Dry run');
    expect(dry.stdout).toMatch(/dry run: nothing was changed/);
    expect(await world.history('one', 'app')).toEqual({ latest: [g3!.digest, g2!.digest, g1!.digest] });

    await world.setManagementState('Unmanaged');
    try {
      const run = await runCli(['run', '--confirm', '--output', 'json'], world.env());
      expect(run.code, run.stderr).toBe(0);
      const { plan, result } = JSON.parse(run.stdout) as { plan: PrunePlan; result: PruneRunResult };
      expect(plan.mode).toBe('metadata');
      expect(result.summary.errors).toEqual({});
      expect(result.summary.counts.image?.deleted).toBe(2);
    } finally {
      await world.setManagementState('Managed');
    }
    expect(await world.history('one', 'app')).toEqual({ latest: [g3!.digest] });
    expect(await world.imageExists(g1!.digest)).toBe(false);
    expect(await world.imageExists(g2!.digest)).toBe(false);
    // Metadata mode never contacts the registry: every file in storage is still there.
    expect(await world.storageFiles()).toEqual(files);
  });

  it('prunes registry storage too while the registry is Managed, keeping shared and used blobs', async () => {
    const [g1, g2, g3] = await pushGenerations(world, 'two', 'two');
    const run = await runCli(['run', '--confirm', '--keep-tag-revisions', '2'], world.env());
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('(full)');
    expect(await world.history('two', 'app')).toEqual({ latest: [g3!.digest, g2!.digest] });
    expect(await world.imageExists(g1!.digest)).toBe(false);
    const base = g1!.manifests[0]!.layers[0]!.digest;
    expect(base).toBe(g3!.manifests[0]!.layers[0]!.digest);
    // g1's manifest and config go; its only layer is the base every generation shares, so it stays.
    expect(await world.blobExists(g1!.digest)).toBe(false);
    expect(await world.blobExists(g1!.manifests[0]!.config.digest)).toBe(false);
    expect(await world.blobExists(base)).toBe(true);
    expect(await world.blobExists(g2!.digest)).toBe(true);
  });

  it('fails clearly and changes nothing with a bad kubeconfig, without permission, or without a reachable registry', async () => {
    const [g1, g2, g3] = await pushGenerations(world, 'err', 'err');
    const before = await world.history('err', 'app');
    expect(before).toEqual({ latest: [g3!.digest, g2!.digest, g1!.digest] });

    const missing = await runCli(
      ['run', '--confirm'],
      world.env({ KUBECONFIG: `${world.work}/no-such-kubeconfig` }),
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/kubeconfig file .* does not exist.*\[KUBECONFIG_INVALID\]/);

    const pruner = await world.cluster.addUser({
      name: 'only-pruner',
      roles: [{ role: 'system:image-pruner' }],
    });
    const forbidden = await runCli(['run', '--confirm'], world.env({ KUBECONFIG: pruner.kubeconfig }));
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toMatch(
      /may not get imagepruners\.imageregistry\.operator\.openshift\.io "cluster".*\[FORBIDDEN\]/,
    );

    const unreachable = await runCli(
      ['run', '--confirm'],
      world.env({ PRUNER_REGISTRY_HOST: '127.0.0.1:1' }),
    );
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/REGISTRY_UNREACHABLE/);

    expect(await world.history('err', 'app')).toEqual(before);
    for (const image of [g1, g2, g3]) expect(await world.imageExists(image!.digest)).toBe(true);
  });

  it('sees every Image when there are more than one page of them (nothing looks dangling)', async () => {
    // Pages of 500: the snapshot must follow the continue token of OpenShift kinds too (it once stopped after
    // the first page, which made the stream's images look dangling).
    const fillers = await Promise.all(
      Array.from({ length: 520 }, (_, i) => createImage(world.admin, `filler-${i}`)),
    );
    const sorted = [...fillers].sort();
    // The stream's images sort last: a first page of 500 would not have them.
    await createStream(world.admin, 'page', 'app', [sorted.at(-1)!, sorted.at(-2)!]);
    const dry = await runCli(['run', '--output', 'json', '--mode', 'metadata'], world.env());
    expect(dry.code, dry.stderr).toBe(0);
    const { plan } = JSON.parse(dry.stdout) as { plan: PrunePlan };
    expect(plan.items.filter((item) => item.rule === 'dangling')).toEqual([]);
    const history = plan.items.filter((item) => item.stream === 'page/app' && item.kind === 'tag-history');
    expect(history.map((item) => `${item.revision} ${item.action} ${item.rule}`)).toEqual([
      '1 delete beyond-tag-revisions',
    ]);
  });
});
