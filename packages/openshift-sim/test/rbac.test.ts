// Who may do what, and how a refusal reads.
import {
  AuthorizationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RunningCluster } from '../src/index.js';
import { failure, kubeConfigFor, raw } from './helpers.js';

let cluster: RunningCluster;
beforeAll(async () => {
  cluster = await startCluster({
    users: [
      { name: 'pruner', roles: [{ role: 'system:image-pruner' }] },
      { name: 'builder', roles: [{ role: 'system:image-builder', namespace: 'demo' }] },
    ],
  });
});
afterAll(async () => {
  await cluster.stop();
});

describe('RBAC', () => {
  it("forbids with kube's message format", async () => {
    const core = kubeConfigFor(cluster, 'developer').makeApiClient(CoreV1Api);
    const denied = await failure(core.listNamespacedSecret({ namespace: 'kube-system' }));
    expect(denied.code).toBe(403);
    expect(denied.status['message']).toBe(
      'secrets is forbidden: User "developer" cannot list resource "secrets" in API group "" in the namespace "kube-system"',
    );
    const custom = kubeConfigFor(cluster, 'developer').makeApiClient(CustomObjectsApi);
    const cluster403 = await failure(
      custom.getClusterCustomObject({
        group: 'imageregistry.operator.openshift.io',
        version: 'v1',
        plural: 'configs',
        name: 'cluster',
      }),
    );
    expect(cluster403.status['message']).toBe(
      'configs.imageregistry.operator.openshift.io "cluster" is forbidden: User "developer" cannot get resource "configs" in API group "imageregistry.operator.openshift.io" at the cluster scope',
    );
  });

  it('lets viewers read but not write, and admins write in their namespace only', async () => {
    const viewer = kubeConfigFor(cluster, 'viewer').makeApiClient(CoreV1Api);
    await viewer.listNamespacedConfigMap({ namespace: 'demo' });
    expect(
      (
        await failure(
          viewer.createNamespacedConfigMap({ namespace: 'demo', body: { metadata: { name: 'v' } } }),
        )
      ).code,
    ).toBe(403);
    expect((await failure(viewer.readNamespacedSecret({ namespace: 'demo', name: 'x' }))).code).toBe(403);
    const developer = kubeConfigFor(cluster, 'developer').makeApiClient(CoreV1Api);
    await developer.createNamespacedConfigMap({ namespace: 'demo', body: { metadata: { name: 'dev' } } });
    expect(
      (
        await failure(
          developer.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'dev' } } }),
        )
      ).code,
    ).toBe(403);
  });

  it('gives the image pruner exactly the operator role: reads of image users, image deletes, PUT of stream status', async () => {
    const custom = kubeConfigFor(cluster, 'pruner').makeApiClient(CustomObjectsApi);
    await custom.listClusterCustomObject({ group: 'image.openshift.io', version: 'v1', plural: 'images' });
    const registryConfig = await failure(
      custom.getClusterCustomObject({
        group: 'imageregistry.operator.openshift.io',
        version: 'v1',
        plural: 'configs',
        name: 'cluster',
      }),
    );
    expect(registryConfig.code).toBe(403);
    const authz = kubeConfigFor(cluster, 'pruner').makeApiClient(AuthorizationV1Api);
    const can = async (verb: string, resource: string, subresource?: string): Promise<boolean | undefined> =>
      (
        await authz.createSelfSubjectAccessReview({
          body: {
            spec: {
              resourceAttributes: {
                group: 'image.openshift.io',
                verb,
                resource,
                namespace: 'demo',
                ...(subresource ? { subresource } : {}),
              },
            },
          },
        })
      ).status?.allowed;
    expect(await can('update', 'imagestreams', 'status')).toBe(true);
    expect(await can('patch', 'imagestreams', 'status')).toBe(false);
    expect(await can('delete', 'imagestreams')).toBe(false);
    const core = kubeConfigFor(cluster, 'pruner').makeApiClient(CoreV1Api);
    await core.listPodForAllNamespaces();
    expect(
      (
        await failure(
          core.createNamespacedConfigMap({ namespace: 'demo', body: { metadata: { name: 'p' } } }),
        )
      ).code,
    ).toBe(403);
  });

  it('answers SelfSubjectAccessReviews and users/~ for the caller', async () => {
    const authz = kubeConfigFor(cluster, 'builder').makeApiClient(AuthorizationV1Api);
    const review = (spec: { verb: string; resource: string; subresource?: string; namespace: string }) =>
      authz.createSelfSubjectAccessReview({
        body: { spec: { resourceAttributes: { group: 'image.openshift.io', ...spec } } },
      });
    expect(
      (await review({ verb: 'update', resource: 'imagestreams', subresource: 'layers', namespace: 'demo' }))
        .status?.allowed,
    ).toBe(true);
    expect(
      (
        await review({
          verb: 'update',
          resource: 'imagestreams',
          subresource: 'layers',
          namespace: 'default',
        })
      ).status?.allowed,
    ).toBe(false);
    expect(
      (await review({ verb: 'delete', resource: 'imagestreams', namespace: 'demo' })).status?.allowed,
    ).toBe(false);
    const me = await raw(cluster, 'GET', '/apis/user.openshift.io/v1/users/~', { user: 'builder' });
    expect(me.json).toMatchObject({ kind: 'User', metadata: { name: 'builder' } });
  });

  it('rejects anonymous requests and unknown tokens', async () => {
    expect((await raw(cluster, 'GET', '/api/v1/namespaces/demo/pods', { user: null })).status).toBe(403);
    expect((await raw(cluster, 'GET', '/apis', { user: null })).status).toBe(403);
    expect((await raw(cluster, 'GET', '/version', { user: null })).status).toBe(200);
    expect(
      (await raw(cluster, 'GET', '/api/v1/namespaces/demo/pods', { token: 'sha256~forged' })).status,
    ).toBe(401);
  });

  it('generates route hosts, and lets a project admin set one explicitly', async () => {
    const custom = kubeConfigFor(cluster, 'developer').makeApiClient(CustomObjectsApi);
    const route = (name: string, spec: Record<string, unknown>) =>
      custom.createNamespacedCustomObject({
        group: 'route.openshift.io',
        version: 'v1',
        namespace: 'demo',
        plural: 'routes',
        body: { metadata: { name }, spec: { to: { kind: 'Service', name: 's' }, ...spec } },
      }) as Promise<{
        metadata: { annotations?: Record<string, string> };
        spec: { host: string; wildcardPolicy: string; to: { weight: number } };
      }>;
    const generated = await route('gen.one', {});
    expect(generated.spec.host).toBe(`gen-one-demo.${cluster.appsDomain}`);
    expect(generated.metadata.annotations?.['openshift.io/host.generated']).toBe('true');
    expect(generated.spec).toMatchObject({ wildcardPolicy: 'None', to: { weight: 100 } });
    const explicit = await route('explicit', { host: 'registry.example.test' });
    expect(explicit.spec.host).toBe('registry.example.test');
    expect(explicit.metadata.annotations?.['openshift.io/host.generated']).toBeUndefined();
    // Changing a host later needs update on routes/custom-host, which project admins do not have.
    const moved = await failure(
      custom.patchNamespacedCustomObject(
        {
          group: 'route.openshift.io',
          version: 'v1',
          namespace: 'demo',
          plural: 'routes',
          name: 'explicit',
          body: { spec: { host: 'elsewhere.example.test' } },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    );
    expect(moved.code).toBe(422);
    expect(JSON.stringify(moved.status)).toContain('field is immutable');
  });

  it('answers 401 to a token once it expired', async () => {
    const expiring = await cluster.addUser({
      name: 'expiring',
      roles: [{ role: 'edit', namespace: 'demo' }],
    });
    expect(
      (await raw(cluster, 'GET', '/apis/user.openshift.io/v1/users/~', { user: 'expiring' })).status,
    ).toBe(200);
    cluster.expireToken('expiring');
    expect(
      (await raw(cluster, 'GET', '/apis/user.openshift.io/v1/users/~', { token: expiring.token })).status,
    ).toBe(401);
    expect(() => cluster.expireToken('nobody')).toThrow(/unknown user/);
  });
});
