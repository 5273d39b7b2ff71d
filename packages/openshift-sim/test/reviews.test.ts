// TokenReview and SubjectAccessReview as kube-apiserver answers them: discovery, the caller's own right to
// create them (system:auth-delegator), the review echoed with its status, upstream's validation, and the
// simulator's RBAC deciding for the reviewed subject, with the binding that allowed it as the reason.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { makeWorkDir, removeWorkDir, requireBinary } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RunningCluster } from '../src/index.js';
import { raw } from './helpers.js';

const TOKEN_REVIEWS = '/apis/authentication.k8s.io/v1/tokenreviews';
const SUBJECT_ACCESS_REVIEWS = '/apis/authorization.k8s.io/v1/subjectaccessreviews';
const RBAC = '/apis/rbac.authorization.k8s.io/v1';

let cluster: RunningCluster;
let workDir: string;
let kubectlPath: string;

beforeAll(async () => {
  kubectlPath = requireBinary('kubectl');
  workDir = await makeWorkDir('reviews-test');
  cluster = await startCluster({
    namespaces: ['team-a'],
    users: [
      { name: 'delegator', roles: [{ role: 'system:auth-delegator' }] },
      {
        name: 'custom-reader',
        roles: [],
        customRoles: [
          {
            rules: [
              {
                apiGroups: ['imageregistry.operator.openshift.io'],
                resources: ['imagepruners'],
                verbs: ['get'],
              },
            ],
          },
        ],
      },
    ],
  });
});
afterAll(async () => {
  await cluster.stop();
  await removeWorkDir(workDir);
});

/** `kubectl create -f - -o json` of `object` as `user`: the object the server answered. */
async function kubectlCreate(object: unknown, user: string): Promise<Record<string, unknown>> {
  const kubeconfig = cluster.users[user]?.kubeconfig ?? '';
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = execFile(
      kubectlPath,
      ['--kubeconfig', kubeconfig, 'create', '-f', '-', '-o', 'json'],
      { env: { ...process.env, KUBECACHEDIR: join(workDir, 'cache'), HOME: workDir }, timeout: 60_000 },
      (error, out, stderr) => (error ? reject(new Error(`kubectl failed: ${stderr}`)) : resolve(out)),
    );
    child.stdin?.end(JSON.stringify(object));
  });
  return JSON.parse(stdout) as Record<string, unknown>;
}

const tokenReview = (token: string, audiences?: string[]) => ({
  apiVersion: 'authentication.k8s.io/v1',
  kind: 'TokenReview',
  spec: { token, ...(audiences !== undefined ? { audiences } : {}) },
});

const sar = (spec: Record<string, unknown>, metadata?: Record<string, unknown>) => ({
  apiVersion: 'authorization.k8s.io/v1',
  kind: 'SubjectAccessReview',
  ...(metadata !== undefined ? { metadata } : {}),
  spec,
});

const imagePrunerAttrs = (verb: string) => ({
  verb,
  group: 'imageregistry.operator.openshift.io',
  resource: 'imagepruners',
  name: 'cluster',
});

async function post(path: string, body: unknown, user = 'delegator') {
  return raw(cluster, 'POST', path, { user, body });
}

describe('discovery', () => {
  it('lists tokenreviews and subjectaccessreviews, cluster-scoped, with the verb create only', async () => {
    const authn = await raw(cluster, 'GET', '/apis/authentication.k8s.io/v1');
    expect(authn.status).toBe(200);
    expect(authn.json['resources']).toContainEqual({
      name: 'tokenreviews',
      singularName: 'tokenreview',
      namespaced: false,
      kind: 'TokenReview',
      verbs: ['create'],
    });
    const authz = await raw(cluster, 'GET', '/apis/authorization.k8s.io/v1');
    expect(authz.json['resources']).toContainEqual({
      name: 'subjectaccessreviews',
      singularName: 'subjectaccessreview',
      namespaced: false,
      kind: 'SubjectAccessReview',
      verbs: ['create'],
    });
  });
});

