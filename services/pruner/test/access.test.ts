// Dashboard access decided by the cluster: a TokenReview of the bearer token, then SubjectAccessReviews of
// `get` and `update` on the ImagePruner `cluster`, asked with the worker's credentials, against the
// simulator's TokenReview and SubjectAccessReview and its RBAC. The deploy manifests' ServiceAccount is
// applied as written and asks with its own token.
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClusterClient, Resources } from '@registry-push/core';
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { httpRequest, makeWorkDir, removeWorkDir, requireBinary } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessChecker, checkAccess, type AccessDecision } from '../src/access.js';
import { describeError, PrunerError } from '../src/errors.js';

const DEPLOY = join(dirname(fileURLToPath(import.meta.url)), '..', 'deploy');
const PRUNER_GROUP = 'imageregistry.operator.openshift.io';

let cluster: RunningCluster;
let workDir: string;
let worker: ClusterClient;

const clientWith = (token: string): ClusterClient =>
  ClusterClient.fromOptions({ server: cluster.apiServer, token, caPem: cluster.apiCaPem });
const tokenOf = (user: string): string => cluster.users[user]?.token ?? '';

beforeAll(async () => {
  workDir = await makeWorkDir('pruner-access');
  cluster = await startCluster({
    users: [
      // The worker, given what deploy/rbac.yaml gives its ServiceAccount for this.
      { name: 'dashboard-worker', roles: [{ role: 'system:auth-delegator' }] },
      { name: 'worker-without-delegation', roles: [{ role: 'system:image-pruner' }] },
      {
        name: 'pruner-viewer',
        roles: [],
        customRoles: [
          { rules: [{ apiGroups: [PRUNER_GROUP], resources: ['imagepruners'], verbs: ['get', 'list'] }] },
        ],
      },
      {
        name: 'pruner-admin',
        roles: [],
        customRoles: [
          {
            rules: [
              {
                apiGroups: [PRUNER_GROUP],
                resources: ['imagepruners'],
                resourceNames: ['cluster'],
                verbs: ['get', 'update'],
              },
            ],
          },
        ],
      },
      { name: 'nobody', roles: [] },
      { name: 'grantee', roles: [] },
    ],
  });
  worker = clientWith(tokenOf('dashboard-worker'));
});
afterAll(async () => {
  await worker?.close();
  await cluster?.stop();
  await removeWorkDir(workDir);
});

async function failureOf(promise: Promise<unknown>): Promise<PrunerError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof PrunerError)) throw new Error(`expected a PrunerError, got ${String(error)}`);
  return error;
}

describe('checkAccess', () => {
  it('lets a user with get on the ImagePruner read, not approve', async () => {
    expect(await checkAccess(worker, tokenOf('pruner-viewer'))).toEqual({
      user: 'pruner-viewer',
      canRead: true,
      canApprove: false,
    });
  });

  it('lets a user with update on the ImagePruner `cluster` approve', async () => {
    expect(await checkAccess(worker, tokenOf('pruner-admin'))).toEqual({
      user: 'pruner-admin',
      canRead: true,
      canApprove: true,
    });
  });

  it('names an authenticated user without rights and grants nothing', async () => {
    expect(await checkAccess(worker, tokenOf('nobody'))).toEqual({
      user: 'nobody',
      canRead: false,
      canApprove: false,
    });
    // A namespace admin has no right on the cluster-scoped CR either.
    expect(await checkAccess(worker, tokenOf('developer'))).toMatchObject({ canRead: false });
  });

  it('refuses an unknown or empty token with PRUNER_TOKEN_INVALID, never quoting it', async () => {
    const token = 'sha256~this-token-does-not-exist-on-the-cluster-at-all-xx';
    const unknown = await failureOf(checkAccess(worker, token));
    expect(unknown.code).toBe('PRUNER_TOKEN_INVALID');
    const line = describeError(unknown);
    expect(line).toBe(
      'The cluster did not accept the bearer token: it is unknown, expired or not for this cluster. Log in again and use a fresh token (`oc whoami -t`). [PRUNER_TOKEN_INVALID]',
    );
    expect(line).not.toContain('this-token');
    expect((await failureOf(checkAccess(worker, ''))).code).toBe('PRUNER_TOKEN_INVALID');
  });

  it('says which ClusterRole to bind when the worker may not create the reviews', async () => {
    const plain = clientWith(tokenOf('worker-without-delegation'));
    try {
      const error = await failureOf(checkAccess(plain, tokenOf('pruner-admin')));
      expect(error.code).toBe('PRUNER_ACCESS_REVIEW_FORBIDDEN');
      expect(describeError(error)).toBe(
        "The worker's credentials may not create tokenreviews.authentication.k8s.io, which checking dashboard tokens needs. Bind the ClusterRole system:auth-delegator to the worker's ServiceAccount (deploy/rbac.yaml has the ClusterRoleBinding registry-pruner-auth-delegator). [PRUNER_ACCESS_REVIEW_FORBIDDEN]",
      );
    } finally {
      await plain.close();
    }
  });
});

