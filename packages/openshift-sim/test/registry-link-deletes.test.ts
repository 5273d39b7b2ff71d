// Link deletes done by the front on the storage (`registryLinkDeletes: 'storage'`, for benchmarks) answer
// exactly as distribution does, and leave the storage as distribution leaves it: the same requests go to
// one cluster that forwards them to distribution and one that does them itself, and the answers (status,
// body, the headers a client reads) and the files left are compared. The storage cluster must not have
// sent the deletes it can do itself to distribution at all.
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildOciImage,
  makeWorkDir,
  removeWorkDir,
  type BuiltImage,
  type HttpResponse,
} from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RunningCluster } from '../src/index.js';
import { raw, registryRouteCall as call, registryRouteHost } from './helpers.js';

type Mode = 'upstream' | 'storage';
const clusters = {} as Record<Mode, RunningCluster>;
let work: string;
let tagged: BuiltImage;
let untagged: BuiltImage;

const blobFile = (image: BuiltImage, digest: string): string =>
  join(image.layoutDir, 'blobs', 'sha256', digest.slice('sha256:'.length));

/** Pushes the image's blobs, then its manifest by `reference` (a tag, or its digest: no tag in storage). */
async function push(cluster: RunningCluster, image: BuiltImage, repository: string, reference: string) {
  const manifest = image.manifests[0]!;
  for (const blob of [manifest.config, ...manifest.layers]) {
    const started = await call(cluster, `/v2/${repository}/blobs/uploads/`, { method: 'POST' });
    expect(started.status).toBe(202);
    const location = new URL(String(started.headers['location']), `https://${registryRouteHost(cluster)}`);
    location.searchParams.set('digest', blob.digest);
    const put = await call(cluster, `${location.pathname}${location.search}`, {
      method: 'PUT',
      body: await readFile(blobFile(image, blob.digest)),
      headers: { 'Content-Type': 'application/octet-stream' },
    });
    expect(put.status).toBe(201);
  }
  const put = await call(cluster, `/v2/${repository}/manifests/${reference}`, {
    method: 'PUT',
    body: await readFile(blobFile(image, image.digest)),
    headers: { 'Content-Type': image.mediaType },
  });
  expect(put.status).toBe(201);
  // The Image goes (as a prune's phase 1 and image unit leave it), so the revision link may be deleted.
  const deleted = await raw(cluster, 'DELETE', `/apis/image.openshift.io/v1/images/${image.digest}`);
  expect(deleted.status).toBe(200);
}

/** What a client sees of an answer. */
function seen(response: HttpResponse): Record<string, unknown> {
  const header = (name: string): unknown => response.headers[name];
  return {
    status: response.status,
    body: response.body.toString(),
    contentType: header('content-type'),
    contentLength: header('content-length'),
    apiVersion: header('docker-distribution-api-version'),
    nosniff: header('x-content-type-options'),
  };
}

function storageFile(cluster: RunningCluster, ...parts: string[]): string {
  return join(cluster.registryStorageDir, 'docker/registry/v2', ...parts);
}

const link = (cluster: RunningCluster, repository: string, kind: string, digest: string): string =>
  storageFile(cluster, 'repositories', repository, kind, 'sha256', digest.slice('sha256:'.length), 'link');

async function upstreamDeletes(cluster: RunningCluster): Promise<number> {
  const log = await readFile(cluster.registryUpstreamLog, 'utf8');
  return log.split('\n').filter((line) => line.includes('http.request.method=DELETE')).length;
}

beforeAll(async () => {
  work = await makeWorkDir('sim-link-deletes');
  untagged = await buildOciImage({ outDir: join(work, 'untagged'), layers: 3, seed: 'link-deletes-a' });
  tagged = await buildOciImage({ outDir: join(work, 'tagged'), layers: 1, seed: 'link-deletes-b' });
  for (const mode of ['upstream', 'storage'] as const) {
    const cluster = await startCluster({
      defaultRoute: true,
      routerMode: 'port',
      registryLinkDeletes: mode,
      users: [{ name: 'pruner', roles: [{ role: 'system:image-pruner' }] }],
    });
    clusters[mode] = cluster;
    for (let i = 0; i < 200 && (await call(cluster, '/v2/')).status !== 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await push(cluster, untagged, 'demo/untagged', untagged.digest);
    await push(cluster, tagged, 'demo/tagged', 'v1');
  }
}, 180_000);

afterAll(async () => {
  await Promise.all(Object.values(clusters).map((cluster) => cluster.stop()));
  if (work !== undefined) await removeWorkDir(work);
});

describe('link deletes done on the storage', () => {
  it('answer every case as distribution does and leave the same files', async () => {
    const [first, second, third] = untagged.manifests[0]!.layers.map((layer) => layer.digest) as [
      string,
      string,
      string,
    ];
    const unknown = `sha256:${'0'.repeat(64)}`;
    const answers = {} as Record<Mode, Record<string, unknown>[]>;
    const files = {} as Record<Mode, boolean[]>;
    for (const mode of ['upstream', 'storage'] as const) {
      const cluster = clusters[mode];
      const del = async (path: string): Promise<Record<string, unknown>> =>
        seen(await call(cluster, path, { method: 'DELETE', user: 'pruner' }));
      // The third layer's data goes first: its link stays, and its delete is BLOB_UNKNOWN.
      const admin = await call(cluster, `/admin/blobs/${third}`, { method: 'DELETE', user: 'pruner' });
      expect(admin.status).toBe(204);
      answers[mode] = [
        await del(`/v2/demo/untagged/blobs/${first}`),
        await del(`/v2/demo/untagged/blobs/${first}`),
        await del(`/v2/demo/untagged/blobs/${unknown}`),
        await del(`/v2/demo/untagged/blobs/${third}`),
        await del(`/v2/demo/untagged/manifests/${untagged.digest}`),
        await del(`/v2/demo/untagged/manifests/${untagged.digest}`),
        await del(`/v2/demo/untagged/manifests/${unknown}`),
        // A manifest that a tag points to: distribution also untags it.
        await del(`/v2/demo/tagged/manifests/${tagged.digest}`),
      ];
      files[mode] = [
        existsSync(link(cluster, 'demo/untagged', '_layers', first)),
        existsSync(link(cluster, 'demo/untagged', '_layers', second)),
        existsSync(link(cluster, 'demo/untagged', '_layers', third)),
        existsSync(link(cluster, 'demo/untagged', '_manifests/revisions', untagged.digest)),
        existsSync(link(cluster, 'demo/tagged', '_manifests/revisions', tagged.digest)),
        existsSync(storageFile(cluster, 'repositories/demo/tagged/_manifests/tags/v1')),
      ];
    }
    expect(answers.upstream.map((answer) => answer['status'])).toEqual([
      202, 404, 404, 404, 202, 404, 404, 202,
    ]);
    expect(answers.storage).toEqual(answers.upstream);
    expect(files.upstream).toEqual([false, true, true, false, false, false]);
    expect(files.storage).toEqual(files.upstream);
    // Only the tagged repository's manifest delete went to distribution.
    expect(await upstreamDeletes(clusters.upstream)).toBe(8);
    expect(await upstreamDeletes(clusters.storage)).toBe(1);
  }, 120_000);
});
