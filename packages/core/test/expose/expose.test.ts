import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { createCertificateAuthority } from '@registry-push/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClusterClient } from '../../src/cluster/client.js';
import { RegistryNames, Resources } from '../../src/cluster/resources.js';
import type { DataObject, RegistryConfig, Route } from '../../src/cluster/openshift-objects.js';
import { exposeRegistry, revertExpose, type ExposeChange } from '../../src/expose/expose.js';
import type { ExposeProgress } from '../../src/expose/route-admission.js';
import { failure } from '../failure.js';

const clients = (cluster: RunningCluster) => ({
  admin: ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig }),
  developer: ClusterClient.fromOptions({ kubeconfig: cluster.users.developer!.kubeconfig }),
  viewer: ClusterClient.fromOptions({ kubeconfig: cluster.users.viewer!.kubeconfig }),
});

const fast = { timeoutMs: 10_000, intervalMs: 50 };

describe('on a cluster whose registry is not exposed', () => {
  let cluster: RunningCluster;
  beforeAll(async () => {
    cluster = await startCluster({ routerMode: 'port', routeAdmissionDelayMs: 300 });
  });
  afterAll(async () => {
    await cluster.stop();
  });
  afterEach(async () => {
    await clients(cluster).admin.mergePatch(Resources.registryConfig, 'cluster', {
      spec: { defaultRoute: false, routes: null },
    });
  });

  it('a non-admin discovers nothing, changes nothing, and is told who can expose it', async () => {
    const { developer, admin } = clients(cluster);
    const before = await admin.get<RegistryConfig>(Resources.registryConfig, 'cluster');
    const error = await failure(exposeRegistry(developer, { mode: 'auto', namespace: 'demo', ...fast }));
    expect(error.code).toBe('REGISTRY_NOT_EXPOSED');
    expect(error.message).toMatch(/route default-route in openshift-image-registry: not allowed to read/);
    expect(error.hint).toMatch(/cluster-admin/);
    expect(error.hint).toMatch(/oc patch configs.imageregistry.operator.openshift.io\/cluster/);
    const after = await admin.get<RegistryConfig>(Resources.registryConfig, 'cluster');
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    // The dry-run probe stream was never stored.
    expect(await developer.list(Resources.imageStream, { namespace: 'demo' })).toEqual([]);
  });

  it('a developer pushing to a project that does not exist is told so, not that the registry is unexposed', async () => {
    const { admin, developer } = clients(cluster);
    for (const exposed of [false, true]) {
      if (exposed) await exposeRegistry(admin, { mode: 'default-route', ...fast });
      const error = await failure(
        exposeRegistry(developer, { mode: 'auto', namespace: 'no-such-project', ...fast }),
      );
      expect(error.code, `registry exposed: ${String(exposed)}`).toBe('PROJECT_NOT_FOUND');
      expect(error.message).toMatch(/project "no-such-project"/);
    }
    // The project is found through its image streams once it exists.
    const found = await exposeRegistry(developer, { mode: 'auto', namespace: 'demo', ...fast });
    expect(found.source).toBe('imagestream');
  });

  it('an admin in auto mode changes nothing for a project that does not exist', async () => {
    const { admin } = clients(cluster);
    const before = await admin.get<RegistryConfig>(Resources.registryConfig, 'cluster');
    const seen: ExposeChange[] = [];
    const error = await failure(
      exposeRegistry(admin, {
        mode: 'auto',
        namespace: 'no-such-project',
        ...fast,
        onChange: (c) => seen.push(c),
      }),
    );
    expect(error.code).toBe('PROJECT_NOT_FOUND');
    expect(seen).toEqual([]);
    const after = await admin.get<RegistryConfig>(Resources.registryConfig, 'cluster');
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  });

  it('a user without rights asking for a custom route gets the custom route fix, not the default route', async () => {
    const ca = await createCertificateAuthority('custom route hint CA');
    const hostname = `registry.${cluster.appsDomain}`;
    const leaf = await ca.issue({ commonName: hostname });
    const error = await failure(
      exposeRegistry(clients(cluster).developer, {
        mode: 'custom-route',
        route: { name: 'public-registry', hostname, certPem: leaf.certPem, keyPem: leaf.keyPem },
        ...fast,
      }),
    );
    expect(error.code).toBe('EXPOSE_FORBIDDEN');
    expect(error.hint).not.toMatch(/defaultRoute/);
    expect(error.hint).toMatch(/secrets in openshift-image-registry/);
    expect(error.hint).toContain('oc create secret tls public-route-tls');
    expect(error.hint).toContain(
      `"path":"/spec/routes/-","value":{"name":"public-registry","hostname":"${hostname}","secretName":"public-route-tls"}`,
    );
  });

  it('a user without patch rights asking for the default route gets the role to ask for', async () => {
    const error = await failure(
      exposeRegistry(clients(cluster).developer, { mode: 'default-route', ...fast }),
    );
    expect(error.code).toBe('EXPOSE_FORBIDDEN');
    expect(error.message).toMatch(/User "developer" may not get configs.imageregistry.operator.openshift.io/);
    expect(error.hint).toMatch(/needs cluster-admin/);
  });

  it('an admin enables the default route, waits for admission, and can revert it', async () => {
    const { admin, developer } = clients(cluster);
    const progress: ExposeProgress[] = [];
    const result = await exposeRegistry(admin, {
      mode: 'default-route',
      ...fast,
      onProgress: (event) => progress.push(event),
    });
    const host = `default-route-openshift-image-registry.${cluster.appsDomain}`;
    expect(result).toMatchObject({
      host,
      source: 'default-route',
      changes: [{ kind: 'default-route-enabled' }],
    });
    expect(progress.map((event) => event.step)).toContain('patch');
    // Whether a "waiting" line shows depends on timing; the admission itself is always reported.
    expect(progress.some((event) => event.step === 'route' && /admitted with host/.test(event.message))).toBe(
      true,
    );

    // Idempotent: nothing changes the second time.
    const again = await exposeRegistry(admin, { mode: 'default-route', ...fast });
    expect(again).toMatchObject({ host, changes: [] });

    // Now a non-admin finds it through an image stream's publicDockerImageRepository.
    const found = await exposeRegistry(developer, { mode: 'none', namespace: 'demo', ...fast });
    expect(found).toMatchObject({ host, source: 'imagestream', changes: [] });

    const reverted = await revertExpose(admin, result.changes);
    expect(reverted.failed).toEqual([]);
    expect(reverted.done).toEqual(['set spec.defaultRoute back to false']);
    const config = await admin.get<RegistryConfig>(Resources.registryConfig, 'cluster');
    expect(config.spec.defaultRoute).toBe(false);
  });

  it('auto mode patches only for a user who may, and only when nothing is exposed', async () => {
    const { admin } = clients(cluster);
    const first = await exposeRegistry(admin, { mode: 'auto', namespace: 'demo', ...fast });
    expect(first.source).toBe('default-route');
    expect(first.changes).toEqual([{ kind: 'default-route-enabled' }]);
    const second = await exposeRegistry(admin, { mode: 'auto', namespace: 'demo', ...fast });
    expect(second).toMatchObject({ source: 'route', changes: [] });
  });

  it('an admin adds a custom route with its own certificate, and revert removes exactly that', async () => {
    const { admin } = clients(cluster);
    const hostname = `registry.${cluster.appsDomain}`;
    const ca = await createCertificateAuthority('custom route CA');
    const leaf = await ca.issue({ commonName: hostname });
    const result = await exposeRegistry(admin, {
      mode: 'custom-route',
      route: {
        name: 'public-registry',
        hostname,
        certPem: leaf.certPem,
        keyPem: leaf.keyPem,
        caPem: ca.certPem,
      },
      ...fast,
    });
    expect(result.host).toBe(hostname);
    expect(result.changes.map((change) => change.kind)).toEqual(['secret-created', 'route-entry-set']);
    const secret = await admin.get<DataObject>(Resources.secret, 'public-route-tls', RegistryNames.namespace);
    expect(Buffer.from(secret.data!['tls.crt']!, 'base64').toString()).toBe(leaf.certPem);
    const route = await admin.get<Route>(Resources.route, 'public-registry', RegistryNames.namespace);
    expect(route.spec.tls?.certificate).toBe(leaf.certPem);

    const again = await exposeRegistry(admin, {
      mode: 'custom-route',
      route: {
        name: 'public-registry',
        hostname,
        certPem: leaf.certPem,
        keyPem: leaf.keyPem,
        caPem: ca.certPem,
      },
      ...fast,
    });
    expect(again.changes).toEqual([]);

    const reverted = await revertExpose(admin, result.changes);
    expect(reverted.failed).toEqual([]);
    expect(await admin.find(Resources.secret, 'public-route-tls', RegistryNames.namespace)).toBeUndefined();
    const config = await admin.get<RegistryConfig>(Resources.registryConfig, 'cluster');
    expect(config.spec.routes ?? []).toEqual([]);
  });

  it('refuses a certificate that does not fit the route before writing anything', async () => {
    const { admin } = clients(cluster);
    const ca = await createCertificateAuthority('wrong host CA');
    const leaf = await ca.issue({ commonName: 'elsewhere.example.com' });
    const other = await ca.issue({ commonName: `registry.${cluster.appsDomain}` });
    const hostname = `registry.${cluster.appsDomain}`;
    const wrongHost = await failure(
      exposeRegistry(admin, {
        mode: 'custom-route',
        route: { name: 'r', hostname, certPem: leaf.certPem, keyPem: leaf.keyPem },
        ...fast,
      }),
    );
    expect(wrongHost.message).toMatch(/not valid for registry\./);
    const wrongKey = await failure(
      exposeRegistry(admin, {
        mode: 'custom-route',
        route: { name: 'r', hostname, certPem: other.certPem, keyPem: leaf.keyPem },
        ...fast,
      }),
    );
    expect(wrongKey.message).toMatch(/does not belong/);
    expect(wrongKey.message).not.toContain('PRIVATE KEY');
    const reserved = await failure(
      exposeRegistry(admin, { mode: 'custom-route', route: { name: 'default-route', hostname }, ...fast }),
    );
    expect(reserved.code).toBe('OPTION_INVALID');
    expect(await admin.find(Resources.secret, 'public-route-tls', RegistryNames.namespace)).toBeUndefined();
  });

  it('reports a route no router admits, with the routers conditions', async () => {
    const { admin } = clients(cluster);
    const hostname = `taken.${cluster.appsDomain}`;
    await admin.create(Resources.route, {
      metadata: { name: 'squatter', namespace: 'demo' },
      spec: { host: hostname, to: { kind: 'Service', name: 'web' } },
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const error = await failure(
      exposeRegistry(admin, {
        mode: 'custom-route',
        route: { name: 'late', hostname },
        timeoutMs: 1500,
        intervalMs: 100,
      }),
    );
    expect(error.code).toBe('ROUTE_NOT_ADMITTED');
    expect(error.message).toMatch(/HostAlreadyClaimed/);
  });
});

describe('on clusters whose registry cannot serve', () => {
  const started: RunningCluster[] = [];
  afterAll(async () => {
    await Promise.all(started.map((cluster) => cluster.stop()));
  });
  const start = async (options: Parameters<typeof startCluster>[0]) => {
    const cluster = await startCluster({ routerMode: 'port', ...options });
    started.push(cluster);
    return clients(cluster);
  };

  it('quotes the operator advice when the registry is Removed', async () => {
    const { admin, developer } = await start({ managementState: 'Removed' });
    const error = await failure(exposeRegistry(admin, { mode: 'default-route', ...fast }));
    expect(error.code).toBe('REGISTRY_REMOVED');
    expect(error.message).toContain('Image Registry has been removed.');
    expect(error.hint).toMatch(/managementState/);
    // A non-admin cannot read the config, so it only learns nothing is exposed.
    expect(
      (await failure(exposeRegistry(developer, { mode: 'auto', namespace: 'demo', ...fast }))).code,
    ).toBe('REGISTRY_NOT_EXPOSED');
    // An admin in auto mode gets the precise reason.
    expect((await failure(exposeRegistry(admin, { mode: 'auto', namespace: 'demo', ...fast }))).code).toBe(
      'REGISTRY_REMOVED',
    );
  });

  it('says the operator ignores changes while Unmanaged', async () => {
    const { admin } = await start({ managementState: 'Unmanaged' });
    expect((await failure(exposeRegistry(admin, { mode: 'default-route', ...fast }))).code).toBe(
      'REGISTRY_UNMANAGED',
    );
  });

  it('says storage is missing when Managed without storage', async () => {
    const { admin } = await start({ storage: 'none' });
    await admin.mergePatch(Resources.registryConfig, 'cluster', { spec: { managementState: 'Managed' } });
    const error = await failure(exposeRegistry(admin, { mode: 'default-route', ...fast }));
    expect(error.code).toBe('STORAGE_NOT_CONFIGURED');
    expect(error.hint).toMatch(/emptydir/);
  });

  it('warns that a read-only registry will refuse pushes', async () => {
    const { admin } = await start({ readOnly: true });
    const result = await exposeRegistry(admin, { mode: 'default-route', ...fast });
    expect(result.warnings.join('\n')).toMatch(/read-only/);
  });

  it('also warns of a read-only registry when it only discovers the host', async () => {
    const { admin } = await start({ readOnly: true, defaultRoute: true });
    const result = await exposeRegistry(admin, { mode: 'none', ...fast });
    expect(result.changes).toEqual([]);
    expect(result.warnings.join('\n')).toMatch(/read-only/);
  });

  it('reports each change as it is made, so a route that is never admitted can still be reverted', async () => {
    const { admin } = await start({ routeAdmissionDelayMs: 60_000 });
    const seen: ExposeChange[] = [];
    const error = await failure(
      exposeRegistry(admin, {
        mode: 'default-route',
        timeoutMs: 400,
        intervalMs: 50,
        onChange: (c) => seen.push(c),
      }),
    );
    expect(error.code).toBe('ROUTE_NOT_ADMITTED');
    expect(seen).toEqual([{ kind: 'default-route-enabled' }]);
    const reverted = await revertExpose(admin, seen);
    expect(reverted.failed).toEqual([]);
    const config = await admin.get<RegistryConfig>(Resources.registryConfig, 'cluster');
    expect(config.spec.defaultRoute).not.toBe(true);
  });
});
