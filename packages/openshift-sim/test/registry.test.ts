// The data path: skopeo against the exposed route of the simulated cluster, through the router, the
// OpenShift registry auth and a real distribution registry; what a push records in the API.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import {
  buildOciImage,
  httpRequest,
  makeWorkDir,
  removeWorkDir,
  requireBinary,
  runSkopeo,
  type BuiltImage,
} from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RunningCluster } from '../src/index.js';
import { eventually, kubeConfigFor } from './helpers.js';

const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
// skopeo reaches a route only by its host name, which resolves through /etc/hosts: root only.
const hostsMode = process.getuid?.() === 0;

let cluster: RunningCluster;
let workDir: string;
let certDir: string;
let host: string;
let image: BuiltImage;

const creds = (user: string): string => `${user}:${cluster.users[user]?.token ?? ''}`;

/** `https://<route host>` as clients reach it: the bare host in hosts mode, host:port otherwise. */
function registryBase(): string {
  return cluster.routerMode === 'hosts' ? `https://${host}` : `https://${cluster.routerAddress}`;
}

async function copyTo(target: string, user: string, extra: string[] = []): Promise<void> {
  await runSkopeo([
    'copy',
    '--retry-times=0',
    '--dest-cert-dir',
    certDir,
    '--dest-creds',
    creds(user),
    ...extra,
    `oci:${image.layoutDir}:latest`,
    `docker://${target}`,
  ]);
}

beforeAll(async () => {
  cluster = await startCluster({
    defaultRoute: true,
    users: [
      { name: 'pruner', roles: [{ role: 'system:image-pruner' }] },
      // OpenShift's view role cannot pull; registry-viewer can.
      { name: 'puller', roles: [{ role: 'registry-viewer', namespace: 'demo' }] },
    ],
  });
  workDir = await makeWorkDir('sim-registry-test');
  certDir = join(workDir, 'certs');
  await mkdir(certDir);
  await writeFile(join(certDir, 'ca.crt'), cluster.ingressCaPem);
  image = await buildOciImage({
    outDir: join(workDir, 'image'),
    layers: 2,
    layerSize: 16 * 1024,
    seed: 'sim-registry',
  });
  host = `default-route-openshift-image-registry.${cluster.appsDomain}`;
  const custom = kubeConfigFor(cluster).makeApiClient(CustomObjectsApi);
  await eventually(async () => {
    const route = (await custom.getNamespacedCustomObject({
      group: 'route.openshift.io',
      version: 'v1',
      namespace: 'openshift-image-registry',
      plural: 'routes',
      name: 'default-route',
    })) as {
      status?: { ingress?: unknown[] };
    };
    return route.status?.ingress ? true : undefined;
  });
});
afterAll(async () => {
  await cluster?.stop();
  await removeWorkDir(workDir);
});

