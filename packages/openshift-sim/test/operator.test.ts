// The registry and ingress operators' behaviour as a client observes it.
import { X509Certificate } from 'node:crypto';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RunningCluster } from '../src/index.js';
import { eventually, failure, kubeConfigFor } from './helpers.js';

const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const REGISTRY = { group: 'imageregistry.operator.openshift.io', version: 'v1' };
const ROUTES = {
  group: 'route.openshift.io',
  version: 'v1',
  namespace: 'openshift-image-registry',
  plural: 'routes',
};

interface Condition {
  type: string;
  status: string;
  reason?: string;
}
interface RouteObject {
  metadata: { annotations?: Record<string, string> };
  spec: {
    host: string;
    tls?: { termination: string; certificate?: string };
    to: { name: string; weight: number };
  };
  status?: { ingress?: Array<{ host: string; routerName: string; conditions: Condition[] }> };
}

describe('registry operator', () => {
  let cluster: RunningCluster;
  let custom: CustomObjectsApi;
  beforeAll(async () => {
    cluster = await startCluster({ routeAdmissionDelayMs: 50 });
    custom = kubeConfigFor(cluster).makeApiClient(CustomObjectsApi);
  });
  afterAll(async () => {
    await cluster.stop();
  });

  const config = async (): Promise<{
    spec: Record<string, unknown>;
    status: { conditions: Condition[]; readyReplicas: number };
  }> => (await custom.getClusterCustomObject({ ...REGISTRY, plural: 'configs', name: 'cluster' })) as never;
  const condition = (conditions: Condition[], type: string): Condition | undefined =>
    conditions.find((c) => c.type === type);
  const route = async (name: string): Promise<RouteObject | undefined> => {
    try {
      return (await custom.getNamespacedCustomObject({ ...ROUTES, name })) as RouteObject;
    } catch {
      return undefined;
    }
  };

  it('bootstraps configs/cluster, imagepruners/cluster and the ingress objects with the real defaults', async () => {
    const c = await config();
    expect(c.spec).toMatchObject({
      managementState: 'Managed',
      logLevel: 'Normal',
      operatorLogLevel: 'Normal',
      replicas: 1,
      storage: { emptyDir: {} },
    });
    expect(String(c.spec['httpSecret'])).toMatch(/^[0-9a-f]{128}$/);
    expect(c.spec['defaultRoute']).toBeUndefined();
    expect(condition(c.status.conditions, 'Available')).toMatchObject({ status: 'True', reason: 'Ready' });
    const pruner = (await custom.getClusterCustomObject({
      ...REGISTRY,
      plural: 'imagepruners',
      name: 'cluster',
    })) as { spec: Record<string, unknown> };
    expect(pruner.spec).toMatchObject({
      schedule: '',
      suspend: false,
      keepTagRevisions: 3,
      ignoreInvalidImageReferences: true,
      logLevel: 'Normal',
    });

    const core = kubeConfigFor(cluster).makeApiClient(CoreV1Api);
    const secret = await core.readNamespacedSecret({
      namespace: 'openshift-ingress',
      name: 'router-certs-default',
    });
    const chain = Buffer.from(secret.data?.['tls.crt'] ?? '', 'base64').toString();
    expect(chain.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    const leaf = new X509Certificate(chain);
    expect(leaf.checkHost(`anything.${cluster.appsDomain}`)).toBeDefined();
    const bundle = await core.readNamespacedConfigMap({
      namespace: 'openshift-config-managed',
      name: 'default-ingress-cert',
    });
    expect(bundle.data?.['ca-bundle.crt']).toBe(chain);
    expect(leaf.checkIssued(new X509Certificate(cluster.ingressCaPem))).toBe(true);
  });

  it('creates default-route when defaultRoute is turned on, admits it, and publishes its host', async () => {
    await custom.patchClusterCustomObject(
      { ...REGISTRY, plural: 'configs', name: 'cluster', body: { spec: { defaultRoute: true } } },
      merge,
    );
    const host = `default-route-openshift-image-registry.${cluster.appsDomain}`;
    const admitted = await eventually(async () => {
      const r = await route('default-route');
      const ok = r?.status?.ingress?.[0]?.conditions.some(
        (c) => c.type === 'Admitted' && c.status === 'True',
      );
      return ok ? r : undefined;
    });
    expect(admitted.spec).toMatchObject({
      host,
      tls: { termination: 'reencrypt' },
      to: { name: 'image-registry', weight: 100 },
    });
    expect(admitted.metadata.annotations).toMatchObject({
      'imageregistry.openshift.io': 'true',
      'openshift.io/host.generated': 'true',
    });
    expect(admitted.status?.ingress?.[0]).toMatchObject({ host, routerName: 'default' });
    const imageConfig = await eventually(async () => {
      const c = (await custom.getClusterCustomObject({
        group: 'config.openshift.io',
        version: 'v1',
        plural: 'images',
        name: 'cluster',
      })) as {
        status?: { externalRegistryHostnames?: string[]; internalRegistryHostname?: string };
      };
      return c.status?.externalRegistryHostnames ? c : undefined;
    });
    expect(imageConfig.status).toEqual({
      internalRegistryHostname: cluster.internalRegistry,
      externalRegistryHostnames: [host],
    });
  });

  it('creates custom routes from spec.routes with the TLS secret, and deletes what is turned off', async () => {
    const core = kubeConfigFor(cluster).makeApiClient(CoreV1Api);
    await core.createNamespacedSecret({
      namespace: 'openshift-image-registry',
      body: {
        metadata: { name: 'public-route-tls' },
        type: 'kubernetes.io/tls',
        data: {
          'tls.crt': Buffer.from('CERT').toString('base64'),
          'tls.key': Buffer.from('KEY').toString('base64'),
        },
      },
    });
    await custom.patchClusterCustomObject(
      {
        ...REGISTRY,
        plural: 'configs',
        name: 'cluster',
        body: {
          spec: {
            defaultRoute: false,
            routes: [
              { name: 'public', hostname: `registry.${cluster.appsDomain}`, secretName: 'public-route-tls' },
            ],
          },
        },
      },
      merge,
    );
    const publicRoute = await eventually(async () => {
      const r = await route('public');
      return r?.status?.ingress ? r : undefined;
    });
    expect(publicRoute.spec.host).toBe(`registry.${cluster.appsDomain}`);
    expect(publicRoute.spec.tls?.certificate).toBe('CERT');
    await eventually(async () => ((await route('default-route')) === undefined ? true : undefined));
  });

  it('tears routes and the deployment down when Removed, and brings them back when Managed', async () => {
    await custom.patchClusterCustomObject(
      {
        ...REGISTRY,
        plural: 'configs',
        name: 'cluster',
        body: { spec: { managementState: 'Removed', defaultRoute: true } },
      },
      merge,
    );
    const removed = await eventually(async () => {
      const c = await config();
      return condition(c.status.conditions, 'Removed')?.status === 'True' ? c : undefined;
    });
    expect(condition(removed.status.conditions, 'Available')).toMatchObject({
      status: 'True',
      reason: 'Removed',
    });
    expect(removed.status.readyReplicas).toBe(0);
    const core = kubeConfigFor(cluster).makeApiClient(CoreV1Api);
    expect(
      (
        await failure(
          core.readNamespacedService({ namespace: 'openshift-image-registry', name: 'image-registry' }),
        )
      ).code,
    ).toBe(404);
    const imageConfig = (await custom.getClusterCustomObject({
      group: 'config.openshift.io',
      version: 'v1',
      plural: 'images',
      name: 'cluster',
    })) as {
      status?: { internalRegistryHostname?: string };
    };
    expect(imageConfig.status?.internalRegistryHostname).toBeUndefined();
    expect(await route('public')).toBeUndefined();
    expect(await route('default-route')).toBeUndefined();

    await custom.patchClusterCustomObject(
      { ...REGISTRY, plural: 'configs', name: 'cluster', body: { spec: { managementState: 'Managed' } } },
      merge,
    );
    await eventually(async () => ((await route('default-route'))?.status?.ingress ? true : undefined));
    const managed = await config();
    expect(condition(managed.status.conditions, 'Removed')?.status).toBe('False');
    expect(managed.status.readyReplicas).toBe(1);
  });

  it('rejects a second route claiming an admitted host (HostAlreadyClaimed)', async () => {
    const host = `default-route-openshift-image-registry.${cluster.appsDomain}`;
    await custom.createNamespacedCustomObject({
      group: 'route.openshift.io',
      version: 'v1',
      namespace: 'demo',
      plural: 'routes',
      body: { metadata: { name: 'thief' }, spec: { host, to: { kind: 'Service', name: 'x' } } },
    });
    const thief = await eventually(async () => {
      const r = (await custom.getNamespacedCustomObject({
        group: 'route.openshift.io',
        version: 'v1',
        namespace: 'demo',
        plural: 'routes',
        name: 'thief',
      })) as RouteObject;
      return r.status?.ingress ? r : undefined;
    });
    expect(thief.status?.ingress?.[0]?.conditions[0]).toMatchObject({
      type: 'Admitted',
      status: 'False',
      reason: 'HostAlreadyClaimed',
    });
    // Once the older route is gone, the displaced one gets the host.
    await custom.patchClusterCustomObject(
      { ...REGISTRY, plural: 'configs', name: 'cluster', body: { spec: { defaultRoute: false } } },
      merge,
    );
    await eventually(async () => {
      const r = (await custom.getNamespacedCustomObject({
        group: 'route.openshift.io',
        version: 'v1',
        namespace: 'demo',
        plural: 'routes',
        name: 'thief',
      })) as RouteObject;
      return r.status?.ingress?.[0]?.conditions.some((c) => c.type === 'Admitted' && c.status === 'True')
        ? true
        : undefined;
    });
  });
});

describe('cluster options', () => {
  it('starts Removed without storage, read-only, or with a custom default certificate', async () => {
    const cluster = await startCluster({ storage: 'none', readOnly: true, customDefaultCertificate: true });
    try {
      const custom = kubeConfigFor(cluster).makeApiClient(CustomObjectsApi);
      const c = (await custom.getClusterCustomObject({
        ...REGISTRY,
        plural: 'configs',
        name: 'cluster',
      })) as { spec: Record<string, unknown> };
      expect(c.spec).toMatchObject({ managementState: 'Removed', readOnly: true, storage: {} });
      const core = kubeConfigFor(cluster).makeApiClient(CoreV1Api);
      expect(
        (
          await failure(
            core.readNamespacedSecret({ namespace: 'openshift-ingress', name: 'router-certs-default' }),
          )
        ).code,
      ).toBe(404);
      const controller = (await custom.getNamespacedCustomObject({
        group: 'operator.openshift.io',
        version: 'v1',
        namespace: 'openshift-ingress-operator',
        plural: 'ingresscontrollers',
        name: 'default',
      })) as { spec: { defaultCertificate?: { name: string } }; status: { domain: string } };
      expect(controller.spec.defaultCertificate?.name).toBe('custom-default-certificate');
      expect(controller.status.domain).toBe(cluster.appsDomain);
      const bundle = await core.readNamespacedConfigMap({
        namespace: 'openshift-config-managed',
        name: 'default-ingress-cert',
      });
      const leaf = new X509Certificate(bundle.data?.['ca-bundle.crt'] ?? '');
      expect(leaf.checkIssued(new X509Certificate(cluster.ingressCaPem))).toBe(true);
    } finally {
      await cluster.stop();
    }
  });
});
