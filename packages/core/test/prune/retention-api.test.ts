// Reference sources and namespaces' own rules against the simulator's API: custom resources served through
// CRDs (Tekton, Knative, OLM; Argo Rollouts not installed), read by a pruner holding system:image-pruner
// plus the list rights they need, and a namespace's annotation and ConfigMap read as its own rules.
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { operatorCrds } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterClient, type KubeObject } from '../../src/cluster/client.js';
import type { ResourceType } from '../../src/cluster/resources.js';
import { Resources } from '../../src/cluster/resources.js';
import { planPrune } from '../../src/prune/plan.js';
import { DEFAULT_NAMESPACE_RULES, resolvePrunePolicy } from '../../src/prune/policy.js';
import { snapshotSourcesOf, takeSnapshot } from '../../src/prune/snapshot.js';
import { failure } from '../failure.js';
import { digest } from './fixtures.js';
import { INTERNAL, createImage, createStream } from './helpers.js';

let cluster: RunningCluster;
let admin: ClusterClient;
let pruner: ClusterClient;
let plainPruner: ClusterClient;

const kind = (apiVersion: string, kindName: string, plural: string): ResourceType => ({
  apiVersion,
  kind: kindName,
  plural,
  namespaced: true,
});

beforeAll(async () => {
  cluster = await startCluster({
    routerMode: 'port',
    namespaces: ['ci', 'web'],
    customResourceDefinitions: operatorCrds('tekton', 'knative', 'olm'),
  });
  admin = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
  const user = await cluster.addUser({
    name: 'pruner',
    roles: [{ role: 'system:image-pruner' }],
    customRoles: [
      {
        rules: [
          { apiGroups: [''], resources: ['namespaces', 'configmaps'], verbs: ['get', 'list'] },
          {
            apiGroups: ['tekton.dev', 'serving.knative.dev', 'operators.coreos.com', 'argoproj.io'],
            resources: ['*'],
            verbs: ['get', 'list'],
          },
        ],
      },
    ],
  });
  pruner = ClusterClient.fromOptions({ kubeconfig: user.kubeconfig });
  const plain = await cluster.addUser({ name: 'plain-pruner', roles: [{ role: 'system:image-pruner' }] });
  plainPruner = ClusterClient.fromOptions({ kubeconfig: plain.kubeconfig });
});

afterAll(async () => {
  await cluster?.stop();
});

describe('custom resources that use images', () => {
  it('protect what TaskRuns, Knative Revisions and CSVs name; an API not served is skipped and said so', async () => {
    for (const seed of ['step-old', 'step-new', 'kn-old', 'kn-new', 'csv-old', 'csv-new', 'free']) {
      await createImage(admin, seed);
    }
    await createStream(admin, 'ci', 'step', { latest: ['step-new', 'step-old'] });
    await createStream(admin, 'ci', 'kn', { latest: ['kn-new', 'kn-old'] });
    await createStream(admin, 'ci', 'csv', { latest: ['csv-new', 'csv-old', 'free'] });
    await admin.create<KubeObject>(kind('tekton.dev/v1', 'TaskRun', 'taskruns'), {
      metadata: { name: 'build-1', namespace: 'ci' },
      spec: { taskSpec: { steps: [{ name: 'build', image: `${INTERNAL}/ci/step@${digest('step-old')}` }] } },
    } as KubeObject);
    // The status is the controller's: written through the status subresource, as Knative does.
    const revisions = kind('serving.knative.dev/v1', 'Revision', 'revisions');
    const revision = await admin.create<KubeObject>(revisions, {
      metadata: { name: 'kn-00001', namespace: 'ci' },
      spec: { containers: [{ image: `${INTERNAL}/ci/kn:latest` }] },
    } as KubeObject);
    await admin.replaceStatus<KubeObject>(revisions, {
      ...revision,
      status: { containerStatuses: [{ imageDigest: `${INTERNAL}/ci/kn@${digest('kn-old')}` }] },
    } as KubeObject);
    await admin.create<KubeObject>(
      kind('operators.coreos.com/v1alpha1', 'ClusterServiceVersion', 'clusterserviceversions'),
      {
        metadata: { name: 'op.v1', namespace: 'ci' },
        spec: { relatedImages: [{ name: 'operand', image: `${INTERNAL}/ci/csv@${digest('csv-old')}` }] },
      } as KubeObject,
    );

    const { policy } = resolvePrunePolicy({
      keepTagRevisions: 1,
      keepYoungerThan: '0s',
      referenceSources: ['tekton', 'knative', 'olm', 'argo-rollouts'],
    });
    const snapshot = await takeSnapshot(pruner, { ...policy, ...snapshotSourcesOf(policy) });
    expect(snapshot.uses.map((u) => u.referrer).filter((r) => !r.startsWith('Pod'))).toEqual(
      expect.arrayContaining([
        'TaskRun ci/build-1 spec.taskSpec.steps[0].image',
        'Revision ci/kn-00001 spec.containers[0].image',
        'Revision ci/kn-00001 status.containerStatuses[0].imageDigest',
        'ClusterServiceVersion ci/op.v1 spec.relatedImages[0].image',
      ]),
    );
    expect(snapshot.notes).toContain(
      'rollouts.argoproj.io is not served by this cluster; nothing there can use an image.',
    );
    const plan = planPrune(snapshot, policy, { mode: 'metadata', now: new Date() });
    const decision = (id: string): [string, string, string | undefined] => {
      const item = plan.items.find((i) => i.id === id)!;
      return [item.action, item.rule, item.referrer];
    };
    expect(decision('tag:ci/step:latest#1')).toEqual([
      'keep',
      'image-in-use',
      'TaskRun ci/build-1 spec.taskSpec.steps[0].image',
    ]);
    expect(decision('tag:ci/kn:latest#1')[1]).toBe('image-in-use');
    expect(decision('tag:ci/csv:latest#1')[2]).toBe(
      'ClusterServiceVersion ci/op.v1 spec.relatedImages[0].image',
    );
    expect(decision('tag:ci/csv:latest#2')).toEqual(['delete', 'beyond-tag-revisions', undefined]);
    expect(plan.notes).toContain(
      'rollouts.argoproj.io is not served by this cluster; nothing there can use an image.',
    );

    // Without the sources, the same items go: the CRs are what keeps them.
    const bare = resolvePrunePolicy({ keepTagRevisions: 1, keepYoungerThan: '0s' }).policy;
    const without = planPrune(await takeSnapshot(pruner, bare), bare, { mode: 'metadata', now: new Date() });
    expect(without.items.find((i) => i.id === 'tag:ci/step:latest#1')?.action).toBe('delete');
  });

  it('fail the snapshot, changing nothing, when a served kind may not be listed', async () => {
    const { policy } = resolvePrunePolicy({ referenceSources: ['tekton'] });
    const error = await failure(takeSnapshot(plainPruner, { ...policy, ...snapshotSourcesOf(policy) }));
    expect(error).toMatchObject({
      code: 'PRUNE_SNAPSHOT_INCOMPLETE',
      details: { resource: 'taskruns.tekton.dev' },
    });
  });
});

