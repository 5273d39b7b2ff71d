/** What the client needs to know about a kind: where it lives and what RBAC calls it. */
export interface ResourceType {
  /** `group/version`, or `v1` for the core group. */
  readonly apiVersion: string;
  readonly kind: string;
  /** The lower-case plural RBAC and URLs use. */
  readonly plural: string;
  readonly namespaced: boolean;
}

/** The API group of a resource type (`''` for the core group). */
export function groupOf(type: ResourceType): string {
  const slash = type.apiVersion.indexOf('/');
  return slash < 0 ? '' : type.apiVersion.slice(0, slash);
}

/** The version of a resource type (`v1`). */
export function versionOf(type: ResourceType): string {
  const slash = type.apiVersion.indexOf('/');
  return slash < 0 ? type.apiVersion : type.apiVersion.slice(slash + 1);
}

/** `configs.imageregistry.operator.openshift.io`: how kubectl and RBAC messages name a resource. */
export function qualifiedName(type: ResourceType): string {
  const group = groupOf(type);
  return group === '' ? type.plural : `${type.plural}.${group}`;
}

const t = (apiVersion: string, kind: string, plural: string, namespaced: boolean): ResourceType => ({
  apiVersion,
  kind,
  plural,
  namespaced,
});

/** The kinds the registry tools read and write. */
export const Resources = {
  namespace: t('v1', 'Namespace', 'namespaces', false),
  secret: t('v1', 'Secret', 'secrets', true),
  configMap: t('v1', 'ConfigMap', 'configmaps', true),
  pod: t('v1', 'Pod', 'pods', true),
  replicationController: t('v1', 'ReplicationController', 'replicationcontrollers', true),
  limitRange: t('v1', 'LimitRange', 'limitranges', true),
  deployment: t('apps/v1', 'Deployment', 'deployments', true),
  replicaSet: t('apps/v1', 'ReplicaSet', 'replicasets', true),
  statefulSet: t('apps/v1', 'StatefulSet', 'statefulsets', true),
  daemonSet: t('apps/v1', 'DaemonSet', 'daemonsets', true),
  job: t('batch/v1', 'Job', 'jobs', true),
  cronJob: t('batch/v1', 'CronJob', 'cronjobs', true),
  deploymentConfig: t('apps.openshift.io/v1', 'DeploymentConfig', 'deploymentconfigs', true),
  build: t('build.openshift.io/v1', 'Build', 'builds', true),
  buildConfig: t('build.openshift.io/v1', 'BuildConfig', 'buildconfigs', true),
  image: t('image.openshift.io/v1', 'Image', 'images', false),
  imageStream: t('image.openshift.io/v1', 'ImageStream', 'imagestreams', true),
  route: t('route.openshift.io/v1', 'Route', 'routes', true),
  registryConfig: t('imageregistry.operator.openshift.io/v1', 'Config', 'configs', false),
  imagePruner: t('imageregistry.operator.openshift.io/v1', 'ImagePruner', 'imagepruners', false),
  imageConfig: t('config.openshift.io/v1', 'Image', 'images', false),
  ingressConfig: t('config.openshift.io/v1', 'Ingress', 'ingresses', false),
  ingressController: t('operator.openshift.io/v1', 'IngressController', 'ingresscontrollers', true),
} as const satisfies Record<string, ResourceType>;

/** Fixed names of the integrated registry's objects. */
export const RegistryNames = {
  operatorConfig: 'cluster',
  namespace: 'openshift-image-registry',
  defaultRoute: 'default-route',
  internalService: 'image-registry',
  internalHost: 'image-registry.openshift-image-registry.svc:5000',
  ingressNamespace: 'openshift-ingress',
  ingressOperatorNamespace: 'openshift-ingress-operator',
  defaultIngressController: 'default',
  defaultRouterCertSecret: 'router-certs-default',
  publishedIngressCaNamespace: 'openshift-config-managed',
  publishedIngressCaConfigMap: 'default-ingress-cert',
  openshiftConfigNamespace: 'openshift-config',
} as const;
