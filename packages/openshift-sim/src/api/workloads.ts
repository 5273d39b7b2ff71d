// Validation of the built-in workload kinds the pruner reads image references from. Only the rules a
// client is likely to trip over are enforced (required containers, selector matching the template); the
// real apiserver checks far more, which the package README says.
import { isJsonObject, jsonEqual, objectAt, textOf, type JsonObject, type JsonValue } from '../json.js';
import { configMap, secret } from './config-data.js';
import { nameProblem } from './names.js';
import type { StatusCause } from './status.js';
import type { Strategy } from './types.js';

function required(field: string): StatusCause {
  return { reason: 'FieldValueRequired', message: 'Required value', field };
}

function podSpecCauses(spec: JsonObject | undefined, path: string): StatusCause[] {
  if (!spec) return [required(path)];
  const containers = spec['containers'];
  if (!Array.isArray(containers) || containers.length === 0) return [required(`${path}.containers`)];
  const causes: StatusCause[] = [];
  const seen = new Set<string>();
  const lists: Array<[string, JsonValue | undefined]> = [
    ['containers', containers],
    ['initContainers', spec['initContainers']],
    ['ephemeralContainers', spec['ephemeralContainers']],
  ];
  for (const [list, value] of lists) {
    if (!Array.isArray(value)) continue;
    value.forEach((container, i) => {
      const at = `${path}.${list}[${i}]`;
      if (!isJsonObject(container)) {
        causes.push({ reason: 'FieldValueInvalid', message: 'must be an object', field: at });
        return;
      }
      const name = container['name'];
      if (typeof name !== 'string' || name === '') causes.push(required(`${at}.name`));
      else causes.push(...containerNameCauses(name, `${at}.name`, seen));
      if (
        list !== 'ephemeralContainers' &&
        (typeof container['image'] !== 'string' || container['image'] === '')
      ) {
        causes.push(required(`${at}.image`));
      }
    });
  }
  return causes;
}

/** A container's name is an RFC 1123 label, unique among all the pod's containers. */
function containerNameCauses(name: string, field: string, seen: Set<string>): StatusCause[] {
  const problem = nameProblem(name, 'dns-label');
  if (problem !== undefined)
    return [
      { reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(name)}: ${problem}`, field },
    ];
  if (seen.has(name))
    return [{ reason: 'FieldValueDuplicate', message: `Duplicate value: ${JSON.stringify(name)}`, field }];
  seen.add(name);
  return [];
}

/** `spec.replicas`, when given, is a whole number of at least 0. */
function replicasCauses(spec: JsonObject): StatusCause[] {
  const replicas = spec['replicas'];
  if (replicas === undefined || replicas === null) return [];
  if (typeof replicas === 'number' && Number.isInteger(replicas) && replicas >= 0) return [];
  return [
    {
      reason: 'FieldValueInvalid',
      message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`,
      field: 'spec.replicas',
    },
  ];
}

