// image.openshift.io as openshift-apiserver serves it.
import { createHash } from 'node:crypto';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RunningCluster } from '../src/index.js';
import { failure, kubeConfigFor, raw } from './helpers.js';

const IMAGE = { group: 'image.openshift.io', version: 'v1' };
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

function manifestFor(seed: string): { manifest: string; digest: string } {
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: `sha256:${'c'.repeat(64)}`,
      size: 10,
    },
    layers: [
      {
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: `sha256:${createHash('sha256').update(seed).digest('hex')}`,
        size: 1234,
      },
    ],
  });
  return { manifest, digest: `sha256:${createHash('sha256').update(manifest).digest('hex')}` };
}

interface Stream {
  metadata: { generation: number; resourceVersion: string; uid: string };
  spec: {
    tags?: Array<{ name: string; generation: number; annotations: null; referencePolicy: { type: string } }>;
    lookupPolicy: { local: boolean };
  };
  status: {
    dockerImageRepository: string;
    publicDockerImageRepository?: string;
    tags?: Array<{
      tag: string;
      items: Array<{ image: string; dockerImageReference: string; generation: number }>;
    }>;
  };
}

let cluster: RunningCluster;
let custom: CustomObjectsApi;
beforeAll(async () => {
  cluster = await startCluster();
  custom = kubeConfigFor(cluster, 'developer').makeApiClient(CustomObjectsApi);
});
afterAll(async () => {
  await cluster.stop();
});

const mapping = (stream: string, tag: string, seed: string) => {
  const { manifest, digest } = manifestFor(seed);
  return {
    digest,
    body: {
      kind: 'ImageStreamMapping',
      apiVersion: 'image.openshift.io/v1',
      metadata: { name: stream, namespace: 'demo' },
      tag,
      image: {
        metadata: {
          name: digest,
          annotations: {
            'openshift.io/image.managed': 'true',
            'image.openshift.io/manifestBlobStored': 'true',
          },
        },
        dockerImageReference: `${cluster.internalRegistry}/demo/${stream}@${digest}`,
        dockerImageManifest: manifest,
        dockerImageManifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
      },
    },
  };
};

