// The native push through openshift-sim's router and registry front: OpenShift's token realm, the
// ImageStream it creates, and the failures a CI user meets (no rights, wrong token, expired token,
// read-only registry).
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { buildOciImage, makeWorkDir, type BuiltImage } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterClient, type KubeObject } from '../../src/cluster/client.js';
import { Resources } from '../../src/cluster/resources.js';
import { registryLogin, registryLogout } from '../../src/login/login.js';
import { pushImage } from '../../src/push/push.js';
import { RegistryClient } from '../../src/registry/client.js';
import { failure } from '../failure.js';

let cluster: RunningCluster;
let work: string;
let image: BuiltImage;
let host: string;

function connection(user: string): {
  credentials: { kind: 'basic'; username: string; password: string };
  caPem: string;
  connectTo: string;
} {
  return {
    credentials: { kind: 'basic', username: 'ci', password: cluster.users[user]!.token },
    caPem: cluster.ingressCaPem,
    connectTo: cluster.routerAddress,
  };
}

beforeAll(async () => {
  cluster = await startCluster({ defaultRoute: true, routerMode: 'port' });
  host = `default-route-openshift-image-registry.${cluster.appsDomain}`;
  work = await makeWorkDir('core-push-openshift');
  image = await buildOciImage({
    outDir: join(work, 'image'),
    layers: 2,
    layerSize: 50_000,
    seed: 'openshift',
    tag: 'v1',
  });
});

afterAll(async () => {
  await cluster.stop();
  await rm(work, { recursive: true, force: true });
});

describe('pushing to the integrated registry', () => {
  it('a developer pushes through the route; the ImageStream tag points at the confirmed digest', async () => {
    const result = await pushImage({
      source: `oci:${image.layoutDir}`,
      target: `${host}/demo/app`,
      tags: ['v1', 'stable'],
      connection: connection('developer'),
    });
    expect(result.digest).toBe(image.digest);
    expect(result.internalRef).toBe(
      `image-registry.openshift-image-registry.svc:5000/demo/app@${image.digest}`,
    );
    const admin = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
    type Stream = KubeObject & { status?: { tags?: { tag: string; items?: { image: string }[] }[] } };
    const stream = await admin.get<Stream>(Resources.imageStream, 'app', 'demo');
    const tags = (stream.status?.tags ?? []).map((tag) => [tag.tag, tag.items?.[0]?.image]);
    expect(tags).toEqual(
      expect.arrayContaining([
        ['v1', image.digest],
        ['stable', image.digest],
      ]),
    );
  });

  it('registryLogin verifies the token against /v2/ through the OpenShift token realm', async () => {
    const login = await registryLogin({
      host,
      token: cluster.users.developer!.token,
      caPem: cluster.ingressCaPem,
      connectTo: cluster.routerAddress,
    });
    expect(login.verified).toBe(true);
    expect(await registryLogout(login)).toMatch(/removed the private auth directory/);
    expect(existsSync(dirname(login.entry.path))).toBe(false);
    const bad = await failure(
      registryLogin({
        host,
        token: 'sha256~' + 'Q'.repeat(43),
        caPem: cluster.ingressCaPem,
        connectTo: cluster.routerAddress,
      }),
    );
    expect(bad.code).toBe('TOKEN_REJECTED');
    expect(JSON.stringify(bad.toJSON())).not.toContain('Q'.repeat(43));
  });

  it('a viewer is told which role pushing needs', async () => {
    const error = await failure(
      pushImage({
        source: `oci:${image.layoutDir}`,
        target: `${host}/demo/viewer-app`,
        connection: connection('viewer'),
      }),
    );
    expect(error.code).toBe('REGISTRY_DENIED');
    expect(error.hint).toContain('oc policy add-role-to-user system:image-builder <user> -n demo');
  });

  it('a project that does not exist is refused', async () => {
    const error = await failure(
      pushImage({
        source: `oci:${image.layoutDir}`,
        target: `${host}/nowhere/app`,
        connection: connection('developer'),
      }),
    );
    expect(['REGISTRY_DENIED', 'REGISTRY_NAME_UNKNOWN']).toContain(error.code);
    expect(error.hint).toMatch(/project/);
  });

  it('a token that expires between two requests is reported as expired, not wrong', async () => {
    await cluster.addUser({ name: 'shortlived', roles: [{ role: 'edit', namespace: 'demo' }] });
    const client = new RegistryClient({ host, ...connection('shortlived') });
    try {
      await client.checkLogin();
      // The registry's token is the API token echoed back: it stops working with the API token, and the
      // client's trip back to the token realm is refused.
      cluster.expireToken('shortlived');
      const error = await failure(client.blobSize('demo/app', image.manifests[0]!.layers[0]!.digest));
      expect(error.code).toBe('TOKEN_EXPIRED');
      expect(error.message).toMatch(/accepted the token earlier/);
    } finally {
      await client.close();
    }
  });
});

