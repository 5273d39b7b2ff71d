/**
 * The fields of the built-in kinds, as far as strict field validation needs them. kube-apiserver decodes a
 * built-in object into its Go type: a field the type does not have is dropped, and named in a
 * `strict decoding error` (`fieldValidation=Strict`) or a `Warning` header (`Warn`, the default). The
 * simulator keeps objects as JSON, so these tables say which fields each kind's type has.
 *
 * Each table goes as deep as the tools and tests write: a value of `true` is a field whose inside is not
 * checked (a scalar, a string map such as `labels`, or a structure not modelled here, such as a probe or a
 * volume). Unknown fields inside those parts are kept and not reported, as before; everywhere a table
 * reaches, they are found as a real server finds them.
 */
import { isJsonObject, type JsonObject, type JsonValue } from '../json.js';

/** The fields of one object type. */
export interface Fields {
  readonly [name: string]: Field;
}

/** One field: unchecked inside (`true`), an object, or a list of objects (`[Fields]`). */
export type Field = true | Fields | readonly [Fields];

/** Fields given as names only, each unchecked inside. */
function plain(...names: string[]): Record<string, true> {
  return Object.fromEntries(names.map((name) => [name, true as const]));
}

const OBJECT_META: Fields = {
  ...plain(
    'name',
    'generateName',
    'namespace',
    'selfLink',
    'uid',
    'resourceVersion',
    'generation',
    'creationTimestamp',
    'deletionTimestamp',
    'deletionGracePeriodSeconds',
    'labels',
    'annotations',
    'finalizers',
    'managedFields',
  ),
  ownerReferences: [plain('apiVersion', 'kind', 'name', 'uid', 'controller', 'blockOwnerDeletion')],
};

/** apiVersion, kind and metadata, with the kind's own top-level fields. */
function kind(fields: Fields): Fields {
  return { apiVersion: true, kind: true, metadata: OBJECT_META, ...fields };
}

const CONTAINER: Fields = {
  ...plain(
    'name',
    'image',
    'command',
    'args',
    'workingDir',
    'envFrom',
    'resources',
    'resizePolicy',
    'restartPolicy',
    'volumeMounts',
    'volumeDevices',
    'livenessProbe',
    'readinessProbe',
    'startupProbe',
    'lifecycle',
    'terminationMessagePath',
    'terminationMessagePolicy',
    'imagePullPolicy',
    'securityContext',
    'stdin',
    'stdinOnce',
    'tty',
  ),
  ports: [plain('name', 'hostPort', 'containerPort', 'protocol', 'hostIP')],
  env: [plain('name', 'value', 'valueFrom')],
};

const POD_SPEC: Fields = {
  ...plain(
    'volumes',
    'ephemeralContainers',
    'restartPolicy',
    'terminationGracePeriodSeconds',
    'activeDeadlineSeconds',
    'dnsPolicy',
    'nodeSelector',
    'serviceAccountName',
    'serviceAccount',
    'automountServiceAccountToken',
    'nodeName',
    'hostNetwork',
    'hostPID',
    'hostIPC',
    'shareProcessNamespace',
    'securityContext',
    'imagePullSecrets',
    'hostname',
    'subdomain',
    'affinity',
    'schedulerName',
    'tolerations',
    'hostAliases',
    'priorityClassName',
    'priority',
    'dnsConfig',
    'readinessGates',
    'runtimeClassName',
    'enableServiceLinks',
    'preemptionPolicy',
    'overhead',
    'topologySpreadConstraints',
    'setHostnameAsFQDN',
    'os',
    'hostUsers',
    'schedulingGates',
    'resourceClaims',
    'resources',
  ),
  containers: [CONTAINER],
  initContainers: [CONTAINER],
};

const POD_TEMPLATE: Fields = { metadata: OBJECT_META, spec: POD_SPEC };

const JOB_SPEC: Fields = {
  ...plain(
    'parallelism',
    'completions',
    'activeDeadlineSeconds',
    'podFailurePolicy',
    'successPolicy',
    'backoffLimit',
    'backoffLimitPerIndex',
    'maxFailedIndexes',
    'selector',
    'manualSelector',
    'ttlSecondsAfterFinished',
    'completionMode',
    'suspend',
    'podReplacementPolicy',
    'managedBy',
  ),
  template: POD_TEMPLATE,
};

const POLICY_RULE: Fields = plain('verbs', 'apiGroups', 'resources', 'resourceNames', 'nonResourceURLs');
const ROLE_REF: Fields = plain('apiGroup', 'kind', 'name');
const SUBJECT: Fields = plain('kind', 'apiGroup', 'name', 'namespace');

