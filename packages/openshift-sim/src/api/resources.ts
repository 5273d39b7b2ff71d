import { fileURLToPath } from 'node:url';
import { imageStrategy, imageStreamStrategy } from './images.js';
import { routeStrategy } from './routes.js';
import { loadCrd, loadCrdFile, type CompiledCrd } from './schema.js';
import {
  clusterRoleBindingStrategy,
  clusterRoleStrategy,
  RBAC_GROUP,
  roleBindingStrategy,
  roleStrategy,
} from './rbac-objects.js';
import type { ExtraSubresource, NameRule, ResourceType, Strategy } from './types.js';
import { WORKLOAD_STRATEGIES } from './workloads.js';

const STANDARD_VERBS = [
  'create',
  'delete',
  'deletecollection',
  'get',
  'list',
  'patch',
  'update',
  'watch',
] as const;

interface BuiltinSpec {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  verbs?: readonly string[];
  statusSubresource?: boolean;
  nameRule?: NameRule;
  requireResourceVersion?: boolean;
  deleteReturnsStatus?: boolean;
  hasGeneration?: boolean;
  strategy?: Strategy;
  selectableFields?: string[];
  subresources?: ExtraSubresource[];
}

function builtin(spec: BuiltinSpec): ResourceType {
  return {
    group: spec.group,
    version: spec.version,
    plural: spec.plural,
    singular: spec.kind.toLowerCase(),
    kind: spec.kind,
    namespaced: spec.namespaced,
    shortNames: spec.shortNames ?? [],
    categories: spec.categories ?? [],
    verbs: spec.verbs ?? STANDARD_VERBS,
    statusSubresource: spec.statusSubresource ?? false,
    builtin: true,
    nameRule: spec.nameRule ?? 'dns-subdomain',
    requireResourceVersion: spec.requireResourceVersion ?? false,
    deleteReturnsStatus: spec.deleteReturnsStatus ?? false,
    hasGeneration: spec.hasGeneration ?? false,
    selectableFields: spec.selectableFields ?? [],
    ...(spec.strategy ? { strategy: spec.strategy } : {}),
    ...(spec.subresources ? { subresources: spec.subresources } : {}),
  };
}

const w = WORKLOAD_STRATEGIES;
const ALL = ['all'];

