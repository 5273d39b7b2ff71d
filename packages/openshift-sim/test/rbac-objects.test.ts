// RBAC through the API: ServiceAccounts and their TokenRequest tokens, Roles, ClusterRoles, RoleBindings
// and ClusterRoleBindings validated as kube validates them, and enforced by the authorizer for the API and
// the registry: verbs, groups, subresources, resourceNames, scope and wildcards, nothing more.
import { httpRequest } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authorizer, ruleAllows, type PolicyRule } from '../src/api/rbac.js';
import { startCluster, type RunningCluster } from '../src/index.js';
import { raw } from './helpers.js';

let cluster: RunningCluster;
beforeAll(async () => {
  cluster = await startCluster({ namespaces: ['team-a', 'team-b'] });
});
afterAll(async () => {
  await cluster.stop();
});

const RBAC = '/apis/rbac.authorization.k8s.io/v1';

async function create(path: string, body: Record<string, unknown>, user = 'kubeadmin') {
  return raw(cluster, 'POST', path, { user, body });
}

async function serviceAccount(namespace: string, name: string): Promise<void> {
  const made = await create(`/api/v1/namespaces/${namespace}/serviceaccounts`, {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name },
  });
  expect(made.status, JSON.stringify(made.json)).toBe(201);
}

async function tokenFor(
  namespace: string,
  name: string,
  spec: Record<string, unknown> = {},
): Promise<string> {
  const answer = await create(`/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec,
  });
  expect(answer.status, JSON.stringify(answer.json)).toBe(201);
  return (answer.json['status'] as { token: string }).token;
}

const as = (token: string, method: string, path: string, body?: unknown) =>
  raw(cluster, method, path, { token, ...(body !== undefined ? { body } : {}) });

function binding(
  kind: 'RoleBinding' | 'ClusterRoleBinding',
  name: string,
  roleRef: Record<string, unknown> | undefined,
  subjects: unknown[],
): Record<string, unknown> {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind,
    metadata: { name },
    ...(roleRef !== undefined ? { roleRef } : {}),
    subjects,
  };
}

const roleRef = (kind: string, name: string) => ({ apiGroup: 'rbac.authorization.k8s.io', kind, name });

describe('RBAC objects', () => {
  it('are in discovery and the OpenAPI index, with the token subresource of service accounts', async () => {
    const core = await raw(cluster, 'GET', '/api/v1');
    const resources = core.json['resources'] as Array<Record<string, unknown>>;
    expect(resources.find((r) => r['name'] === 'serviceaccounts')).toMatchObject({
      kind: 'ServiceAccount',
      namespaced: true,
      shortNames: ['sa'],
    });
    expect(resources.find((r) => r['name'] === 'serviceaccounts/token')).toMatchObject({
      group: 'authentication.k8s.io',
      version: 'v1',
      kind: 'TokenRequest',
      verbs: ['create'],
    });
    const rbac = await raw(cluster, 'GET', RBAC);
    expect(
      (rbac.json['resources'] as Array<Record<string, unknown>>).map((r) => [r['name'], r['namespaced']]),
    ).toEqual([
      ['roles', true],
      ['clusterroles', false],
      ['rolebindings', true],
      ['clusterrolebindings', false],
    ]);
    const index = await raw(cluster, 'GET', '/openapi/v3');
    expect(Object.keys(index.json['paths'] as object)).toContain('apis/rbac.authorization.k8s.io/v1');
  });

  it('gives every namespace its default ServiceAccount', async () => {
    for (const ns of ['demo', 'team-a', 'default']) {
      expect((await raw(cluster, 'GET', `/api/v1/namespaces/${ns}/serviceaccounts/default`)).status).toBe(
        200,
      );
    }
  });

  it('serves the bootstrap roles as ClusterRoles', async () => {
    const pruner = await raw(cluster, 'GET', `${RBAC}/clusterroles/system:image-pruner`);
    expect(pruner.status).toBe(200);
    expect(pruner.json['rules']).toContainEqual({
      apiGroups: ['image.openshift.io'],
      resources: ['imagestreams/status'],
      verbs: ['update'],
    });
    const names = (
      (await raw(cluster, 'GET', `${RBAC}/clusterroles`)).json['items'] as Array<{
        metadata: { name: string };
      }>
    ).map((i) => i.metadata.name);
    expect(names).toEqual(
      expect.arrayContaining(['cluster-admin', 'admin', 'edit', 'view', 'system:image-builder']),
    );
  });

  it('rejects rules and bindings a real API server rejects', async () => {
    const noVerbs = await create(`${RBAC}/namespaces/team-a/roles`, {
      metadata: { name: 'bad' },
      rules: [
        { apiGroups: [''], resources: ['pods'], verbs: [] },
        { resources: ['pods'], verbs: ['get'] },
      ],
    });
    expect(noVerbs.status).toBe(422);
    expect(noVerbs.json['details']).toMatchObject({
      causes: [
        { field: 'rules[0].verbs', message: 'verbs must contain at least one value' },
        { field: 'rules[1].apiGroups', message: 'resource rules must supply at least one api group' },
      ],
    });
    const urls = await create(`${RBAC}/namespaces/team-a/roles`, {
      metadata: { name: 'urls' },
      rules: [{ nonResourceURLs: ['/metrics'], verbs: ['get'] }],
    });
    expect(urls.status).toBe(422);
    expect(urls.json['message']).toContain('namespaced rules cannot apply to non-resource URLs');
    expect(
      (
        await create(`${RBAC}/clusterroles`, {
          metadata: { name: 'urls-ok' },
          rules: [{ nonResourceURLs: ['/metrics'], verbs: ['get'] }],
        })
      ).status,
    ).toBe(201);

    const noRef = await create(
      `${RBAC}/namespaces/team-a/rolebindings`,
      binding('RoleBinding', 'x', undefined, []),
    );
    expect(noRef.status).toBe(422);
    expect((noRef.json['details'] as { causes: unknown[] }).causes).toEqual([
      {
        reason: 'FieldValueNotSupported',
        message: 'Unsupported value: "": supported values: "rbac.authorization.k8s.io"',
        field: 'roleRef.apiGroup',
      },
      {
        reason: 'FieldValueNotSupported',
        message: 'Unsupported value: "": supported values: "Role", "ClusterRole"',
        field: 'roleRef.kind',
      },
      { reason: 'FieldValueRequired', message: 'Required value', field: 'roleRef.name' },
    ]);
    const roleInCluster = await create(
      `${RBAC}/clusterrolebindings`,
      binding('ClusterRoleBinding', 'x', roleRef('Role', 'r'), []),
    );
    expect(roleInCluster.json['message']).toContain(
      'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"',
    );
    const subjects = await create(
      `${RBAC}/clusterrolebindings`,
      binding('ClusterRoleBinding', 'x', roleRef('ClusterRole', 'view'), [
        { kind: 'Robot', name: 'r2' },
        { kind: 'ServiceAccount', name: 'sa' },
        { kind: 'User', name: 'u' },
      ]),
    );
    expect(subjects.status).toBe(422);
    expect(
      (subjects.json['details'] as { causes: Array<{ field: string }> }).causes.map((c) => c.field),
    ).toEqual(['subjects[0].kind', 'subjects[1].namespace', 'subjects[2].apiGroup']);

    const made = await create(
      `${RBAC}/namespaces/team-a/rolebindings`,
      binding('RoleBinding', 'fixed', roleRef('ClusterRole', 'view'), []),
    );
    expect(made.status).toBe(201);
    const moved = await raw(cluster, 'PUT', `${RBAC}/namespaces/team-a/rolebindings/fixed`, {
      body: { ...made.json, roleRef: roleRef('ClusterRole', 'edit') },
    });
    expect(moved.status).toBe(422);
    expect(moved.json['message']).toContain(
      'roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"edit"}: cannot change roleRef',
    );
  });

  it('lets a user grant only what they hold (no escalation), as kube does', async () => {
    // developer is admin of demo: a Role of rights it holds is fine, one with more is refused.
    const own = await create(
      `${RBAC}/namespaces/demo/roles`,
      {
        metadata: { name: 'cm-get' },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }],
      },
      'developer',
    );
    expect(own.status, JSON.stringify(own.json)).toBe(201);
    const more = await create(
      `${RBAC}/namespaces/demo/roles`,
      {
        metadata: { name: 'image-deleter' },
        rules: [
          { apiGroups: ['image.openshift.io'], resources: ['images', 'imagestreams'], verbs: ['delete'] },
        ],
      },
      'developer',
    );
    expect(more.status).toBe(403);
    expect(more.json).toMatchObject({
      reason: 'Forbidden',
      details: { name: 'image-deleter', group: 'rbac.authorization.k8s.io', kind: 'roles' },
    });
    expect(more.json['message']).toBe(
      'roles.rbac.authorization.k8s.io "image-deleter" is forbidden: user "developer" (groups=["system:authenticated" "system:authenticated:oauth"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:["image.openshift.io"], Resources:["images"], Verbs:["delete"]}',
    );
    // Binding: edit (which admin holds) in demo yes; the image pruner's role no; a missing role is 404.
    const sa = [{ kind: 'ServiceAccount', name: 'default', namespace: 'demo' }];
    expect(
      (
        await create(
          `${RBAC}/namespaces/demo/rolebindings`,
          binding('RoleBinding', 'editors', roleRef('ClusterRole', 'edit'), sa),
          'developer',
        )
      ).status,
    ).toBe(201);
    const pruner = await create(
      `${RBAC}/namespaces/demo/rolebindings`,
      binding('RoleBinding', 'pruners', roleRef('ClusterRole', 'system:image-pruner'), sa),
      'developer',
    );
    expect(pruner.status).toBe(403);
    expect(pruner.json['message']).toContain(
      'rolebindings.rbac.authorization.k8s.io "pruners" is forbidden: user "developer"',
    );
    expect(pruner.json['message']).toContain(
      '{APIGroups:["image.openshift.io"], Resources:["images"], Verbs:["delete"]}',
    );
    expect(
      (
        await create(
          `${RBAC}/namespaces/demo/rolebindings`,
          binding('RoleBinding', 'ghost', roleRef('ClusterRole', 'no-such-role'), sa),
          'developer',
        )
      ).status,
    ).toBe(404);
    // The cluster admin may grant anything, including to others.
    expect(
      (
        await create(
          `${RBAC}/namespaces/demo/rolebindings`,
          binding('RoleBinding', 'pruners', roleRef('ClusterRole', 'system:image-pruner'), sa),
        )
      ).status,
    ).toBe(201);
  });

  it('issues tokens for existing service accounts, bound to them and to the API audience', async () => {
    await serviceAccount('team-a', 'bot');
    const token = await tokenFor('team-a', 'bot');
    const [, payload] = token.split('.');
    expect(JSON.parse(Buffer.from(payload ?? '', 'base64url').toString())).toMatchObject({
      sub: 'system:serviceaccount:team-a:bot',
      aud: ['https://kubernetes.default.svc'],
      'kubernetes.io': { namespace: 'team-a', serviceaccount: { name: 'bot' } },
    });
    const me = await as(token, 'GET', '/apis/user.openshift.io/v1/users/~');
    expect(me.json).toMatchObject({ metadata: { name: 'system:serviceaccount:team-a:bot' } });

    const short = await create('/api/v1/namespaces/team-a/serviceaccounts/bot/token', {
      kind: 'TokenRequest',
      spec: { expirationSeconds: 60 },
    });
    expect(short.status).toBe(422);
    expect(short.json['message']).toContain('may not specify a duration less than 10 minutes');
    expect(
      (await create('/api/v1/namespaces/team-a/serviceaccounts/ghost/token', { kind: 'TokenRequest' }))
        .status,
    ).toBe(404);
    // The viewer of demo may not mint tokens there.
    await serviceAccount('demo', 'bot');
    expect(
      (await create('/api/v1/namespaces/demo/serviceaccounts/bot/token', { kind: 'TokenRequest' }, 'viewer'))
        .status,
    ).toBe(403);

    // Another audience is not the API's; a forged signature is nobody.
    const elsewhere = await tokenFor('team-a', 'bot', { audiences: ['vault'] });
    expect((await as(elsewhere, 'GET', '/apis/user.openshift.io/v1/users/~')).status).toBe(401);
    const forged = `${token.slice(0, token.lastIndexOf('.'))}.${Buffer.from('x').toString('base64url')}`;
    expect((await as(forged, 'GET', '/apis/user.openshift.io/v1/users/~')).status).toBe(401);

    // Deleting the account ends its tokens, and a new account of the same name does not revive them.
    expect((await raw(cluster, 'DELETE', '/api/v1/namespaces/team-a/serviceaccounts/bot')).status).toBe(200);
    expect((await as(token, 'GET', '/apis/user.openshift.io/v1/users/~')).status).toBe(401);
    await serviceAccount('team-a', 'bot');
    expect((await as(token, 'GET', '/apis/user.openshift.io/v1/users/~')).status).toBe(401);
  });

  it('allows a service account exactly what its bindings grant', async () => {
    await serviceAccount('team-a', 'worker');
    const token = await tokenFor('team-a', 'worker');
    const subject = { kind: 'ServiceAccount', name: 'worker', namespace: 'team-a' };
    const cm = (ns: string, name = '') =>
      `/api/v1/namespaces/${ns}/configmaps${name === '' ? '' : `/${name}`}`;
    for (const ns of ['team-a', 'team-b'])
      for (const name of ['one', 'two'])
        expect((await create(cm(ns), { metadata: { name }, data: { k: ns } })).status).toBe(201);

    // Nothing bound yet: 403 with kube's message and Status.
    const denied = await as(token, 'GET', cm('team-a', 'one'));
    expect(denied.status).toBe(403);
    expect(denied.json).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason: 'Forbidden',
      code: 403,
      message:
        'configmaps "one" is forbidden: User "system:serviceaccount:team-a:worker" cannot get resource "configmaps" in API group "" in the namespace "team-a"',
      details: { name: 'one', kind: 'configmaps' },
    });

    // A Role in team-a: get of one named ConfigMap, list/watch of it by field selector.
    expect(
      (
        await create(`${RBAC}/namespaces/team-a/roles`, {
          metadata: { name: 'one-cm' },
          rules: [
            { apiGroups: [''], resources: ['configmaps'], resourceNames: ['one'], verbs: ['get', 'list'] },
          ],
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await create(
          `${RBAC}/namespaces/team-a/rolebindings`,
          binding('RoleBinding', 'one-cm', roleRef('Role', 'one-cm'), [
            { kind: 'ServiceAccount', name: 'worker' },
          ]),
        )
      ).status,
    ).toBe(201);
    expect((await as(token, 'GET', cm('team-a', 'one'))).status).toBe(200);
    expect((await as(token, 'GET', cm('team-a', 'two'))).status).toBe(403);
    expect((await as(token, 'GET', cm('team-a'))).status).toBe(403);
    expect((await as(token, 'GET', `${cm('team-a')}?fieldSelector=metadata.name%3Done`)).status).toBe(200);
    expect((await as(token, 'GET', `${cm('team-a')}?fieldSelector=metadata.name%3Dtwo`)).status).toBe(403);
    expect((await as(token, 'DELETE', cm('team-a', 'one'))).status).toBe(403);
    // Namespaced: nothing in team-b, nothing cluster-wide.
    expect((await as(token, 'GET', cm('team-b', 'one'))).status).toBe(403);
    expect((await as(token, 'GET', '/api/v1/configmaps')).status).toBe(403);

    // A ClusterRole bound by a RoleBinding grants only in the binding's namespace.
    expect(
      (
        await create(`${RBAC}/clusterroles`, {
          metadata: { name: 'cm-reader' },
          rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await create(
          `${RBAC}/namespaces/team-b/rolebindings`,
          binding('RoleBinding', 'reader', roleRef('ClusterRole', 'cm-reader'), [subject]),
        )
      ).status,
    ).toBe(201);
    expect((await as(token, 'GET', cm('team-b', 'two'))).status).toBe(200);
    expect((await as(token, 'GET', cm('team-a', 'two'))).status).toBe(403);
    expect((await as(token, 'GET', '/api/v1/configmaps')).status).toBe(403);

    // Bound cluster-wide, through the group of the namespace's service accounts.
    expect(
      (
        await create(
          `${RBAC}/clusterrolebindings`,
          binding('ClusterRoleBinding', 'team-a-readers', roleRef('ClusterRole', 'cm-reader'), [
            { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:serviceaccounts:team-a' },
          ]),
        )
      ).status,
    ).toBe(201);
    expect((await as(token, 'GET', '/api/v1/configmaps')).status).toBe(200);
    expect((await as(token, 'GET', cm('team-a', 'two'))).status).toBe(200);
    // Removing the binding takes it away at once.
    expect((await raw(cluster, 'DELETE', `${RBAC}/clusterrolebindings/team-a-readers`)).status).toBe(200);
    expect((await as(token, 'GET', '/api/v1/configmaps')).status).toBe(403);

    // A binding to a role that does not exist grants nothing (and is accepted, as in kube).
    expect(
      (
        await create(
          `${RBAC}/clusterrolebindings`,
          binding('ClusterRoleBinding', 'dangling', roleRef('ClusterRole', 'not-there'), [subject]),
        )
      ).status,
    ).toBe(201);
    expect((await as(token, 'GET', '/api/v1/configmaps')).status).toBe(403);
  });

  it('matches subresources, */subresource and wildcards as kube does', async () => {
    await serviceAccount('team-b', 'streams');
    const token = await tokenFor('team-b', 'streams');
    const subject = { kind: 'ServiceAccount', name: 'streams', namespace: 'team-b' };
    expect(
      (
        await create(`${RBAC}/clusterroles`, {
          metadata: { name: 'stream-status' },
          rules: [
            { apiGroups: ['image.openshift.io'], resources: ['imagestreams/status'], verbs: ['update'] },
            { apiGroups: ['*'], resources: ['*/status'], verbs: ['get'] },
            { apiGroups: ['apps'], resources: ['*'], verbs: ['*'] },
          ],
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await create(
          `${RBAC}/clusterrolebindings`,
          binding('ClusterRoleBinding', 'stream-status', roleRef('ClusterRole', 'stream-status'), [subject]),
        )
      ).status,
    ).toBe(201);
    const stream = await create('/apis/image.openshift.io/v1/namespaces/team-b/imagestreams', {
      metadata: { name: 'app' },
    });
    expect(stream.status).toBe(201);
    const path = '/apis/image.openshift.io/v1/namespaces/team-b/imagestreams/app';
    expect((await as(token, 'GET', `${path}/status`)).status).toBe(200);
    expect((await as(token, 'GET', path)).status).toBe(403);
    const current = (await as(token, 'GET', `${path}/status`)).json;
    expect((await as(token, 'PUT', `${path}/status`, current)).status).toBe(200);
    expect((await as(token, 'PUT', path, current)).status).toBe(403);
    expect((await as(token, 'GET', '/apis/apps/v1/namespaces/team-a/deployments')).status).toBe(200);
    expect((await as(token, 'GET', '/apis/batch/v1/namespaces/team-a/jobs')).status).toBe(403);
  });

  it('lets the registry take a service-account token with the rights of its bindings', async () => {
    await serviceAccount('team-b', 'puller');
    const token = await tokenFor('team-b', 'puller');
    const registry = (bearer: string) =>
      httpRequest(`https://${cluster.registryServiceAddress}/v2/team-b/app/tags/list`, {
        headers: { Authorization: `Bearer ${bearer}` },
        caPem: cluster.serviceCaPem,
        servername: 'image-registry.openshift-image-registry.svc',
      });
    expect((await registry(token)).status).toBe(401);
    expect(
      (
        await create(
          `${RBAC}/namespaces/team-b/rolebindings`,
          binding('RoleBinding', 'puller', roleRef('ClusterRole', 'system:image-puller'), [
            { kind: 'ServiceAccount', name: 'puller' },
          ]),
        )
      ).status,
    ).toBe(201);
    expect((await registry(token)).status).toBe(200);
  });
});