describe('the exposed registry', () => {
  it("serves routes under hosts that look like OpenShift's, with the ingress certificate", async () => {
    expect(cluster.routerMode).toBe(hostsMode ? 'hosts' : 'port');
    const answer = await httpRequest(`${registryBase()}/v2/`, {
      caPem: cluster.ingressCaPem,
      servername: host,
      headers: { Host: host },
    });
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toBe(`Bearer realm="https://${host}/openshift/token"`);
    // A host no route claims: the default wildcard certificate, and the router's 503 page.
    const nothing = `nothing.${cluster.appsDomain}`;
    const unknownHost = await httpRequest(`https://${cluster.routerAddress}/`, {
      caPem: cluster.ingressCaPem,
      servername: nothing,
      headers: { Host: nothing },
    });
    expect(unknownHost.status).toBe(503);
    expect(unknownHost.body.toString()).toContain('Application is not available');
  });

  it.runIf(hostsMode)('logs in with an API token and refuses a bad one', async () => {
    await runSkopeo([
      'login',
      '--cert-dir',
      certDir,
      '-u',
      'anyone',
      '-p',
      cluster.users['developer']?.token ?? '',
      host,
    ]);
    await expect(
      runSkopeo(['login', '--cert-dir', certDir, '-u', 'anyone', '-p', 'sha256~wrong', host]),
    ).rejects.toThrow(/unauthorized|authentication required|invalid username/i);
  });

  it.runIf(hostsMode)('records a push as an Image and a tag event, and serves it back', async () => {
    await copyTo(`${host}/demo/app:v1`, 'developer');
    const custom = kubeConfigFor(cluster).makeApiClient(CustomObjectsApi);
    const stream = (await custom.getNamespacedCustomObject({
      group: 'image.openshift.io',
      version: 'v1',
      namespace: 'demo',
      plural: 'imagestreams',
      name: 'app',
    })) as {
      status: {
        publicDockerImageRepository: string;
        tags: Array<{ tag: string; items: Array<{ image: string; dockerImageReference: string }> }>;
      };
    };
    expect(stream.status.tags[0]?.tag).toBe('v1');
    expect(stream.status.tags[0]?.items[0]?.image).toBe(image.digest);
    expect(stream.status.tags[0]?.items[0]?.dockerImageReference).toBe(
      `${cluster.internalRegistry}/demo/app@${image.digest}`,
    );
    expect(stream.status.publicDockerImageRepository).toBe(`${host}/demo/app`);
    const stored = (await custom.getClusterCustomObject({
      group: 'image.openshift.io',
      version: 'v1',
      plural: 'images',
      name: image.digest,
    })) as {
      metadata: { annotations: Record<string, string> };
      dockerImageLayers: Array<{ name: string; size: number }>;
      dockerImageManifestMediaType: string;
      dockerImageMetadata: { Architecture: string };
    };
    expect(stored.metadata.annotations['openshift.io/image.managed']).toBe('true');
    expect(stored.dockerImageLayers).toEqual(
      image.manifests[0]?.layers.map((l) => ({ name: l.digest, size: l.size, mediaType: l.mediaType })),
    );
    expect(stored.dockerImageManifestMediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(stored.dockerImageMetadata.Architecture).toBe('amd64');

    // kubectl sees the same through the API
    const istag = await new Promise<string>((resolve, reject) => {
      execFile(
        requireBinary('kubectl'),
        [
          '--kubeconfig',
          cluster.users['viewer']?.kubeconfig ?? '',
          'get',
          'imagestreamtag',
          'app:v1',
          '-n',
          'demo',
          '-o',
          'jsonpath={.image.dockerImageReference}',
        ],
        { env: { ...process.env, HOME: workDir } },
        (error, stdout, stderr) => (error ? reject(new Error(stderr)) : resolve(stdout)),
      );
    });
    expect(istag).toBe(`${cluster.internalRegistry}/demo/app@${image.digest}`);

    const { stdout } = await runSkopeo([
      'inspect',
      '--raw',
      '--cert-dir',
      certDir,
      '--creds',
      creds('puller'),
      `docker://${host}/demo/app:v1`,
    ]);
    expect(`sha256:${createHash('sha256').update(stdout).digest('hex')}`).toBe(image.digest);

    // A full pull: every blob comes back through the route and verifies against its digest.
    const pulled = join(workDir, 'pulled');
    await runSkopeo([
      'copy',
      '--retry-times=0',
      '--src-cert-dir',
      certDir,
      '--src-creds',
      creds('puller'),
      `docker://${host}/demo/app:v1`,
      `oci:${pulled}:v1`,
    ]);
    const { stdout: local } = await runSkopeo(['inspect', '--raw', `oci:${pulled}:v1`]);
    expect(`sha256:${createHash('sha256').update(local).digest('hex')}`).toBe(image.digest);
  });

  it.runIf(hostsMode)(
    'denies pushes without push rights, to a missing namespace, and to a path that is not <project>/<image>',
    async () => {
      await expect(copyTo(`${host}/demo/app:viewer`, 'viewer')).rejects.toThrow(
        /denied|authentication required|unauthorized/i,
      );
      await expect(copyTo(`${host}/no-such-project/app:v1`, 'kubeadmin')).rejects.toThrow(
        /denied|authentication required|unauthorized/i,
      );
      await expect(copyTo(`${host}/demo/team/app:v1`, 'kubeadmin')).rejects.toThrow(
        /denied|authentication required|unauthorized/i,
      );
    },
  );

  it.runIf(hostsMode)(
    'refuses manifest deletes while a stream references the digest (405), then deletes links and blobs for the pruner',
    async () => {
      const auth = { Authorization: `Bearer ${cluster.users['pruner']?.token ?? ''}` };
      const base = `https://${host}`;
      const referenced = await httpRequest(`${base}/v2/demo/app/manifests/${image.digest}`, {
        method: 'DELETE',
        caPem: cluster.ingressCaPem,
        headers: auth,
      });
      expect(referenced.status).toBe(405);
      expect(JSON.parse(referenced.body.toString())).toMatchObject({ errors: [{ code: 'UNSUPPORTED' }] });
      const asDeveloper = await httpRequest(`${base}/v2/demo/app/manifests/${image.digest}`, {
        method: 'DELETE',
        caPem: cluster.ingressCaPem,
        headers: { Authorization: `Bearer ${cluster.users['developer']?.token ?? ''}` },
      });
      expect(asDeveloper.status).toBe(401);

      const deleteTag = await httpRequest(
        `${cluster.apiServer}/apis/image.openshift.io/v1/namespaces/demo/imagestreamtags/app:v1`,
        {
          method: 'DELETE',
          caPem: cluster.apiCaPem,
          headers: { Authorization: `Bearer ${cluster.users['kubeadmin']?.token ?? ''}` },
        },
      );
      expect(deleteTag.status).toBe(200);
      const unreferenced = await httpRequest(`${base}/v2/demo/app/manifests/${image.digest}`, {
        method: 'DELETE',
        caPem: cluster.ingressCaPem,
        headers: auth,
      });
      expect(unreferenced.status).toBe(202);

      const layer = image.manifests[0]?.layers[0]?.digest ?? '';
      const link = await httpRequest(`${base}/v2/demo/app/blobs/${layer}`, {
        method: 'DELETE',
        caPem: cluster.ingressCaPem,
        headers: auth,
      });
      expect(link.status).toBe(202);
      const hex = layer.slice(7);
      const blobDir = join(
        cluster.registryStorageDir,
        'docker/registry/v2/blobs/sha256',
        hex.slice(0, 2),
        hex,
      );
      expect(existsSync(blobDir)).toBe(true);
      const blob = await httpRequest(`${base}/admin/blobs/${layer}`, {
        method: 'DELETE',
        caPem: cluster.ingressCaPem,
        headers: auth,
      });
      expect(blob.status).toBe(204);
      expect(existsSync(blobDir)).toBe(false);
    },
  );

  it.runIf(hostsMode)('rejects pushes and deletes while read-only', async () => {
    const custom = kubeConfigFor(cluster).makeApiClient(CustomObjectsApi);
    const config = {
      group: 'imageregistry.operator.openshift.io',
      version: 'v1',
      plural: 'configs',
      name: 'cluster',
    };
    await custom.patchClusterCustomObject({ ...config, body: { spec: { readOnly: true } } }, merge);
    try {
      await expect(copyTo(`${host}/demo/app:ro`, 'developer')).rejects.toThrow(/unsupported|405|read-only/i);
    } finally {
      await custom.patchClusterCustomObject({ ...config, body: { spec: { readOnly: null } } }, merge);
    }
  });

  it.runIf(hostsMode)('records multi-arch pushes: the index is tagged, every child is an Image', async () => {
    const multi = await buildOciImage({
      outDir: join(workDir, 'multi'),
      layerSize: 4096,
      seed: 'sim-multi',
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
      ],
    });
    await runSkopeo([
      'copy',
      '--all',
      '--retry-times=0',
      '--dest-cert-dir',
      certDir,
      '--dest-creds',
      creds('developer'),
      `oci:${multi.layoutDir}:latest`,
      `docker://${host}/demo/multi:v1`,
    ]);
    const custom = kubeConfigFor(cluster).makeApiClient(CustomObjectsApi);
    const index = (await custom.getClusterCustomObject({
      group: 'image.openshift.io',
      version: 'v1',
      plural: 'images',
      name: multi.digest,
    })) as {
      dockerImageManifests: Array<{ digest: string; architecture: string }>;
    };
    expect(index.dockerImageManifests.map((m) => m.architecture)).toEqual(['amd64', 'arm64']);
    for (const child of multi.manifests) {
      await custom.getClusterCustomObject({
        group: 'image.openshift.io',
        version: 'v1',
        plural: 'images',
        name: child.digest,
      });
    }
  });

  it.runIf(hostsMode)('serves metrics to cluster admins only', async () => {
    const admin = await httpRequest(`https://${host}/extensions/v2/metrics`, {
      caPem: cluster.ingressCaPem,
      headers: { Authorization: `Bearer ${cluster.users['kubeadmin']?.token ?? ''}` },
    });
    expect(admin.status).toBe(200);
    expect(admin.body.toString()).toMatch(/imageregistry_http_requests_total\{code="201",method="put"\} \d+/);
    const developer = await httpRequest(`https://${host}/extensions/v2/metrics`, {
      caPem: cluster.ingressCaPem,
      headers: { Authorization: `Bearer ${cluster.users['developer']?.token ?? ''}` },
    });
    expect(developer.status).toBe(401);
  });
});