describe('image streams', () => {
  it('drops client status on create, computes repositories on read, bumps generation on spec change only', async () => {
    const created = (await custom.createNamespacedCustomObject({
      ...IMAGE,
      namespace: 'demo',
      plural: 'imagestreams',
      body: {
        metadata: { name: 'web' },
        spec: { tags: [{ name: 'v1', from: { kind: 'DockerImage', name: 'quay.io/x/y:1' } }] },
        status: { tags: [{ tag: 'fake', items: [] }] },
      },
    })) as Stream;
    expect(created.metadata.generation).toBe(1);
    expect(created.status.tags).toBeUndefined();
    expect(created.status.dockerImageRepository).toBe(`${cluster.internalRegistry}/demo/web`);
    expect(created.spec.tags?.[0]).toMatchObject({
      name: 'v1',
      generation: 1,
      annotations: null,
      referencePolicy: { type: 'Source' },
    });
    expect(created.spec.lookupPolicy).toEqual({ local: false });

    const labelled = (await custom.patchNamespacedCustomObject(
      {
        ...IMAGE,
        namespace: 'demo',
        plural: 'imagestreams',
        name: 'web',
        body: { metadata: { labels: { a: 'b' } }, status: { tags: [{ tag: 'x', items: [] }] } },
      },
      merge,
    )) as Stream;
    expect(labelled.metadata.generation).toBe(1);
    expect(labelled.status.tags).toBeUndefined();
    const retagged = (await custom.patchNamespacedCustomObject(
      {
        ...IMAGE,
        namespace: 'demo',
        plural: 'imagestreams',
        name: 'web',
        body: { spec: { lookupPolicy: { local: true } } },
      },
      merge,
    )) as Stream;
    expect(retagged.metadata.generation).toBe(2);
  });

  it('decorates a dry-run create like a real one and stores nothing', async () => {
    const probe = (await custom.createNamespacedCustomObject({
      ...IMAGE,
      namespace: 'demo',
      plural: 'imagestreams',
      dryRun: 'All',
      body: { metadata: { name: 'dry-probe' } },
    })) as Stream;
    expect(probe.status.dockerImageRepository).toBe(`${cluster.internalRegistry}/demo/dry-probe`);
    const listed = (await custom.listNamespacedCustomObject({
      ...IMAGE,
      namespace: 'demo',
      plural: 'imagestreams',
    })) as {
      items: Array<{ metadata: { name: string } }>;
    };
    expect(listed.items.map((item) => item.metadata.name)).not.toContain('dry-probe');
  });

  it('refuses an unconditional PUT (422) and a stale one (409)', async () => {
    const current = (await custom.getNamespacedCustomObject({
      ...IMAGE,
      namespace: 'demo',
      plural: 'imagestreams',
      name: 'web',
    })) as Stream & { metadata: Record<string, unknown> };
    const { resourceVersion: _rv, ...metadata } = current.metadata;
    const unconditional = await failure(
      custom.replaceNamespacedCustomObject({
        ...IMAGE,
        namespace: 'demo',
        plural: 'imagestreams',
        name: 'web',
        body: { ...current, metadata },
      }),
    );
    expect(unconditional.code).toBe(422);
    // A real change (a no-op update keeps the resourceVersion, as in kube).
    const changed = { ...current, metadata: { ...current.metadata, labels: { changed: 'yes' } } };
    await custom.replaceNamespacedCustomObject({
      ...IMAGE,
      namespace: 'demo',
      plural: 'imagestreams',
      name: 'web',
      body: changed,
    });
    const stale = await failure(
      custom.replaceNamespacedCustomObject({
        ...IMAGE,
        namespace: 'demo',
        plural: 'imagestreams',
        name: 'web',
        body: current,
      }),
    );
    expect(stale.code).toBe(409);
  });

  it('records pushes through imagestreammappings: Image created once, newest item first', async () => {
    const first = mapping('app', 'latest', 'one');
    const missing = await raw(
      cluster,
      'POST',
      '/apis/image.openshift.io/v1/namespaces/demo/imagestreammappings',
      { body: first.body, user: 'developer' },
    );
    expect(missing.status).toBe(404);
    await custom.createNamespacedCustomObject({
      ...IMAGE,
      namespace: 'demo',
      plural: 'imagestreams',
      body: { metadata: { name: 'app' } },
    });
    const ok = await raw(cluster, 'POST', '/apis/image.openshift.io/v1/namespaces/demo/imagestreammappings', {
      body: first.body,
      user: 'developer',
    });
    expect(ok.status).toBe(201);
    expect(ok.json).toMatchObject({ kind: 'Status', status: 'Success', code: 201 });
    const second = mapping('app', 'latest', 'two');
    await raw(cluster, 'POST', '/apis/image.openshift.io/v1/namespaces/demo/imagestreammappings', {
      body: second.body,
      user: 'developer',
    });
    await raw(cluster, 'POST', '/apis/image.openshift.io/v1/namespaces/demo/imagestreammappings', {
      body: second.body,
      user: 'developer',
    });

    const stream = (await custom.getNamespacedCustomObject({
      ...IMAGE,
      namespace: 'demo',
      plural: 'imagestreams',
      name: 'app',
    })) as Stream;
    expect(stream.status.tags?.[0]?.items.map((i) => i.image)).toEqual([second.digest, first.digest]);

    const badTag = mapping('app', 'bad tag!!', 'three');
    const refused = await raw(
      cluster,
      'POST',
      '/apis/image.openshift.io/v1/namespaces/demo/imagestreammappings',
      {
        body: badTag.body,
        user: 'developer',
      },
    );
    expect(refused.status).toBe(422);
    const admin = kubeConfigFor(cluster).makeApiClient(CustomObjectsApi);
    const image = (await admin.getClusterCustomObject({
      ...IMAGE,
      plural: 'images',
      name: first.digest,
    })) as Record<string, unknown>;
    expect(image['dockerImageManifest']).toBeUndefined();
    expect(image['dockerImageLayers']).toEqual([
      {
        name: expect.stringMatching(/^sha256:/) as unknown,
        size: 1234,
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      },
    ]);
    expect((image['metadata'] as { annotations: Record<string, string> }).annotations).toMatchObject({
      'openshift.io/image.managed': 'true',
      'image.openshift.io/dockerLayersOrder': 'ascending',
    });
  });

  it('serves imagestreamtags built from status and the Image, and deletes spec tag and history together', async () => {
    const tag = await raw(
      cluster,
      'GET',
      '/apis/image.openshift.io/v1/namespaces/demo/imagestreamtags/app:latest',
      { user: 'viewer' },
    );
    expect(tag.status).toBe(200);
    expect(tag.json).toMatchObject({
      kind: 'ImageStreamTag',
      metadata: { name: 'app:latest', namespace: 'demo' },
      tag: null,
    });
    expect((tag.json['image'] as Record<string, unknown>)['dockerImageManifest']).toBeUndefined();
    const bad = await raw(cluster, 'GET', '/apis/image.openshift.io/v1/namespaces/demo/imagestreamtags/app', {
      user: 'viewer',
    });
    expect(bad.status).toBe(400);
    const list = await raw(cluster, 'GET', '/apis/image.openshift.io/v1/namespaces/demo/imagestreamtags', {
      user: 'viewer',
    });
    expect((list.json['items'] as unknown[]).length).toBeGreaterThanOrEqual(1);

    const deleted = await raw(
      cluster,
      'DELETE',
      `/apis/image.openshift.io/v1/namespaces/demo/imagestreamtags/${encodeURIComponent('app:latest')}`,
      { user: 'developer' },
    );
    expect(deleted.status).toBe(200);
    expect(deleted.json).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' });
    const stream = (await custom.getNamespacedCustomObject({
      ...IMAGE,
      namespace: 'demo',
      plural: 'imagestreams',
      name: 'app',
    })) as Stream;
    expect(stream.status.tags).toBeUndefined();
    const again = await raw(
      cluster,
      'DELETE',
      '/apis/image.openshift.io/v1/namespaces/demo/imagestreamtags/app:latest',
      { user: 'developer' },
    );
    expect(again.status).toBe(404);
  });

  it('updates history through the status subresource without touching spec', async () => {
    const stream = (await custom.getNamespacedCustomObject({
      ...IMAGE,
      namespace: 'demo',
      plural: 'imagestreams',
      name: 'web',
    })) as Stream;
    const admin = kubeConfigFor(cluster).makeApiClient(CustomObjectsApi);
    const updated = (await admin.replaceNamespacedCustomObjectStatus({
      ...IMAGE,
      namespace: 'demo',
      plural: 'imagestreams',
      name: 'web',
      body: {
        ...stream,
        spec: { tags: [] },
        status: {
          tags: [
            {
              tag: 'v1',
              items: [
                {
                  created: '2026-01-01T00:00:00Z',
                  dockerImageReference: 'quay.io/x/y@sha256:' + 'd'.repeat(64),
                  image: 'sha256:' + 'd'.repeat(64),
                },
              ],
            },
          ],
        },
      },
    })) as Stream;
    expect(updated.spec.tags?.map((t) => t.name)).toEqual(['v1']);
    expect(updated.status.tags?.[0]?.items[0]?.generation).toBe(stream.metadata.generation);
  });

  it('deletes Images with a Status body and requires a resourceVersion to update them', async () => {
    const admin = kubeConfigFor(cluster).makeApiClient(CustomObjectsApi);
    const { digest } = manifestFor('standalone');
    await admin.createClusterCustomObject({
      ...IMAGE,
      plural: 'images',
      body: { metadata: { name: digest }, dockerImageReference: `quay.io/x/y@${digest}` },
    });
    const deleted = await raw(cluster, 'DELETE', `/apis/image.openshift.io/v1/images/${digest}`, {
      body: { gracePeriodSeconds: 0 },
    });
    expect(deleted.json).toMatchObject({
      kind: 'Status',
      status: 'Success',
      details: { name: digest, group: 'image.openshift.io', kind: 'images' },
    });
    const invalid = await failure(
      admin.createClusterCustomObject({ ...IMAGE, plural: 'images', body: { metadata: { name: digest } } }),
    );
    expect(invalid.code).toBe(422);
  });
});