describe('Authorizer rule matching', () => {
  const rule = (r: Partial<PolicyRule>): PolicyRule => ({ apiGroups: [''], resources: [], verbs: [], ...r });
  it('follows kube: exact and */sub resources, empty resourceNames mean any name', () => {
    const attrs = { verb: 'get', group: '', resource: 'pods/log', namespace: 'n', name: 'p' };
    expect(ruleAllows(rule({ resources: ['pods'], verbs: ['get'] }), attrs)).toBe(false);
    expect(ruleAllows(rule({ resources: ['pods/log'], verbs: ['get'] }), attrs)).toBe(true);
    expect(ruleAllows(rule({ resources: ['*/log'], verbs: ['get'] }), attrs)).toBe(true);
    expect(ruleAllows(rule({ resources: ['*/status'], verbs: ['get'] }), attrs)).toBe(false);
    expect(ruleAllows(rule({ resources: ['pods/log'], verbs: ['*'], resourceNames: [] }), attrs)).toBe(true);
    expect(ruleAllows(rule({ resources: ['pods/log'], verbs: ['get'], resourceNames: ['q'] }), attrs)).toBe(
      false,
    );
    expect(ruleAllows(rule({ apiGroups: ['apps'], resources: ['*'], verbs: ['*'] }), attrs)).toBe(false);
  });

  it('asks the stored rules only for what the code bindings do not allow, with the request namespace', () => {
    const asked: string[] = [];
    const authorizer = new Authorizer((subject, namespace) => {
      asked.push(`${subject.name}@${namespace}`);
      return subject.name === 'sa' ? [[rule({ resources: ['secrets'], verbs: ['list'] })]] : [];
    });
    authorizer.bind({ role: 'cluster-admin', user: 'admin' });
    const list = { verb: 'list', group: '', resource: 'secrets', namespace: 'x' };
    expect(authorizer.allows({ name: 'admin', groups: [] }, list)).toBe(true);
    expect(authorizer.allows({ name: 'sa', groups: [] }, list)).toBe(true);
    expect(authorizer.allows({ name: 'other', groups: [] }, list)).toBe(false);
    expect(authorizer.allows({ name: 'sa', groups: [] }, { ...list, verb: 'get' })).toBe(false);
    expect(asked).toEqual(['sa@x', 'other@x', 'sa@x']);
  });
});