describe('AccessChecker cache', () => {
  it('reuses a decision for the TTL, keyed by the token’s SHA-256, then asks again', async () => {
    let now = 1_000_000;
    const checker = new AccessChecker(worker, { ttlMs: 10_000, now: () => now });
    const token = tokenOf('grantee');
    const before: AccessDecision = { user: 'grantee', canRead: false, canApprove: false };
    expect(await checker.check(token)).toEqual(before);

    // Grant get on the ImagePruner through stored RBAC, as an administrator would.
    const admin = clientWith(tokenOf('kubeadmin'));
    try {
      await admin.create(
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRole',
          plural: 'clusterroles',
          namespaced: false,
        },
        {
          metadata: { name: 'imagepruner-reader' },
          rules: [{ apiGroups: [PRUNER_GROUP], resources: [Resources.imagePruner.plural], verbs: ['get'] }],
        },
      );
      await admin.create(
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          plural: 'clusterrolebindings',
          namespaced: false,
        },
        {
          metadata: { name: 'grantee-reads-pruner' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'imagepruner-reader' },
          subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'grantee' }],
        },
      );
    } finally {
      await admin.close();
    }

    now += 9_999;
    expect(await checker.check(token)).toEqual(before);
    now += 2;
    expect(await checker.check(token)).toEqual({ user: 'grantee', canRead: true, canApprove: false });

    // The cache holds the token's digest, never the token (white-box: the dashboard's memory is a place
    // a token could leak from).
    const keys = [...(checker as unknown as { cache: Map<string, unknown> }).cache.keys()];
    expect(keys).toEqual([createHash('sha256').update(token).digest('hex')]);
  });

  it('does not remember a failure', async () => {
    const checker = new AccessChecker(worker);
    await failureOf(checker.check('sha256~not-known'));
    expect((checker as unknown as { cache: Map<string, unknown> }).cache.size).toBe(0);
  });
});

describe('the deploy manifests', () => {
  it('give the worker’s ServiceAccount the reviews (system:auth-delegator), and only with that binding', async () => {
    const kubectl = requireBinary('kubectl');
    const run = (args: string[]): Promise<string> =>
      new Promise((resolve, reject) => {
        execFile(
          kubectl,
          ['--kubeconfig', cluster.kubeconfig, ...args],
          { env: { PATH: process.env.PATH ?? '', HOME: workDir, KUBECACHEDIR: join(workDir, 'cache') } },
          (error, stdout, stderr) => (error ? reject(new Error(stderr)) : resolve(stdout)),
        );
      });
    // Without the auth-delegator binding first: a copy of rbac.yaml with that one document removed.
    const rbac = await readFile(join(DEPLOY, 'rbac.yaml'), 'utf8');
    const documents = rbac.split(/^---$/m);
    const withoutDelegation = documents.filter((d) => !d.includes('name: system:auth-delegator'));
    expect(withoutDelegation).toHaveLength(documents.length - 1);
    const copy = join(workDir, 'rbac-without-delegation.yaml');
    await writeFile(copy, withoutDelegation.join('---'));
    for (const file of [join(DEPLOY, 'namespace.yaml'), join(DEPLOY, 'serviceaccount.yaml'), copy])
      await run(['apply', '-f', file]);
    // The kubelet's part: a TokenRequest for the ServiceAccount (kubectl create token asks in protobuf,
    // which the simulator does not speak).
    const answer = await httpRequest(
      `${cluster.apiServer}/api/v1/namespaces/registry-pruner/serviceaccounts/registry-pruner/token`,
      {
        method: 'POST',
        headers: { Authorization: `Bearer ${tokenOf('kubeadmin')}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} }),
        caPem: cluster.apiCaPem,
      },
    );
    expect(answer.status, answer.body.toString()).toBe(201);
    const issued = JSON.parse(answer.body.toString()) as { status: { token: string } };
    const serviceAccount = clientWith(issued.status.token);
    try {
      const refused = await failureOf(checkAccess(serviceAccount, tokenOf('pruner-admin')));
      expect(refused.code).toBe('PRUNER_ACCESS_REVIEW_FORBIDDEN');

      await run(['apply', '-f', join(DEPLOY, 'rbac.yaml')]);
      expect(await checkAccess(serviceAccount, tokenOf('pruner-admin'))).toEqual({
        user: 'pruner-admin',
        canRead: true,
        canApprove: true,
      });
      // The worker's own token as a dashboard user: its ClusterRole reads the CR, nothing updates it.
      expect(await checkAccess(serviceAccount, issued.status.token)).toEqual({
        user: 'system:serviceaccount:registry-pruner:registry-pruner',
        canRead: true,
        canApprove: false,
      });
    } finally {
      await serviceAccount.close();
    }
  });
});
