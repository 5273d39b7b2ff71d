// An OCI referrer pushed by digest only (as `oras attach` or `cosign attach --experimental-oci11` push to a
// registry without the referrers API) against the simulator and its real registry: like the real integrated
// registry, the simulator records it as a bare Image (no tag event, no manifest in the object) and serves
// no manifest for it; the pruner cannot see its subject and keeps it, with a warning, instead of pruning it
// as an orphan while its subject is kept.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCosignArtifact, httpRequest, type BuiltImage } from '@registry-push/testkit';
import { Resources, type ImageObject, type PrunePlan } from '@registry-push/core';
import { killAll, runCli } from './support/processes.js';
import { pushGenerations, root, startWorld, type World } from './support/world.js';

let world: World;

describe.runIf(root)('a referrer pushed by digest only', () => {
  beforeAll(async () => {
    world = await startWorld(['hid']);
    await world.setPruner({ keepTagRevisions: 1, keepYoungerThanDuration: '0s' });
  });

  afterAll(async () => {
    killAll();
    await world?.stop();
  });

  it('is a bare Image the registry serves no manifest for, and the plan keeps it as subject-unknown', async () => {
    const [, , g3] = (await pushGenerations(world, 'hid', 'hid')) as [BuiltImage, BuiltImage, BuiltImage];
    const sig = await buildCosignArtifact({
      outDir: join(world.work, 'sig-g3'),
      subject: { mediaType: g3.mediaType, digest: g3.digest, size: g3.manifests[0]!.size },
      reference: 'hid/app',
      referrer: true,
    });
    await world.push(sig, `hid/app@${sig.digest}`);

    // What the real registry writes for a push by digest: the Image only, its manifest dropped by the API.
    expect(await world.history('hid', 'app')).toEqual({
      latest: [g3.digest, expect.any(String), expect.any(String)],
    });
    const image = await world.admin.find<
      ImageObject & { metadata: { annotations?: Record<string, string> } }
    >(Resources.image, sig.digest);
    expect(image).toMatchObject({
      metadata: { annotations: { 'image.openshift.io/manifestBlobStored': 'true' } },
      dockerImageManifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
      dockerImageLayers: [{ name: sig.layer.digest, mediaType: sig.layer.mediaType }],
    });
    expect(image?.dockerImageManifest).toBeUndefined();
    // And no manifest read by digest: the stream does not reference it.
    const read = await httpRequest(
      `https://${world.cluster.routerAddress}/v2/hid/app/manifests/${sig.digest}`,
      {
        headers: {
          Host: world.host,
          Authorization: `Bearer ${world.cluster.users.kubeadmin!.token}`,
          Accept: 'application/vnd.oci.image.manifest.v1+json',
        },
        caPem: world.cluster.ingressCaPem,
      },
    );
    expect(read.status).toBe(404);

    const run = await runCli(['run', '--output', 'json'], world.env());
    expect(run.code, run.stderr).toBe(0);
    const { plan } = JSON.parse(run.stdout) as { plan: PrunePlan };
    // Kept items are counted, not listed, in a run's plan: the reasons and the warning name it.
    expect(plan.items.find((i) => i.id === `image:${sig.digest}`)).toBeUndefined();
    expect(plan.summary.reasons).toEqual(
      expect.arrayContaining([{ rule: 'subject-unknown', action: 'keep', count: 1 }]),
    );
    expect(plan.warnings).toEqual([expect.objectContaining({ image: sig.digest })]);
    // The old generations are still pruned as usual.
    expect(plan.items.filter((i) => i.kind === 'image' && i.action === 'delete')).toHaveLength(2);
  }, 300_000);
});