/** Resources served from code (kube built-ins and openshift-apiserver's aggregated groups). */
const BUILTINS: ResourceType[] = [
  builtin({
    group: '',
    version: 'v1',
    plural: 'namespaces',
    kind: 'Namespace',
    namespaced: false,
    shortNames: ['ns'],
    nameRule: 'dns-label',
    statusSubresource: true,
    strategy: w['namespaces'],
  }),
  builtin({
    group: '',
    version: 'v1',
    plural: 'secrets',
    kind: 'Secret',
    namespaced: true,
    strategy: w['secrets'],
    selectableFields: ['type'],
  }),
  builtin({
    group: '',
    version: 'v1',
    plural: 'services',
    kind: 'Service',
    namespaced: true,
    shortNames: ['svc'],
    categories: ALL,
    statusSubresource: true,
  }),
  builtin({
    group: '',
    version: 'v1',
    plural: 'serviceaccounts',
    kind: 'ServiceAccount',
    namespaced: true,
    shortNames: ['sa'],
    subresources: [
      {
        name: 'token',
        group: 'authentication.k8s.io',
        version: 'v1',
        kind: 'TokenRequest',
        verbs: ['create'],
      },
    ],
  }),
  builtin({
    group: '',
    version: 'v1',
    plural: 'configmaps',
    kind: 'ConfigMap',
    namespaced: true,
    shortNames: ['cm'],
    strategy: w['configmaps'],
  }),
  builtin({
    group: '',
    version: 'v1',
    plural: 'events',
    kind: 'Event',
    namespaced: true,
    shortNames: ['ev'],
    strategy: w['events'],
  }),
  builtin({
    group: '',
    version: 'v1',
    plural: 'pods',
    kind: 'Pod',
    namespaced: true,
    shortNames: ['po'],
    categories: ALL,
    statusSubresource: true,
    strategy: w['pods'],
    selectableFields: ['spec.nodeName', 'status.phase'],
  }),
  builtin({
    group: '',
    version: 'v1',
    plural: 'replicationcontrollers',
    kind: 'ReplicationController',
    hasGeneration: true,
    namespaced: true,
    shortNames: ['rc'],
    categories: ALL,
    statusSubresource: true,
    strategy: w['replicationcontrollers'],
  }),
  builtin({
    group: '',
    version: 'v1',
    plural: 'limitranges',
    kind: 'LimitRange',
    namespaced: true,
    shortNames: ['limits'],
  }),
  builtin({
    group: '',
    version: 'v1',
    plural: 'persistentvolumeclaims',
    kind: 'PersistentVolumeClaim',
    namespaced: true,
    shortNames: ['pvc'],
    statusSubresource: true,
    strategy: w['persistentvolumeclaims'],
    selectableFields: ['status.phase'],
  }),
  builtin({
    group: 'apps',
    version: 'v1',
    plural: 'deployments',
    kind: 'Deployment',
    hasGeneration: true,
    namespaced: true,
    shortNames: ['deploy'],
    categories: ALL,
    statusSubresource: true,
    strategy: w['deployments'],
  }),
  builtin({
    group: 'apps',
    version: 'v1',
    plural: 'replicasets',
    kind: 'ReplicaSet',
    hasGeneration: true,
    namespaced: true,
    shortNames: ['rs'],
    categories: ALL,
    statusSubresource: true,
    strategy: w['replicasets'],
  }),
  builtin({
    group: 'apps',
    version: 'v1',
    plural: 'statefulsets',
    kind: 'StatefulSet',
    hasGeneration: true,
    namespaced: true,
    shortNames: ['sts'],
    categories: ALL,
    statusSubresource: true,
    strategy: w['statefulsets'],
  }),
  builtin({
    group: 'apps',
    version: 'v1',
    plural: 'daemonsets',
    kind: 'DaemonSet',
    hasGeneration: true,
    namespaced: true,
    shortNames: ['ds'],
    categories: ALL,
    statusSubresource: true,
    strategy: w['daemonsets'],
  }),
  builtin({
    group: 'batch',
    version: 'v1',
    plural: 'jobs',
    kind: 'Job',
    hasGeneration: true,
    namespaced: true,
    categories: ALL,
    statusSubresource: true,
    strategy: w['jobs'],
  }),
  builtin({
    group: 'batch',
    version: 'v1',
    plural: 'cronjobs',
    kind: 'CronJob',
    hasGeneration: true,
    namespaced: true,
    shortNames: ['cj'],
    categories: ALL,
    statusSubresource: true,
    strategy: w['cronjobs'],
  }),
  builtin({
    group: 'apps.openshift.io',
    version: 'v1',
    plural: 'deploymentconfigs',
    kind: 'DeploymentConfig',
    hasGeneration: true,
    namespaced: true,
    shortNames: ['dc'],
    categories: ALL,
    statusSubresource: true,
    strategy: w['deploymentconfigs'],
  }),
  builtin({
    group: 'build.openshift.io',
    version: 'v1',
    plural: 'builds',
    kind: 'Build',
    namespaced: true,
    categories: ALL,
    strategy: w['builds'],
  }),
  builtin({
    group: 'build.openshift.io',
    version: 'v1',
    plural: 'buildconfigs',
    kind: 'BuildConfig',
    hasGeneration: true,
    namespaced: true,
    shortNames: ['bc'],
    categories: ALL,
    strategy: w['buildconfigs'],
  }),
  builtin({
    group: 'image.openshift.io',
    version: 'v1',
    plural: 'images',
    kind: 'Image',
    namespaced: false,
    nameRule: 'path-segment',
    requireResourceVersion: true,
    deleteReturnsStatus: true,
    strategy: imageStrategy,
  }),
  builtin({
    group: 'image.openshift.io',
    version: 'v1',
    plural: 'imagestreams',
    kind: 'ImageStream',
    hasGeneration: true,
    namespaced: true,
    shortNames: ['is'],
    categories: ALL,
    statusSubresource: true,
    nameRule: 'image-stream',
    requireResourceVersion: true,
    deleteReturnsStatus: true,
    strategy: imageStreamStrategy,
    selectableFields: ['spec.dockerImageRepository', 'status.dockerImageRepository'],
  }),
  builtin({
    group: 'image.openshift.io',
    version: 'v1',
    plural: 'imagestreamtags',
    kind: 'ImageStreamTag',
    namespaced: true,
    shortNames: ['istag'],
    verbs: ['delete', 'get', 'list'],
    nameRule: 'path-segment',
  }),
  builtin({
    group: 'image.openshift.io',
    version: 'v1',
    plural: 'imagestreammappings',
    kind: 'ImageStreamMapping',
    namespaced: true,
    verbs: ['create'],
    nameRule: 'image-stream',
  }),
  builtin({
    group: RBAC_GROUP,
    version: 'v1',
    plural: 'roles',
    kind: 'Role',
    namespaced: true,
    nameRule: 'path-segment',
    strategy: roleStrategy,
  }),
  builtin({
    group: RBAC_GROUP,
    version: 'v1',
    plural: 'clusterroles',
    kind: 'ClusterRole',
    namespaced: false,
    nameRule: 'path-segment',
    strategy: clusterRoleStrategy,
  }),
  builtin({
    group: RBAC_GROUP,
    version: 'v1',
    plural: 'rolebindings',
    kind: 'RoleBinding',
    namespaced: true,
    nameRule: 'path-segment',
    strategy: roleBindingStrategy,
  }),
  builtin({
    group: RBAC_GROUP,
    version: 'v1',
    plural: 'clusterrolebindings',
    kind: 'ClusterRoleBinding',
    namespaced: false,
    nameRule: 'path-segment',
    strategy: clusterRoleBindingStrategy,
  }),
  builtin({
    group: 'authentication.k8s.io',
    version: 'v1',
    plural: 'tokenreviews',
    kind: 'TokenReview',
    namespaced: false,
    verbs: ['create'],
  }),
  builtin({
    group: 'authorization.k8s.io',
    version: 'v1',
    plural: 'subjectaccessreviews',
    kind: 'SubjectAccessReview',
    namespaced: false,
    verbs: ['create'],
  }),
  builtin({
    group: 'authorization.k8s.io',
    version: 'v1',
    plural: 'selfsubjectaccessreviews',
    kind: 'SelfSubjectAccessReview',
    namespaced: false,
    verbs: ['create'],
  }),
  builtin({
    group: 'user.openshift.io',
    version: 'v1',
    plural: 'users',
    kind: 'User',
    namespaced: false,
    verbs: ['get'],
  }),
];