describe("namespaces' own rules", () => {
  it('come from the annotation and the ConfigMap, keep more than the cluster, and bad ones are noted', async () => {
    for (const seed of ['w1', 'w2', 'w3', 'w4']) await createImage(admin, seed);
    await createStream(admin, 'web', 'site', { latest: ['w1', 'w2', 'w3', 'w4'] });
    await admin.mergePatch<KubeObject>(Resources.namespace, 'web', {
      metadata: { annotations: { [DEFAULT_NAMESPACE_RULES.annotation]: '[{"name":"three","keepLast":3}]' } },
    });
    await admin.create<KubeObject>(Resources.configMap, {
      metadata: { name: DEFAULT_NAMESPACE_RULES.configMap, namespace: 'ci' },
      data: { rules: '[{"keepLast":"all"}]' },
    } as KubeObject);
    const { policy } = resolvePrunePolicy({
      keepTagRevisions: 1,
      keepYoungerThan: '0s',
      namespaceRules: true,
    });
    const snapshot = await takeSnapshot(pruner, { ...policy, ...snapshotSourcesOf(policy) });
    expect(snapshot.namespaceRules).toEqual({ web: [{ label: 'three', keepLast: 3 }] });
    expect(
      snapshot.notes.some((n) =>
        n.startsWith(
          'Namespace ci: its retention rules in ConfigMap registry-push-retention key rules are ignored',
        ),
      ),
    ).toBe(true);
    const plan = planPrune(snapshot, policy, { mode: 'metadata', now: new Date() });
    const rule = (revision: number): string | undefined =>
      plan.items.find((i) => i.id === `tag:web/site:latest#${revision}`)?.rule;
    expect([0, 1, 2, 3].map(rule)).toEqual([
      'within-tag-revisions',
      'namespace-retention-rule',
      'namespace-retention-rule',
      'beyond-tag-revisions',
    ]);
    expect(plan.summary.retention).toEqual({ 'namespace web rule three: keep last 3 pushed': 2 });

    // A namespace-scoped run reads that namespace's rules only.
    const scoped = await takeSnapshot(pruner, { ...policy, ...snapshotSourcesOf(policy), namespace: 'web' });
    expect(scoped.namespaceRules).toEqual({ web: [{ label: 'three', keepLast: 3 }] });
    const ci = await takeSnapshot(pruner, { ...policy, ...snapshotSourcesOf(policy), namespace: 'ci' });
    expect(ci.namespaceRules).toBeUndefined();
    expect(ci.notes.filter((n) => n.startsWith('Namespace '))).toHaveLength(1);

    const error = await failure(takeSnapshot(plainPruner, { ...policy, ...snapshotSourcesOf(policy) }));
    expect(error).toMatchObject({ code: 'PRUNE_SNAPSHOT_INCOMPLETE' });
  });
});