describe('the caller needs create on the review kinds', () => {
  it('refuses a caller without them with 403 Forbidden, as for any resource', async () => {
    const token = await post(TOKEN_REVIEWS, tokenReview('x'), 'developer');
    expect(token.status).toBe(403);
    expect(token.json).toMatchObject({
      kind: 'Status',
      reason: 'Forbidden',
      code: 403,
      message:
        'tokenreviews.authentication.k8s.io is forbidden: User "developer" cannot create resource "tokenreviews" in API group "authentication.k8s.io" at the cluster scope',
    });
    const access = await post(SUBJECT_ACCESS_REVIEWS, sar({ user: 'x', resourceAttributes: {} }), 'viewer');
    expect(access.status).toBe(403);
    expect(access.json['message']).toBe(
      'subjectaccessreviews.authorization.k8s.io is forbidden: User "viewer" cannot create resource "subjectaccessreviews" in API group "authorization.k8s.io" at the cluster scope',
    );
  });

  it('serves system:auth-delegator as a ClusterRole a stored binding can grant to a ServiceAccount', async () => {
    const role = await raw(cluster, 'GET', `${RBAC}/clusterroles/system:auth-delegator`);
    expect(role.status).toBe(200);
    expect(role.json['rules']).toEqual([
      { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
      { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
    ]);
    const account = await post(
      '/api/v1/namespaces/team-a/serviceaccounts',
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'dashboard' } },
      'kubeadmin',
    );
    expect(account.status).toBe(201);
    const issued = await post(
      '/api/v1/namespaces/team-a/serviceaccounts/dashboard/token',
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} },
      'kubeadmin',
    );
    const saToken = (issued.json['status'] as { token: string }).token;
    const asAccount = () =>
      raw(cluster, 'POST', TOKEN_REVIEWS, { token: saToken, body: tokenReview('unknown') });
    expect((await asAccount()).status).toBe(403);
    const bound = await post(
      `${RBAC}/clusterrolebindings`,
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'dashboard-auth-delegator' },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: 'system:auth-delegator',
        },
        subjects: [{ kind: 'ServiceAccount', name: 'dashboard', namespace: 'team-a' }],
      },
      'kubeadmin',
    );
    expect(bound.status).toBe(201);
    expect((await asAccount()).status).toBe(201);
  });
});

describe('TokenReview', () => {
  it('authenticates a user token (kubectl create): username, uid, groups and the API audience', async () => {
    const token = cluster.users['viewer']?.token ?? '';
    const review = await kubectlCreate(tokenReview(token), 'delegator');
    expect(review).toMatchObject({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      metadata: { creationTimestamp: null },
      spec: { token },
      status: {
        authenticated: true,
        user: {
          username: 'viewer',
          groups: ['system:authenticated', 'system:authenticated:oauth'],
        },
        audiences: ['https://kubernetes.default.svc'],
      },
    });
    const user = (review['status'] as { user: { uid?: string } }).user;
    expect(user.uid).toMatch(/^[0-9a-f-]{36}$/);
    // The same user, the same uid.
    const again = await post(TOKEN_REVIEWS, tokenReview(token));
    expect((again.json['status'] as { user: { uid?: string } }).user.uid).toBe(user.uid);
  });

  it('reports the audiences asked for, which a user token is valid for', async () => {
    const token = cluster.users['developer']?.token ?? '';
    const review = await post(TOKEN_REVIEWS, tokenReview(token, ['registry-pruner']));
    expect(review.status).toBe(201);
    expect(review.json['status']).toMatchObject({
      authenticated: true,
      user: { username: 'developer' },
      audiences: ['registry-pruner'],
    });
  });

  it('answers an unknown token with authenticated unset and an error, not an HTTP error', async () => {
    const review = await post(TOKEN_REVIEWS, tokenReview('sha256~not-a-token'));
    expect(review.status).toBe(201);
    expect(review.json['status']).toEqual({ user: {}, error: 'invalid bearer token' });
    expect(review.json['spec']).toEqual({ token: 'sha256~not-a-token' });
  });

  it('refuses an empty token with 400, as upstream', async () => {
    const review = await post(TOKEN_REVIEWS, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: {},
    });
    expect(review.status).toBe(400);
    expect(review.json).toMatchObject({
      reason: 'BadRequest',
      message: 'token is required for TokenReview in authentication',
    });
  });

  it('authenticates a ServiceAccount token for the API audience only, and not once the account is gone', async () => {
    await post(
      '/api/v1/namespaces/team-a/serviceaccounts',
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'short-lived' } },
      'kubeadmin',
    );
    const issued = await post(
      '/api/v1/namespaces/team-a/serviceaccounts/short-lived/token',
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} },
      'kubeadmin',
    );
    const saToken = (issued.json['status'] as { token: string }).token;
    const account = await raw(cluster, 'GET', '/api/v1/namespaces/team-a/serviceaccounts/short-lived');
    const uid = (account.json['metadata'] as { uid: string }).uid;
    const valid = await post(TOKEN_REVIEWS, tokenReview(saToken));
    expect(valid.json['status']).toEqual({
      authenticated: true,
      user: {
        username: 'system:serviceaccount:team-a:short-lived',
        uid,
        groups: ['system:serviceaccounts', 'system:serviceaccounts:team-a', 'system:authenticated'],
      },
      audiences: ['https://kubernetes.default.svc'],
    });
    const otherAudience = await post(TOKEN_REVIEWS, tokenReview(saToken, ['registry-pruner']));
    expect(otherAudience.json['status']).toMatchObject({ user: {} });
    expect((otherAudience.json['status'] as Record<string, unknown>)['authenticated']).toBeUndefined();
    expect((otherAudience.json['status'] as { error: string }).error).toContain(
      'invalid for the target audiences',
    );
    await raw(cluster, 'DELETE', '/api/v1/namespaces/team-a/serviceaccounts/short-lived');
    const gone = await post(TOKEN_REVIEWS, tokenReview(saToken));
    expect(gone.json['status']).toEqual({ user: {}, error: 'invalid bearer token' });
  });
});