describe('refusals the OpenShift registry answers alike (401, access denied)', () => {
  // The registry gives the same 401 to a refused permission and to a token it does not know; the client
  // tells them apart by asking /v2/ with the same credentials.
  it('an API token used as Bearer (as the pruner does) that may not read a project is REGISTRY_DENIED', async () => {
    const client = new RegistryClient({
      host,
      credentials: { kind: 'bearer', token: cluster.users.developer!.token },
      caPem: cluster.ingressCaPem,
      connectTo: cluster.routerAddress,
    });
    try {
      const error = await failure(client.getManifest('nowhere/app', 'v1'));
      expect(error.code).toBe('REGISTRY_DENIED');
      expect(error.message).toContain('did not allow you to read a manifest of nowhere/app');
      expect(error.hint).toContain('oc policy add-role-to-user system:image-puller <user> -n nowhere');
    } finally {
      await client.close();
    }
  });

  it('a Bearer token the cluster does not know is TOKEN_REJECTED, and not shown', async () => {
    const unknown = 'sha256~' + 'Z'.repeat(43);
    const client = new RegistryClient({
      host,
      credentials: { kind: 'bearer', token: unknown },
      caPem: cluster.ingressCaPem,
      connectTo: cluster.routerAddress,
    });
    try {
      const error = await failure(client.getManifest('demo/app', 'v1'));
      expect(error.code).toBe('TOKEN_REJECTED');
      expect(JSON.stringify(error.toJSON())).not.toContain('Z'.repeat(43));
    } finally {
      await client.close();
    }
  });

  it('a token that expires while its registry token for the scope is cached is TOKEN_EXPIRED', async () => {
    await cluster.addUser({ name: 'cached', roles: [{ role: 'edit', namespace: 'demo' }] });
    const client = new RegistryClient({ host, ...connection('cached') });
    const layer = image.manifests[0]!.layers[0]!.digest;
    try {
      expect(await client.blobSize('demo/app', layer)).toBeGreaterThan(0);
      cluster.expireToken('cached');
      // The same scope: the cached token goes out and meets the registry's `access denied`.
      const error = await failure(client.blobSize('demo/app', layer));
      expect(error.code).toBe('TOKEN_EXPIRED');
    } finally {
      await client.close();
    }
  });

  it('a developer who may push to demo is told which role reading another project needs', async () => {
    const client = new RegistryClient({ host, ...connection('developer') });
    try {
      await client.checkLogin();
      const error = await failure(client.listTags('kube-system/app'));
      expect(error.code).toBe('REGISTRY_DENIED');
      expect(error.hint).toContain('system:image-puller');
    } finally {
      await client.close();
    }
  });
});

describe('a read-only registry', () => {
  let readOnly: RunningCluster;
  beforeAll(async () => {
    readOnly = await startCluster({ defaultRoute: true, routerMode: 'port', readOnly: true });
  });
  afterAll(async () => {
    await readOnly.stop();
  });

  it('refuses the push with REGISTRY_READ_ONLY and names spec.readOnly', async () => {
    const error = await failure(
      pushImage({
        source: `oci:${image.layoutDir}`,
        target: `default-route-openshift-image-registry.${readOnly.appsDomain}/demo/app`,
        connection: {
          credentials: { kind: 'basic', username: 'ci', password: readOnly.users.developer!.token },
          caPem: readOnly.ingressCaPem,
          connectTo: readOnly.routerAddress,
        },
      }),
    );
    expect(error.code).toBe('REGISTRY_READ_ONLY');
    expect(error.hint).toContain('spec.readOnly');
  });
});