describe('router modes', () => {
  it('serves routes on a port of its own when asked (no /etc/hosts entries)', async () => {
    const portCluster = await startCluster({ routerMode: 'port', defaultRoute: true });
    try {
      expect(portCluster.routerMode).toBe('port');
      expect(portCluster.routerAddress).toMatch(/^127\.0\.0\.1:\d+$/);
      const routeHost = `default-route-openshift-image-registry.${portCluster.appsDomain}`;
      const answer = await eventually(async () => {
        const r = await httpRequest(`https://${portCluster.routerAddress}/v2/`, {
          caPem: portCluster.ingressCaPem,
          servername: routeHost,
          headers: {
            Host: routeHost,
            Authorization: `Bearer ${portCluster.users['developer']?.token ?? ''}`,
          },
        });
        return r.status === 503 ? undefined : r;
      });
      expect(answer.status).toBe(200);
    } finally {
      await portCluster.stop();
    }
  });

  it.runIf(hostsMode)(
    'lets several simulators share /etc/hosts and removes only their own lines',
    async () => {
      const { lookup } = await import('node:dns/promises');
      const { readFile } = await import('node:fs/promises');
      const other = await startCluster({ defaultRoute: true });
      const otherHost = `default-route-openshift-image-registry.${other.appsDomain}`;
      try {
        const mine = await eventually(async () => lookup(host).catch(() => undefined));
        const theirs = await eventually(async () => lookup(otherHost).catch(() => undefined));
        expect(mine.address).toBe(cluster.routerAddress.split(':')[0]);
        expect(theirs.address).toBe(other.routerAddress.split(':')[0]);
        expect(mine.address).not.toBe(theirs.address);
      } finally {
        await other.stop();
      }
      const hosts = await readFile('/etc/hosts', 'utf8');
      expect(hosts).not.toContain(otherHost);
      expect(hosts).toContain(host);
    },
  );
});
