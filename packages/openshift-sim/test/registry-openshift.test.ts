// The registry front behaves as openshift/image-registry where it changes what a prune or a push sees:
// reads resolve through the ImageStream, manifest deletes, the auth edges, cross-repository mounts, and
// the admin blob delete, manifest size and image limits. Requests go through the router (port mode) to
// the front and the real distribution registry behind it.
import { readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import {
  buildOciImage,
  httpRequest,
  makeWorkDir,
  registryBlobDir,
  removeWorkDir,
  type BuiltImage,
  type HttpResponse,
} from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RunningCluster } from '../src/index.js';
import { raw, registryRouteCall, registryRouteHost, type RegistryCall } from './helpers.js';

let cluster: RunningCluster;
let work: string;
let host: string;
/** One image per test group, each with layers of its own (seeded), so no test sees another's blobs. */
const images: Record<string, BuiltImage> = {};

/** One request to the registry route, through the router. */
function call(path: string, options: RegistryCall = {}): Promise<HttpResponse> {
  return registryRouteCall(cluster, path, options);
}

function errorCode(response: HttpResponse): string | undefined {
  const parsed = JSON.parse(response.body.toString() || '{}') as { errors?: Array<{ code?: string }> };
  return parsed.errors?.[0]?.code;
}

function blobPath(image: BuiltImage, digest: string): string {
  return join(image.layoutDir, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

/** Uploads one blob monolithically (POST, then PUT with the bytes); returns the PUT's answer. */
async function uploadBlob(
  repository: string,
  bytes: Buffer,
  digest: string,
  user = 'developer',
): Promise<HttpResponse> {
  const started = await call(`/v2/${repository}/blobs/uploads/`, { method: 'POST', user });
  expect(started.status).toBe(202);
  const location = new URL(String(started.headers['location']), `https://${host}`);
  location.searchParams.set('digest', digest);
  return call(`${location.pathname}${location.search}`, {
    method: 'PUT',
    user,
    body: bytes,
    headers: { 'Content-Type': 'application/octet-stream' },
  });
}

/** Pushes an image's blobs and manifests (children by digest, then the top one by `tag`). */
async function push(
  image: BuiltImage,
  repository: string,
  tag: string,
  user = 'developer',
): Promise<HttpResponse> {
  for (const manifest of image.manifests) {
    for (const blob of [manifest.config, ...manifest.layers]) {
      const uploaded = await uploadBlob(
        repository,
        await readFile(blobPath(image, blob.digest)),
        blob.digest,
        user,
      );
      expect(uploaded.status).toBe(201);
    }
    if (image.index !== undefined) {
      const child = await call(`/v2/${repository}/manifests/${manifest.digest}`, {
        method: 'PUT',
        user,
        body: await readFile(blobPath(image, manifest.digest)),
        headers: { 'Content-Type': manifest.mediaType },
      });
      expect(child.status).toBe(201);
    }
  }
  return call(`/v2/${repository}/manifests/${tag}`, {
    method: 'PUT',
    user,
    body: await readFile(blobPath(image, image.digest)),
    headers: { 'Content-Type': image.mediaType },
  });
}

function storagePath(...parts: string[]): string {
  return join(cluster.registryStorageDir, 'docker/registry/v2', ...parts);
}

function revisionLink(repository: string, digest: string): string {
  return storagePath('repositories', repository, '_manifests/revisions/sha256', digest.slice(7), 'link');
}

function layerLink(repository: string, digest: string): string {
  return storagePath('repositories', repository, '_layers/sha256', digest.slice(7), 'link');
}

async function streamTags(namespace: string, name: string): Promise<string[]> {
  const stream = await raw(
    cluster,
    'GET',
    `/apis/image.openshift.io/v1/namespaces/${namespace}/imagestreams/${name}`,
  );
  const tags = (stream.json['status'] as { tags?: Array<{ tag: string }> } | undefined)?.tags ?? [];
  return tags.map((t) => t.tag);
}

const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

beforeAll(async () => {
  cluster = await startCluster({
    defaultRoute: true,
    routerMode: 'port',
    namespaces: ['team-b', 'limited'],
    users: [
      { name: 'pruner', roles: [{ role: 'system:image-pruner' }] },
      { name: 'puller', roles: [{ role: 'registry-viewer', namespace: 'demo' }] },
      { name: 'mover', roles: [{ role: 'edit', namespace: 'team-b' }] },
      {
        // May push layers into demo, but not create ImageStreams there.
        name: 'layers-only',
        roles: [],
        customRoles: [
          {
            namespace: 'demo',
            rules: [
              {
                apiGroups: ['image.openshift.io'],
                resources: ['imagestreams/layers'],
                verbs: ['get', 'update'],
              },
            ],
          },
        ],
      },
    ],
  });
  host = registryRouteHost(cluster);
  work = await makeWorkDir('sim-registry-openshift');
  for (const name of ['reads', 'pruned', 'deletes', 'mounts', 'limits', 'admin']) {
    images[name] = await buildOciImage({
      outDir: join(work, name),
      layers: 2,
      layerSize: 8192,
      seed: `sim-openshift-${name}`,
    });
  }
  images['multi'] = await buildOciImage({
    outDir: join(work, 'multi'),
    layerSize: 4096,
    seed: 'sim-openshift-multi',
    platforms: [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64' },
    ],
  });
  // The route is admitted asynchronously: wait until the router serves it.
  for (let i = 0; i < 200; i++) {
    if ((await call('/v2/')).status === 200) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  if (work !== undefined) await removeWorkDir(work);
});

describe('reads resolve through the image stream', () => {
  it('serves tags from the stream and manifests and blobs from storage once their links are gone', async () => {
    const image = images['reads']!;
    expect((await push(image, 'demo/reads', 'v1')).status).toBe(201);
    const layer = image.manifests[0]!.layers[0]!.digest;

    // Without their links the distribution registry alone no longer serves them; the OpenShift front
    // does, from global storage, because the stream references them.
    await rm(revisionLink('demo/reads', image.digest));
    await rm(layerLink('demo/reads', layer));
    const byTag = await call('/v2/demo/reads/manifests/v1', {
      headers: { Accept: image.mediaType },
    });
    expect(byTag.status).toBe(200);
    expect(byTag.headers['docker-content-digest']).toBe(image.digest);
    expect(sha256(byTag.body)).toBe(image.digest);
    const head = await call(`/v2/demo/reads/manifests/${image.digest}`, {
      method: 'HEAD',
      headers: { Accept: image.mediaType },
    });
    expect(head.status).toBe(200);
    const blob = await call(`/v2/demo/reads/blobs/${layer}`);
    expect(blob.status).toBe(200);
    expect(sha256(blob.body)).toBe(layer);

    // A blob in global storage that no Image of this stream references is not served here.
    const other = images['admin']!;
    expect((await push(other, 'demo/elsewhere', 'v1')).status).toBe(201);
    const foreign = await call(`/v2/demo/reads/blobs/${other.manifests[0]!.layers[0]!.digest}`);
    expect(foreign.status).toBe(404);
    expect(errorCode(foreign)).toBe('BLOB_UNKNOWN');

    const tags = await call('/v2/demo/reads/tags/list');
    expect(JSON.parse(tags.body.toString())).toEqual({ name: 'demo/reads', tags: ['v1'] });
  });

  it('stops serving a pruned image (Image deleted) and an untagged one, although their links remain', async () => {
    const image = images['pruned']!;
    expect((await push(image, 'demo/pruned', 'v1')).status).toBe(201);
    const accept = { headers: { Accept: image.mediaType } };
    expect((await call(`/v2/demo/pruned/manifests/${image.digest}`, accept)).status).toBe(200);
    expect(existsSync(revisionLink('demo/pruned', image.digest))).toBe(true);

    // The tag leaves the stream: the registry's own tag store still has it, the front does not use it.
    const untag = await raw(
      cluster,
      'DELETE',
      '/apis/image.openshift.io/v1/namespaces/demo/imagestreamtags/pruned:v1',
    );
    expect(untag.status).toBe(200);
    const byTag = await call('/v2/demo/pruned/manifests/v1', accept);
    expect(byTag.status).toBe(404);
    expect(errorCode(byTag)).toBe('MANIFEST_UNKNOWN');
    const byDigest = await call(`/v2/demo/pruned/manifests/${image.digest}`, accept);
    expect(byDigest.status).toBe(404);
    expect(errorCode(byDigest)).toBe('MANIFEST_UNKNOWN');

    // Tagged again, then the Image object is pruned: the history references it, but it is gone.
    expect((await push(image, 'demo/pruned', 'v2')).status).toBe(201);
    expect((await call('/v2/demo/pruned/manifests/v2', accept)).status).toBe(200);
    const pruned = await raw(cluster, 'DELETE', `/apis/image.openshift.io/v1/images/${image.digest}`);
    expect(pruned.status).toBe(200);
    expect(existsSync(revisionLink('demo/pruned', image.digest))).toBe(true);
    for (const reference of ['v2', image.digest]) {
      const gone = await call(`/v2/demo/pruned/manifests/${reference}`, accept);
      expect(gone.status).toBe(404);
      expect(errorCode(gone)).toBe('MANIFEST_UNKNOWN');
    }
  });

  it('serves the children of a manifest list in the stream', async () => {
    const multi = images['multi']!;
    expect((await push(multi, 'demo/multi', 'v1')).status).toBe(201);
    // Only the list is in the stream's history; its children are found through it, link or no link.
    await rm(revisionLink('demo/multi', multi.manifests[0]!.digest));
    for (const child of multi.manifests) {
      const answer = await call(`/v2/demo/multi/manifests/${child.digest}`, {
        headers: { Accept: child.mediaType },
      });
      expect(answer.status).toBe(200);
      expect(sha256(answer.body)).toBe(child.digest);
    }
  });
});

describe('manifest deletes', () => {
  it('are refused while the stream references an existing Image (lists included), and remove only the link after', async () => {
    const image = images['deletes']!;
    expect((await push(image, 'demo/deletes', 'v1')).status).toBe(201);
    const refused = await call(`/v2/demo/deletes/manifests/${image.digest}`, {
      method: 'DELETE',
      user: 'pruner',
    });
    expect(refused.status).toBe(405);
    expect(errorCode(refused)).toBe('UNSUPPORTED');
    const child = images['multi']!.manifests[0]!.digest;
    const childRefused = await call(`/v2/demo/multi/manifests/${child}`, {
      method: 'DELETE',
      user: 'pruner',
    });
    expect(childRefused.status).toBe(405);

    // The Image is pruned while the history still names it: the link may go, the stream stays as it is.
    expect((await raw(cluster, 'DELETE', `/apis/image.openshift.io/v1/images/${image.digest}`)).status).toBe(
      200,
    );
    const deleted = await call(`/v2/demo/deletes/manifests/${image.digest}`, {
      method: 'DELETE',
      user: 'pruner',
    });
    expect(deleted.status).toBe(202);
    expect(existsSync(revisionLink('demo/deletes', image.digest))).toBe(false);
    expect(await streamTags('demo', 'deletes')).toEqual(['v1']);
  });
});

describe('auth edges', () => {
  it('challenges requests without credentials and takes Bearer anonymous as the anonymous user', async () => {
    for (const path of ['/v2/', '/v2/demo/reads/manifests/v1']) {
      const answer = await call(path, { user: null });
      expect(answer.status).toBe(401);
      expect(answer.headers['www-authenticate']).toBe(`Bearer realm="https://${host}/openshift/token"`);
    }
    const base = await call('/v2/', { authorization: 'Bearer anonymous' });
    expect(base.status).toBe(200);
    const pull = await call('/v2/demo/reads/manifests/v1', { authorization: 'Bearer anonymous' });
    expect(pull.status).toBe(401);
    expect(pull.headers['www-authenticate']).toBe('Basic realm=openshift,error="access denied"');
    expect(JSON.parse(pull.body.toString())).toEqual({
      errors: [
        {
          code: 'UNAUTHORIZED',
          message: 'authentication required',
          detail: [{ Type: 'repository', Class: '', Name: 'demo/reads', Action: 'pull' }],
        },
      ],
    });
    const unknown = await call('/v2/', { authorization: 'Bearer sha256~not-a-token' });
    expect(unknown.status).toBe(401);
    expect(unknown.headers['www-authenticate']).toBe('Basic realm=openshift,error="access denied"');
  });

  it('echoes the API token from the token endpoint, with no expiry of its own', async () => {
    const token = cluster.users['puller']!.token;
    const basic = `Basic ${Buffer.from(`anyone:${token}`).toString('base64')}`;
    const issued = await call('/openshift/token?scope=repository:demo/reads:pull', { authorization: basic });
    expect(issued.status).toBe(200);
    expect(JSON.parse(issued.body.toString())).toEqual({ token, access_token: token });
    const anonymous = await call('/openshift/token', { user: null });
    expect(JSON.parse(anonymous.body.toString())).toEqual({ token: 'anonymous', access_token: 'anonymous' });
    const wrong = await call('/openshift/token', {
      authorization: `Basic ${Buffer.from('anyone:sha256~wrong').toString('base64')}`,
    });
    expect(wrong.status).toBe(401);
  });

  it('lets a pusher cancel its upload (push rights, not prune rights)', async () => {
    const started = await call('/v2/demo/cancel/blobs/uploads/', { method: 'POST' });
    expect(started.status).toBe(202);
    const location = new URL(String(started.headers['location']));
    const asPuller = await call(`${location.pathname}${location.search}`, {
      method: 'DELETE',
      user: 'puller',
    });
    expect(asPuller.status).toBe(401);
    const asPruner = await call(`${location.pathname}${location.search}`, {
      method: 'DELETE',
      user: 'pruner',
    });
    expect(asPruner.status).toBe(401);
    const cancelled = await call(`${location.pathname}${location.search}`, { method: 'DELETE' });
    expect(cancelled.status).toBe(204);
  });
});

describe('what the router and the front keep between requests', () => {
  it('follow a change of the registry config and of the routes with the very next request', async () => {
    const readOnly = async (value: boolean): Promise<void> => {
      const changed = await raw(
        cluster,
        'PATCH',
        '/apis/imageregistry.operator.openshift.io/v1/configs/cluster',
        {
          body: { spec: { readOnly: value } },
          contentType: 'application/merge-patch+json',
        },
      );
      expect(changed.status).toBe(200);
    };
    const upload = (): Promise<HttpResponse> => call('/v2/demo/cache/blobs/uploads/', { method: 'POST' });
    expect((await upload()).status).toBe(202);
    await readOnly(true);
    const refused = await upload();
    expect(refused.status).toBe(405);
    expect(refused.body.toString()).toContain('the registry is read-only');
    await readOnly(false);
    expect((await upload()).status).toBe(202);

    // A second route to the registry: served from the moment it is admitted, unavailable once deleted.
    const second = `second-route.${cluster.appsDomain}`;
    const at = (hostName: string): Promise<HttpResponse> =>
      httpRequest(`https://${cluster.routerAddress}/v2/`, {
        caPem: cluster.ingressCaPem,
        servername: hostName,
        headers: { Host: hostName },
      });
    expect((await at(second)).status).toBe(503);
    const routes = '/apis/route.openshift.io/v1/namespaces/openshift-image-registry/routes';
    const created = await raw(cluster, 'POST', routes, {
      body: {
        apiVersion: 'route.openshift.io/v1',
        kind: 'Route',
        metadata: { name: 'second' },
        spec: {
          host: second,
          to: { kind: 'Service', name: 'image-registry' },
          tls: { termination: 'reencrypt' },
        },
      },
    });
    expect(created.status).toBe(201);
    let served = await at(second);
    for (let tries = 0; served.status === 503 && tries < 100; tries++) {
      // Admission (status.ingress) is the operator's and the router's work, a moment after the create.
      await new Promise((resolve) => setTimeout(resolve, 50));
      served = await at(second);
    }
    expect(served.status).toBe(401);
    expect((await raw(cluster, 'DELETE', `${routes}/second`)).status).toBe(200);
    expect((await at(second)).status).toBe(503);
  });
});

describe('cross-repository mounts', () => {
  it('check pull on the source and fall back to an upload; mount what the source stream references', async () => {
    const image = images['mounts']!;
    expect((await push(image, 'demo/mounts', 'v1')).status).toBe(201);
    const layer = image.manifests[0]!.layers[0]!.digest;
    const second = image.manifests[0]!.layers[1]!.digest;
    const mountInto = (target: string, digest: string, user: string): Promise<HttpResponse> =>
      call(`/v2/${target}/blobs/uploads/?mount=${digest}&from=demo/mounts`, { method: 'POST', user });

    // mover may push to team-b but not pull from demo: an upload starts, nothing is mounted.
    const denied = await mountInto('team-b/copy', layer, 'mover');
    expect(denied.status).toBe(202);
    expect(existsSync(layerLink('team-b/copy', layer))).toBe(false);

    const linked = await mountInto('demo/copy', layer, 'developer');
    expect(linked.status).toBe(201);
    expect(linked.headers['docker-content-digest']).toBe(layer);

    // No link left in the source, but its stream references the blob: mounted all the same.
    await rm(layerLink('demo/mounts', second));
    const referenced = await mountInto('demo/copy', second, 'developer');
    expect(referenced.status).toBe(201);
    expect((await call(`/v2/demo/copy/blobs/${second}`, { method: 'HEAD' })).status).toBe(200);

    // Neither link nor reference: a normal upload.
    const foreign = images['admin']!.manifests[0]!.layers[1]!.digest;
    const unknown = await call(`/v2/demo/copy/blobs/uploads/?mount=${foreign}&from=demo/mounts`, {
      method: 'POST',
    });
    expect(unknown.status).toBe(202);
  });

  it('creates a missing stream with the pusher’s rights: without create imagestreams the push is denied', async () => {
    const image = images['mounts']!;
    const refused = await push(image, 'demo/not-created', 'v1', 'layers-only');
    expect(refused.status).toBe(403);
    expect(errorCode(refused)).toBe('DENIED');
    const stream = await raw(
      cluster,
      'GET',
      '/apis/image.openshift.io/v1/namespaces/demo/imagestreams/not-created',
    );
    expect(stream.status).toBe(404);
    // Into an existing stream the same user may push.
    expect((await push(image, 'demo/mounts', 'v2', 'layers-only')).status).toBe(201);
  });
});

describe('admin blob deletes, manifest size and image limits', () => {
  it('deletes a blob from storage idempotently; paths that are no digest are not found', async () => {
    const layer = images['admin']!.manifests[0]!.layers[0]!.digest;
    const stored = registryBlobDir(cluster.registryStorageDir, layer);
    expect(existsSync(stored)).toBe(true);
    for (let i = 0; i < 2; i++) {
      const answer = await call(`/admin/blobs/${layer}`, { method: 'DELETE', user: 'pruner' });
      expect(answer.status).toBe(204);
      expect(existsSync(stored)).toBe(false);
    }
    const notDigest = await call('/admin/blobs/not-a-digest', { method: 'DELETE', user: 'pruner' });
    expect(notDigest.status).toBe(404);
    const upper = await call(`/admin/blobs/sha256:${'A'.repeat(64)}`, { method: 'DELETE', user: 'pruner' });
    expect(upper.status).toBe(404);
    expect(errorCode(upper)).toBe('BLOB_UNKNOWN');
    const asDeveloper = await call(`/admin/blobs/${layer}`, { method: 'DELETE' });
    expect(asDeveloper.status).toBe(401);
  });

  it('refuses a manifest over 4 MiB as MANIFEST_INVALID', async () => {
    const huge = JSON.stringify({ schemaVersion: 2, annotations: { pad: 'x'.repeat(4 * 1024 * 1024) } });
    const answer = await call('/v2/demo/huge/manifests/v1', {
      method: 'PUT',
      body: huge,
      headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    });
    expect(answer.status).toBe(400);
    expect(errorCode(answer)).toBe('MANIFEST_INVALID');
  });

  it('denies a tagged push over the namespace’s openshift.io/Image limit when the manifest is put', async () => {
    const created = await raw(cluster, 'POST', '/api/v1/namespaces/limited/limitranges', {
      body: {
        apiVersion: 'v1',
        kind: 'LimitRange',
        metadata: { name: 'images' },
        spec: { limits: [{ type: 'openshift.io/Image', max: { storage: '10Ki' } }] },
      },
    });
    expect(created.status).toBe(201);
    const image = images['limits']!;
    // Every layer (8 KiB) is under the limit; the image (two layers and the config) is over it.
    const answer = await push(image, 'limited/app', 'v1', 'kubeadmin');
    expect(answer.status).toBe(403);
    expect(errorCode(answer)).toBe('DENIED');
    expect(await streamTags('limited', 'app')).toEqual([]);
    const small = await raw(cluster, 'PUT', '/api/v1/namespaces/limited/limitranges/images', {
      body: {
        ...created.json,
        spec: { limits: [{ type: 'openshift.io/Image', max: { storage: '1Mi' } }] },
      },
    });
    expect(small.status).toBe(200);
    expect((await push(image, 'limited/app', 'v1', 'kubeadmin')).status).toBe(201);
  });
});
