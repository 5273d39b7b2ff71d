import type { KubernetesObject } from '@kubernetes/client-node';

const podSpec = { containers: [{ name: 'app', image: 'quay.io/example/app:1' }] };
const template = { metadata: { labels: { app: 'x' } }, spec: podSpec };
const digest = `sha256:${'ab'.repeat(32)}`;

/** One valid object of every served kind that clients create (namespaced ones go in `ns`). */
export function sampleObjects(ns: string): Array<KubernetesObject & Record<string, unknown>> {
  return [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's1', namespace: ns },
      data: { token: 'c2VjcmV0' },
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm1', namespace: ns }, data: { a: 'b' } },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pod1', namespace: ns }, spec: podSpec },
    {
      apiVersion: 'v1',
      kind: 'ReplicationController',
      metadata: { name: 'rc1', namespace: ns },
      spec: { replicas: 1, selector: { app: 'x' }, template },
    },
    {
      apiVersion: 'v1',
      kind: 'LimitRange',
      metadata: { name: 'lr1', namespace: ns },
      spec: { limits: [{ type: 'openshift.io/Image', max: { storage: '1Gi' } }] },
    },
    ...['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet'].map((kind) => ({
      apiVersion: 'apps/v1',
      kind,
      metadata: { name: `${kind.toLowerCase()}1`, namespace: ns },
      spec: { selector: { matchLabels: { app: 'x' } }, template },
    })),
    { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'job1', namespace: ns }, spec: { template } },
    {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'cj1', namespace: ns },
      spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { template } } },
    },
    {
      apiVersion: 'apps.openshift.io/v1',
      kind: 'DeploymentConfig',
      metadata: { name: 'dc1', namespace: ns },
      spec: { replicas: 1, selector: { app: 'x' }, template },
    },
    {
      apiVersion: 'build.openshift.io/v1',
      kind: 'Build',
      metadata: { name: 'build1', namespace: ns },
      spec: { strategy: { type: 'Docker', dockerStrategy: { from: { kind: 'DockerImage', name: 'ubi9' } } } },
    },
    {
      apiVersion: 'build.openshift.io/v1',
      kind: 'BuildConfig',
      metadata: { name: 'bc1', namespace: ns },
      spec: {
        strategy: { type: 'Source', sourceStrategy: { from: { kind: 'ImageStreamTag', name: 'node:20' } } },
      },
    },
    {
      apiVersion: 'image.openshift.io/v1',
      kind: 'Image',
      metadata: { name: digest },
      dockerImageReference: `quay.io/example/app@${digest}`,
    },
    {
      apiVersion: 'image.openshift.io/v1',
      kind: 'ImageStream',
      metadata: { name: 'is1', namespace: ns },
      spec: {},
    },
    {
      apiVersion: 'route.openshift.io/v1',
      kind: 'Route',
      metadata: { name: 'route1', namespace: ns },
      spec: { to: { kind: 'Service', name: 'web' } },
    },
    {
      apiVersion: 'imageregistry.operator.openshift.io/v1',
      kind: 'Config',
      metadata: { name: 'other' },
      spec: { managementState: 'Unmanaged', replicas: 1 },
    },
    {
      apiVersion: 'imageregistry.operator.openshift.io/v1',
      kind: 'ImagePruner',
      metadata: { name: 'other' },
      spec: { schedule: '', suspend: true },
    },
    { apiVersion: 'config.openshift.io/v1', kind: 'Image', metadata: { name: 'other' }, spec: {} },
    {
      apiVersion: 'config.openshift.io/v1',
      kind: 'Ingress',
      metadata: { name: 'other' },
      spec: { domain: 'apps.other.test' },
    },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'sa1', namespace: ns } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'role1', namespace: ns },
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'rolebinding1', namespace: ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'role1' },
      subjects: [{ kind: 'ServiceAccount', name: 'sa1' }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: `${ns}-clusterrole1` },
      rules: [{ apiGroups: ['image.openshift.io'], resources: ['imagestreams/layers'], verbs: ['get'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `${ns}-clusterrolebinding1` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `${ns}-clusterrole1` },
      subjects: [{ kind: 'ServiceAccount', name: 'sa1', namespace: ns }],
    },
    {
      apiVersion: 'operator.openshift.io/v1',
      kind: 'IngressController',
      metadata: { name: 'other', namespace: 'openshift-ingress-operator' },
      spec: { domain: 'other.test', replicas: 1 },
    },
  ];
}

/** Whether a kind is a kube or openshift-apiserver built-in (strategic merge allowed). */
export function isBuiltin(apiVersion: string): boolean {
  return ![
    'imageregistry.operator.openshift.io/v1',
    'config.openshift.io/v1',
    'operator.openshift.io/v1',
  ].includes(apiVersion);
}