function labelsOf(value: JsonObject | undefined): Record<string, string> {
  const labels = objectAt(value, 'labels') ?? {};
  return Object.fromEntries(
    Object.entries(labels).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}

/** Checks `selector.matchLabels` (or a plain map for RCs) against the template's labels. */
function selectorCauses(spec: JsonObject, plainSelector: boolean): StatusCause[] {
  const selector = objectAt(spec, 'selector');
  const template = objectAt(spec, 'template');
  if (!selector && !plainSelector) return [required('spec.selector')];
  const matchLabels = plainSelector ? (selector ?? {}) : (objectAt(selector, 'matchLabels') ?? {});
  const templateLabels = labelsOf(objectAt(template, 'metadata'));
  const mismatch = Object.entries(matchLabels).some(([k, v]) => templateLabels[k] !== v);
  if (mismatch) {
    return [
      {
        reason: 'FieldValueInvalid',
        message: 'Invalid value: map[string]string{}: `selector` does not match template `labels`',
        field: 'spec.template.metadata.labels',
      },
    ];
  }
  return [];
}

const pod: Strategy = {
  validate: (object) => podSpecCauses(objectAt(object, 'spec'), 'spec'),
  fields: (object) => ({
    'spec.nodeName': textOf(objectAt(object, 'spec')?.['nodeName']),
    'status.phase': textOf(objectAt(object, 'status')?.['phase']),
  }),
  prepareCreate: (object) => {
    object['status'] = { phase: 'Pending', qosClass: 'BestEffort' };
  },
};

function templated(plainSelector: boolean, selectorRequired = true): Strategy {
  return {
    validate: (object) => {
      const spec = objectAt(object, 'spec');
      if (!spec) return [required('spec')];
      const template = objectAt(spec, 'template');
      const causes = [
        ...replicasCauses(spec),
        ...podSpecCauses(objectAt(template, 'spec'), 'spec.template.spec'),
      ];
      return selectorRequired ? [...selectorCauses(spec, plainSelector), ...causes] : causes;
    },
  };
}

const cronJob: Strategy = {
  validate: (object) => {
    const spec = objectAt(object, 'spec');
    if (!spec) return [required('spec')];
    const causes: StatusCause[] = [];
    if (typeof spec['schedule'] !== 'string' || spec['schedule'] === '')
      causes.push(required('spec.schedule'));
    const template = objectAt(objectAt(objectAt(spec, 'jobTemplate'), 'spec'), 'template');
    return [...causes, ...podSpecCauses(objectAt(template, 'spec'), 'spec.jobTemplate.spec.template.spec')];
  },
};

const build: Strategy = {
  validate: (object) => (objectAt(objectAt(object, 'spec'), 'strategy') ? [] : [required('spec.strategy')]),
};

const ACCESS_MODES = ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod'];

/** kube's PersistentVolumeClaim rules a client meets: access modes, a storage request, a fixed spec. */
function claimCauses(object: JsonObject, old: JsonObject | undefined): StatusCause[] {
  const spec = objectAt(object, 'spec');
  if (!spec) return [required('spec')];
  const causes: StatusCause[] = [];
  const modes = spec['accessModes'];
  if (!Array.isArray(modes) || modes.length === 0) {
    causes.push({
      reason: 'FieldValueRequired',
      message: 'Required value: at least 1 access mode is required',
      field: 'spec.accessModes',
    });
  } else {
    for (const mode of modes) {
      if (typeof mode !== 'string' || !ACCESS_MODES.includes(mode)) {
        causes.push({
          reason: 'FieldValueNotSupported',
          message: `Unsupported value: ${JSON.stringify(mode)}: supported values: ${ACCESS_MODES.map((m) => `"${m}"`).join(', ')}`,
          field: 'spec.accessModes',
        });
      }
    }
  }
  const volumeMode = spec['volumeMode'];
  if (volumeMode !== undefined && volumeMode !== 'Block' && volumeMode !== 'Filesystem') {
    causes.push({
      reason: 'FieldValueNotSupported',
      message: `Unsupported value: ${JSON.stringify(volumeMode)}: supported values: "Block", "Filesystem"`,
      field: 'spec.volumeMode',
    });
  }
  const storage = objectAt(objectAt(spec, 'resources'), 'requests')?.['storage'];
  if (typeof storage !== 'string' || storage === '') causes.push(required('spec.resources[storage]'));
  if (old !== undefined) {
    // Only the storage request may change after creation (volume expansion).
    const fixed = (value: JsonObject | undefined): JsonObject => {
      const { resources: _resources, volumeName: _volumeName, ...rest } = value ?? {};
      return rest;
    };
    if (!jsonEqual(fixed(spec), fixed(objectAt(old, 'spec')))) {
      causes.push({
        reason: 'FieldValueForbidden',
        message:
          'Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims',
        field: 'spec',
      });
    }
  }
  return causes;
}

function defaultVolumeMode(object: JsonObject): void {
  const spec = objectAt(object, 'spec');
  if (spec) spec['volumeMode'] ??= 'Filesystem';
}

const persistentVolumeClaim: Strategy = {
  validate: (object, old) => claimCauses(object, old),
  fields: (object) => ({ 'status.phase': textOf(objectAt(object, 'status')?.['phase']) }),
  prepareCreate: (object) => {
    defaultVolumeMode(object);
    object['status'] = { phase: 'Pending' };
  },
  prepareUpdate: (object) => defaultVolumeMode(object),
};

/**
 * A core v1 Event (the old form, without `eventTime`) lives in the namespace of what it is about; one about
 * a cluster-scoped object lives in `default` (kube's legacy Event validation).
 */
const event: Strategy = {
  validate: (object) => {
    const involved = objectAt(object, 'involvedObject') ?? {};
    const involvedNamespace = textOf(involved['namespace']);
    const namespace = textOf(objectAt(object, 'metadata')?.['namespace']);
    const allowed = involvedNamespace === '' ? ['', 'default'] : [involvedNamespace];
    if (object['eventTime'] !== undefined && object['eventTime'] !== null) return [];
    if (allowed.includes(namespace)) return [];
    return [
      {
        reason: 'FieldValueInvalid',
        message: `Invalid value: ${JSON.stringify(involvedNamespace)}: does not match event.namespace`,
        field: 'involvedObject.namespace',
      },
    ];
  },
};

const namespace: Strategy = {
  prepareCreate: (object) => {
    object['status'] = { phase: 'Active' };
    const spec = objectAt(object, 'spec') ?? {};
    spec['finalizers'] ??= ['kubernetes'];
    object['spec'] = spec;
  },
};

/** Strategies of the built-in kinds, by plural resource name. */
export const WORKLOAD_STRATEGIES: Record<string, Strategy> = {
  namespaces: namespace,
  pods: pod,
  replicationcontrollers: templated(true),
  deployments: templated(false),
  replicasets: templated(false),
  statefulsets: templated(false),
  daemonsets: templated(false),
  jobs: templated(false, false),
  cronjobs: cronJob,
  deploymentconfigs: templated(true, false),
  builds: build,
  buildconfigs: build,
  secrets: secret,
  configmaps: configMap,
  events: event,
  persistentvolumeclaims: persistentVolumeClaim,
};