/** The tables, by `group/kind` (the core group as `/Kind`); a kind not here is not checked. */
const BUILTIN_FIELDS: ReadonlyMap<string, Fields> = new Map<string, Fields>([
  ['/Namespace', kind({ spec: plain('finalizers'), status: true })],
  ['/ConfigMap', kind(plain('data', 'binaryData', 'immutable'))],
  ['/Secret', kind(plain('data', 'stringData', 'type', 'immutable'))],
  ['/ServiceAccount', kind(plain('secrets', 'imagePullSecrets', 'automountServiceAccountToken'))],
  [
    '/Service',
    kind({
      spec: {
        ...plain(
          'selector',
          'clusterIP',
          'clusterIPs',
          'type',
          'externalIPs',
          'sessionAffinity',
          'loadBalancerIP',
          'loadBalancerSourceRanges',
          'externalName',
          'externalTrafficPolicy',
          'healthCheckNodePort',
          'publishNotReadyAddresses',
          'sessionAffinityConfig',
          'ipFamilies',
          'ipFamilyPolicy',
          'allocateLoadBalancerNodePorts',
          'loadBalancerClass',
          'internalTrafficPolicy',
          'trafficDistribution',
        ),
        ports: [plain('name', 'protocol', 'appProtocol', 'port', 'targetPort', 'nodePort')],
      },
      status: true,
    }),
  ],
  ['/Pod', kind({ spec: POD_SPEC, status: true })],
  [
    '/ReplicationController',
    kind({
      spec: { ...plain('replicas', 'minReadySeconds', 'selector'), template: POD_TEMPLATE },
      status: true,
    }),
  ],
  ['/LimitRange', kind({ spec: plain('limits') })],
  [
    '/PersistentVolumeClaim',
    kind({
      spec: plain(
        'accessModes',
        'selector',
        'resources',
        'volumeName',
        'storageClassName',
        'volumeMode',
        'dataSource',
        'dataSourceRef',
        'volumeAttributesClassName',
      ),
      status: true,
    }),
  ],
  [
    'apps/Deployment',
    kind({
      spec: {
        ...plain(
          'replicas',
          'selector',
          'strategy',
          'minReadySeconds',
          'revisionHistoryLimit',
          'paused',
          'progressDeadlineSeconds',
        ),
        template: POD_TEMPLATE,
      },
      status: true,
    }),
  ],
  [
    'apps/ReplicaSet',
    kind({
      spec: { ...plain('replicas', 'minReadySeconds', 'selector'), template: POD_TEMPLATE },
      status: true,
    }),
  ],
  [
    'apps/StatefulSet',
    kind({
      spec: {
        ...plain(
          'replicas',
          'selector',
          'volumeClaimTemplates',
          'serviceName',
          'podManagementPolicy',
          'updateStrategy',
          'revisionHistoryLimit',
          'minReadySeconds',
          'persistentVolumeClaimRetentionPolicy',
          'ordinals',
        ),
        template: POD_TEMPLATE,
      },
      status: true,
    }),
  ],
  [
    'apps/DaemonSet',
    kind({
      spec: {
        ...plain('selector', 'updateStrategy', 'minReadySeconds', 'revisionHistoryLimit'),
        template: POD_TEMPLATE,
      },
      status: true,
    }),
  ],
  ['batch/Job', kind({ spec: JOB_SPEC, status: true })],
  [
    'batch/CronJob',
    kind({
      spec: {
        ...plain(
          'schedule',
          'timeZone',
          'startingDeadlineSeconds',
          'concurrencyPolicy',
          'suspend',
          'successfulJobsHistoryLimit',
          'failedJobsHistoryLimit',
        ),
        jobTemplate: { metadata: OBJECT_META, spec: JOB_SPEC },
      },
      status: true,
    }),
  ],
  ['rbac.authorization.k8s.io/Role', kind({ rules: [POLICY_RULE] })],
  ['rbac.authorization.k8s.io/ClusterRole', kind({ rules: [POLICY_RULE], aggregationRule: true })],
  ['rbac.authorization.k8s.io/RoleBinding', kind({ roleRef: ROLE_REF, subjects: [SUBJECT] })],
  ['rbac.authorization.k8s.io/ClusterRoleBinding', kind({ roleRef: ROLE_REF, subjects: [SUBJECT] })],
]);

/**
 * The field table of a built-in kind, or undefined when the simulator does not model its fields.
 *
 * @param group The API group (`''` for the core group).
 * @param kindName The kind.
 */
export function builtinFields(group: string, kindName: string): Fields | undefined {
  return BUILTIN_FIELDS.get(`${group}/${kindName}`);
}

function childPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** Drops what `fields` does not know from `object` (in place), noting each path as kube's decoder names it. */
function dropUnknown(object: JsonObject, fields: Fields, path: string, unknown: string[]): void {
  for (const key of Object.keys(object)) {
    const at = childPath(path, key);
    const field = Object.hasOwn(fields, key) ? fields[key] : undefined;
    if (field === undefined) {
      unknown.push(at);
      delete object[key];
      continue;
    }
    const value: JsonValue | undefined = object[key];
    if (field === true) continue;
    if (Array.isArray(field)) {
      if (!Array.isArray(value)) continue;
      const [items] = field as readonly [Fields];
      value.forEach((item, index) => {
        if (isJsonObject(item)) dropUnknown(item, items, `${at}[${index}]`, unknown);
      });
    } else if (isJsonObject(value)) {
      dropUnknown(value, field as Fields, at, unknown);
    }
  }
}

/**
 * Removes the fields a built-in kind's Go type does not have, as decoding into it does.
 *
 * @param object The object (changed in place).
 * @param fields The kind's table.
 * @returns The paths removed (`spec.template.spec.containers[0].imagee`), in document order.
 */
export function pruneUnknownFields(object: JsonObject, fields: Fields): string[] {
  const unknown: string[] = [];
  dropUnknown(object, fields, '', unknown);
  return unknown;
}