describe('SubjectAccessReview', () => {
  it('allows by the subject’s bindings (kubectl create), naming the binding as kube’s RBAC does', async () => {
    const review = await kubectlCreate(
      sar({ user: 'viewer', resourceAttributes: { namespace: 'demo', verb: 'list', resource: 'pods' } }),
      'delegator',
    );
    expect(review).toMatchObject({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      metadata: { creationTimestamp: null },
      spec: { user: 'viewer', resourceAttributes: { namespace: 'demo', verb: 'list', resource: 'pods' } },
      status: {
        allowed: true,
        reason: 'RBAC: allowed by RoleBinding "view-viewer/demo" of ClusterRole "view" to User "viewer"',
      },
    });
  });

  it('refuses without denied and without a reason: RBAC has no opinion, it never denies', async () => {
    const review = await post(
      SUBJECT_ACCESS_REVIEWS,
      sar({ user: 'viewer', resourceAttributes: { namespace: 'team-a', verb: 'list', resource: 'pods' } }),
    );
    expect(review.status).toBe(201);
    expect(review.json['status']).toEqual({ allowed: false });
  });

  it('decides for the ImagePruner by stored bindings, verb and resourceNames', async () => {
    const made = await post(
      `${RBAC}/clusterroles`,
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'imagepruner-reader' },
        rules: [
          {
            apiGroups: ['imageregistry.operator.openshift.io'],
            resources: ['imagepruners'],
            resourceNames: ['cluster'],
            verbs: ['get'],
          },
        ],
      },
      'kubeadmin',
    );
    expect(made.status).toBe(201);
    const bound = await post(
      `${RBAC}/clusterrolebindings`,
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'pruner-readers' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'imagepruner-reader' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'auditors' }],
      },
      'kubeadmin',
    );
    expect(bound.status).toBe(201);
    const ask = async (verb: string, name = 'cluster') =>
      (
        await post(
          SUBJECT_ACCESS_REVIEWS,
          sar({
            user: 'alice',
            groups: ['auditors'],
            resourceAttributes: { ...imagePrunerAttrs(verb), name },
          }),
        )
      ).json['status'];
    expect(await ask('get')).toEqual({
      allowed: true,
      reason:
        'RBAC: allowed by ClusterRoleBinding "pruner-readers" of ClusterRole "imagepruner-reader" to Group "auditors"',
    });
    expect(await ask('update')).toEqual({ allowed: false });
    expect(await ask('get', 'other')).toEqual({ allowed: false });
  });

  it('names the bindings made in code (a user’s own rules) after the user', async () => {
    const review = await post(
      SUBJECT_ACCESS_REVIEWS,
      sar({ user: 'custom-reader', resourceAttributes: imagePrunerAttrs('get') }),
    );
    expect(review.json['status']).toEqual({
      allowed: true,
      reason:
        'RBAC: allowed by ClusterRoleBinding "custom-reader-custom" of ClusterRole "custom-reader-custom" to User "custom-reader"',
    });
  });

  it('uses the groups given, and no others (system:authenticated is not implied)', async () => {
    const masters = await post(
      SUBJECT_ACCESS_REVIEWS,
      sar({ groups: ['system:masters'], resourceAttributes: imagePrunerAttrs('update') }),
    );
    expect(masters.json['status']).toEqual({
      allowed: true,
      reason:
        'RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to Group "system:masters"',
    });
    const selfReview = {
      verb: 'create',
      group: 'authorization.k8s.io',
      resource: 'selfsubjectaccessreviews',
    };
    const bare = await post(SUBJECT_ACCESS_REVIEWS, sar({ user: 'someone', resourceAttributes: selfReview }));
    expect(bare.json['status']).toEqual({ allowed: false });
    const authenticated = await post(
      SUBJECT_ACCESS_REVIEWS,
      sar({ user: 'someone', groups: ['system:authenticated'], resourceAttributes: selfReview }),
    );
    expect((authenticated.json['status'] as { allowed: boolean }).allowed).toBe(true);
  });

  it('leaves SelfSubjectAccessReview answering for the caller, through the same route', async () => {
    const self = (verb: string) =>
      raw(cluster, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
        user: 'viewer',
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: { resourceAttributes: { namespace: 'demo', verb, resource: 'pods' } },
        },
      });
    const list = await self('list');
    expect(list.status).toBe(201);
    expect((list.json['status'] as { allowed: boolean }).allowed).toBe(true);
    expect((await self('delete')).json['status']).toEqual({ allowed: false });
  });

  it('answers nonResourceAttributes from nonResourceURLs rules', async () => {
    const metrics = { path: '/metrics', verb: 'get' };
    const admin = await post(
      SUBJECT_ACCESS_REVIEWS,
      sar({ user: 'kubeadmin', nonResourceAttributes: metrics }),
    );
    expect(admin.json['status']).toEqual({
      allowed: true,
      reason:
        'RBAC: allowed by ClusterRoleBinding "cluster-admin-kubeadmin" of ClusterRole "cluster-admin" to User "kubeadmin"',
    });
    const viewer = await post(
      SUBJECT_ACCESS_REVIEWS,
      sar({ user: 'viewer', nonResourceAttributes: metrics }),
    );
    expect(viewer.json['status']).toEqual({ allowed: false });
  });

  it('is 422 Invalid with upstream’s field paths for a malformed spec', async () => {
    const neither = await post(SUBJECT_ACCESS_REVIEWS, sar({ user: 'viewer' }));
    expect(neither.status).toBe(422);
    expect(neither.json).toMatchObject({
      reason: 'Invalid',
      message:
        'SubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified',
      details: {
        group: 'authorization.k8s.io',
        kind: 'SubjectAccessReview',
        causes: [
          {
            reason: 'FieldValueInvalid',
            message:
              'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified',
            field: 'spec.resourceAttributes',
          },
        ],
      },
    });
    const both = await post(
      SUBJECT_ACCESS_REVIEWS,
      sar({ resourceAttributes: { verb: 'get' }, nonResourceAttributes: { path: '/', verb: 'get' } }),
    );
    expect(both.status).toBe(422);
    const fields = (both.json['details'] as { causes: Array<{ field: string }> }).causes.map((c) => c.field);
    expect(fields).toEqual(['spec.nonResourceAttributes', 'spec.user']);
    expect(both.json['message']).toContain(
      'spec.nonResourceAttributes: Invalid value: authorization.NonResourceAttributes{Path:"/", Verb:"get"}: cannot be specified in combination with resourceAttributes',
    );
    expect(both.json['message']).toContain(
      'spec.user: Invalid value: "": at least one of user or group must be specified',
    );
    const named = await post(
      SUBJECT_ACCESS_REVIEWS,
      sar({ user: 'viewer', resourceAttributes: { verb: 'get' } }, { name: 'mine' }),
    );
    expect(named.status).toBe(422);
    expect((named.json['details'] as { causes: Array<{ field: string }> }).causes[0]?.field).toBe('metadata');
    // Zero values are empty metadata, as Go compares them (client-node sends `name: ''`).
    const zero = await post(
      SUBJECT_ACCESS_REVIEWS,
      sar({ user: 'viewer', resourceAttributes: { verb: 'get' } }, { name: '', creationTimestamp: null }),
    );
    expect(zero.status).toBe(201);
  });
});