const CRD_DIR = fileURLToPath(new URL('../../crds/', import.meta.url));

/** CRD manifests served as custom resources, with the strategy each needs on top of its schema. */
const CRD_FILES: Array<{ file: string; strategy?: Strategy }> = [
  { file: '00_configs.crd.yaml' },
  { file: '01_imagepruners.crd.yaml' },
  { file: 'routes.crd.yaml', strategy: routeStrategy },
  { file: '0000_10_config-operator_01_images.crd.yaml' },
  { file: '0000_10_config-operator_01_ingresses-Default.crd.yaml' },
  { file: '0000_50_ingress_00_ingresscontrollers-Default.crd.yaml' },
];

function fromCrd(file: string, strategy?: Strategy): ResourceType {
  return fromCompiledCrd(loadCrdFile(`${CRD_DIR}${file}`), file, strategy);
}

function fromCompiledCrd(crd: CompiledCrd, file: string, strategy?: Strategy): ResourceType {
  const version = crd.versions.find((v) => v.storage) ?? crd.versions[0];
  if (!version) throw new Error(`${file} has no versions`);
  return {
    group: crd.group,
    version: version.name,
    plural: crd.plural,
    singular: crd.singular,
    kind: crd.kind,
    namespaced: crd.scope === 'Namespaced',
    shortNames: crd.shortNames,
    categories: crd.categories,
    verbs: STANDARD_VERBS,
    statusSubresource: version.subresources.status,
    // Routes are served by openshift-apiserver on a real cluster and accept strategic merge there.
    builtin: crd.group === 'route.openshift.io',
    nameRule: 'dns-subdomain',
    requireResourceVersion: false,
    // openshift-apiserver answers a route DELETE with a Status, like the image kinds.
    deleteReturnsStatus: crd.group === 'route.openshift.io',
    hasGeneration: true,
    schema: version.schema,
    selectableFields: [],
    ...(strategy ? { strategy } : {}),
  };
}

/** Every resource type the simulator serves, looked up by group and plural. */
export class ResourceCatalog {
  readonly types: readonly ResourceType[];
  private readonly index = new Map<string, ResourceType>();

  /**
   * @param customResourceDefinitions Further `apiextensions.k8s.io/v1` CRD manifests (YAML or JSON text) to
   *   serve, as a cluster with those operators installed would (Tekton, Knative, OLM, Argo Rollouts...):
   *   their storage version, validated by their schema.
   */
  constructor(customResourceDefinitions: readonly string[] = []) {
    this.types = [
      ...BUILTINS,
      ...CRD_FILES.map(({ file, strategy }) => fromCrd(file, strategy)),
      ...customResourceDefinitions.map((text, i) =>
        fromCompiledCrd(loadCrd(text), `customResourceDefinitions[${i}]`),
      ),
    ];
    for (const type of this.types) this.index.set(`${type.group}/${type.plural}`, type);
  }

  /** The type for `group` and `plural`, or undefined. */
  find(group: string, plural: string): ResourceType | undefined {
    return this.index.get(`${group}/${plural}`);
  }

  /** The type for a group and plural known to be served (throws otherwise: a programming error). */
  require(group: string, plural: string): ResourceType {
    const type = this.find(group, plural);
    if (!type) throw new Error(`unknown resource ${plural}.${group}`);
    return type;
  }
}

/** The store key of a resource type: `pods`, `deployments.apps`. */
export function storeKey(type: Pick<ResourceType, 'group' | 'plural'>): string {
  return type.group === '' ? type.plural : `${type.plural}.${type.group}`;
}
