import type { ClusterApi } from '../ports/cluster-api.js';
import { RegistryNames, Resources } from '../cluster/resources.js';
import {
  conditionOf,
  type Condition,
  type RegistryConfig,
  type Route,
} from '../cluster/openshift-objects.js';
import { RegistryPushError, isRegistryPushError } from '../errors.js';
import { registryState, type STORAGE_KINDS } from '../expose/registry-state.js';
import { routeAdmission } from '../expose/route-admission.js';
import { registryTrust } from '../trust/registry-trust.js';
import { METRICS_PATH, metricsError } from './metrics.js';
import { httpsGet } from './https-get.js';
import type { ImagePruner } from '../cluster/openshift-objects.js';
import { AdminNames, type PodSummary } from './admin-objects.js';

/** One registry route as configured and as the routers see it. */
export interface RegistryRouteStatus {
  name: string;
  /** `default`: `spec.defaultRoute`; `custom`: a `spec.routes[]` entry. */
  kind: 'default' | 'custom';
  /** The host the routers admitted, else the one asked for. */
  host?: string;
  /** Undefined when the route could not be read (missing or not allowed). */
  admitted?: boolean;
  /** The routers' verdicts, or why nothing is known. */
  summary: string;
}

/** The registry pods and their readiness. */
export interface ReplicaStatus {
  desired: number;
  ready: number;
  /** Where `ready` came from: the pods themselves, or the operator's `status.readyReplicas`. */
  source: 'pods' | 'operator';
  pods: { name: string; phase: string; ready: boolean }[];
}

/** The image pruner's configuration and last result. */
export interface PrunerStatus {
  /** The schedule in effect (the operator's default when `spec.schedule` is empty). */
  schedule: string;
  suspended: boolean;
  /** How the last pruner job ended, from the `Failed` condition. */
  lastResult: string;
  conditions: Condition[];
}

/** Whether the metrics endpoint answered the caller. */
export interface MetricsReachability {
  state: 'ok' | 'forbidden' | 'unavailable' | 'unreachable' | 'untrusted' | 'no-host' | 'skipped';
  host?: string;
  detail: string;
}

/** Everything `registry-push status` shows. */
export interface RegistryStatus {
  managementState: string;
  storage: {
    kind: (typeof STORAGE_KINDS)[number] | undefined;
    /** `spec.storage.managementState` (Managed: the operator deletes it when the registry is Removed). */
    managementState?: string;
    /** The claim, bucket or container, when the stanza names one. */
    location?: string;
  };
  readOnly: boolean;
  replicas: ReplicaStatus;
  rolloutStrategy: string;
  routes: RegistryRouteStatus[];
  conditions: Condition[];
  pruner?: PrunerStatus;
  metrics: MetricsReachability;
  /** What could not be read, and why. */
  notes: string[];
}

/** Options of {@link registryStatus}. */
export interface StatusOptions {
  /** The registry host to probe metrics on; default the first admitted registry route. */
  host?: string;
  /** CA for that host; default found with `registryTrust`. */
  caPem?: string;
  /** Dial this `ip:port` instead of resolving the host. */
  connectTo?: string;
  /** Skip the metrics probe. */
  skipMetrics?: boolean;
  timeoutMs?: number;
}

/** Read something; a refusal is a note, not a failure. */
async function readable<T>(read: () => Promise<T>, notes: string[], what: string): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (isRegistryPushError(error, 'FORBIDDEN', 'NOT_FOUND')) {
      notes.push(`${what}: ${error.code === 'FORBIDDEN' ? 'not allowed to read' : 'not found'}`);
      return undefined;
    }
    throw error;
  }
}

function storageLocation(storage: Record<string, unknown>, kind: string | undefined): string | undefined {
  if (kind === undefined) return undefined;
  const stanza = (storage[kind] ?? {}) as Record<string, unknown>;
  const names = ['claim', 'bucket', 'container', 'accountName'] as const;
  const parts = names
    .map((key) => stanza[key])
    .filter((value): value is string => typeof value === 'string' && value !== '');
  return parts.length === 0 ? undefined : parts.join('/');
}

function podReady(pod: PodSummary): boolean {
  return conditionOf(pod.status?.conditions, 'Ready')?.status === 'True';
}

async function replicaStatus(
  client: ClusterApi,
  config: RegistryConfig,
  notes: string[],
): Promise<ReplicaStatus> {
  const desired = config.spec.managementState === 'Removed' ? 0 : (config.spec.replicas ?? 1);
  const pods = await readable(
    () =>
      client.list<PodSummary>(Resources.pod, {
        namespace: RegistryNames.namespace,
        labelSelector: AdminNames.podSelector,
      }),
    notes,
    `pods in ${RegistryNames.namespace}`,
  );
  if (pods === undefined) {
    return { desired, ready: config.status?.readyReplicas ?? 0, source: 'operator', pods: [] };
  }
  const summaries = pods.map((pod) => ({
    name: pod.metadata.name,
    phase: pod.status?.phase ?? 'Unknown',
    ready: podReady(pod),
  }));
  return { desired, ready: summaries.filter((pod) => pod.ready).length, source: 'pods', pods: summaries };
}

async function routeStatuses(
  client: ClusterApi,
  config: RegistryConfig,
  notes: string[],
): Promise<RegistryRouteStatus[]> {
  const wanted: { name: string; kind: 'default' | 'custom'; host?: string }[] = [];
  if (config.spec.defaultRoute === true) wanted.push({ name: RegistryNames.defaultRoute, kind: 'default' });
  for (const entry of config.spec.routes ?? []) {
    wanted.push({
      name: entry.name,
      kind: 'custom',
      ...(entry.hostname === undefined ? {} : { host: entry.hostname }),
    });
  }
  const statuses: RegistryRouteStatus[] = [];
  for (const entry of wanted) {
    const where = `route ${entry.name} in ${RegistryNames.namespace}`;
    const route = await readable(
      () => client.get<Route>(Resources.route, entry.name, RegistryNames.namespace),
      notes,
      where,
    );
    if (route === undefined) {
      statuses.push({ ...entry, summary: 'not readable or not created yet' });
      continue;
    }
    const admission = routeAdmission(route);
    statuses.push({
      name: entry.name,
      kind: entry.kind,
      ...(admission.host === undefined ? {} : { host: admission.host }),
      admitted: admission.admitted,
      summary: admission.summary,
    });
  }
  return statuses;
}

function prunerStatus(pruner: ImagePruner): PrunerStatus {
  const conditions = pruner.status?.conditions ?? [];
  const failed = conditionOf(conditions, 'Failed');
  const when = failed?.lastTransitionTime === undefined ? '' : ` (${failed.lastTransitionTime})`;
  let lastResult = 'no pruner job has finished yet';
  if (failed?.status === 'False')
    lastResult = `succeeded${when}: ${failed.message ?? failed.reason ?? 'completed'}`;
  if (failed?.status === 'True') {
    lastResult = `failed${when}: ${[failed.reason, failed.message].filter(Boolean).join(': ')}`;
  }
  const schedule = pruner.spec?.schedule ?? '';
  return {
    schedule: schedule === '' ? `${AdminNames.defaultPrunerSchedule} (default)` : schedule,
    suspended: pruner.spec?.suspend === true,
    lastResult,
    conditions,
  };
}

/** The CA to probe `host` with: the given one, else the one `registryTrust` proves (the route's own first). */
async function metricsCa(
  client: ClusterApi,
  target: { host: string; route: RegistryRouteStatus | undefined },
  options: StatusOptions,
): Promise<{ caPem?: string } | MetricsReachability> {
  if (options.caPem !== undefined) return { caPem: options.caPem };
  const { host, route } = target;
  try {
    // A custom route serves its own certificate: look for the CA that signed that one first.
    const trust = await registryTrust({
      host,
      client,
      ...(route?.kind === 'custom' ? { routeName: route.name } : {}),
      ...(options.connectTo === undefined ? {} : { connectTo: options.connectTo }),
    });
    return trust.caPem === undefined ? {} : { caPem: trust.caPem };
  } catch (error) {
    if (!isRegistryPushError(error)) throw error;
    const state = error.code === 'REGISTRY_UNREACHABLE' ? 'unreachable' : 'untrusted';
    return { state, host, detail: error.message };
  }
}

async function metricsReachability(
  client: ClusterApi,
  target: { host: string | undefined; route: RegistryRouteStatus | undefined },
  options: StatusOptions,
): Promise<MetricsReachability> {
  const { host, route } = target;
  if (host === undefined) {
    return {
      state: 'no-host',
      detail: 'no admitted registry route; pass the registry host to probe metrics',
    };
  }
  const ca = await metricsCa(client, { host, route }, options);
  if ('state' in ca) return ca;
  const token = await client.bearerToken();
  try {
    const answer = await httpsGet({
      host,
      path: METRICS_PATH,
      action: 'read the metrics of',
      ...(token === undefined ? {} : { headers: { Authorization: `Bearer ${token}` } }),
      ...ca,
      ...(options.connectTo === undefined ? {} : { connectTo: options.connectTo }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    });
    if (answer.status === 200) return { state: 'ok', host, detail: `${METRICS_PATH} answered 200` };
    const error = metricsError(host, answer.status);
    return {
      state: error.code === 'METRICS_FORBIDDEN' ? 'forbidden' : 'unavailable',
      host,
      detail: error.message,
    };
  } catch (error) {
    if (!isRegistryPushError(error)) throw error;
    return {
      state: error.code === 'REGISTRY_TLS_UNTRUSTED' ? 'untrusted' : 'unreachable',
      host,
      detail: error.message,
    };
  }
}

/**
 * Read the registry's state as an admin sees it: management and storage, replicas against ready pods,
 * rollout strategy, routes with their admission, the operator's conditions, the image pruner, and whether
 * the metrics endpoint answers. Parts the caller may not read are listed in `notes`; only the operator
 * config itself is required.
 */
export async function registryStatus(
  client: ClusterApi,
  options: StatusOptions = {},
): Promise<RegistryStatus> {
  const notes: string[] = [];
  let config: RegistryConfig;
  try {
    config = await client.get<RegistryConfig>(Resources.registryConfig, RegistryNames.operatorConfig);
  } catch (error) {
    if (isRegistryPushError(error, 'FORBIDDEN')) {
      throw new RegistryPushError('FORBIDDEN', error.message, {
        hint: 'Registry status needs read access to configs.imageregistry.operator.openshift.io (cluster-reader or cluster-admin); `registry-push doctor` checks what you can do without it.',
        cause: error,
      });
    }
    throw error;
  }
  const state = registryState(config);
  const storage = config.spec.storage ?? {};
  const routes = await routeStatuses(client, config, notes);
  const pruner = await readable(
    () => client.get<ImagePruner>(Resources.imagePruner, AdminNames.imagePruner),
    notes,
    'imagepruners.imageregistry.operator.openshift.io/cluster',
  );
  const host = options.host ?? routes.find((route) => route.admitted === true)?.host;
  const location = storageLocation(storage, state.storage);
  return {
    managementState: state.managementState,
    storage: {
      kind: state.storage,
      ...(storage.managementState === undefined ? {} : { managementState: storage.managementState }),
      ...(location === undefined ? {} : { location }),
    },
    readOnly: state.readOnly,
    replicas: await replicaStatus(client, config, notes),
    rolloutStrategy: config.spec.rolloutStrategy ?? 'RollingUpdate',
    routes,
    conditions: config.status?.conditions ?? [],
    ...(pruner === undefined ? {} : { pruner: prunerStatus(pruner) }),
    metrics:
      options.skipMetrics === true
        ? { state: 'skipped', detail: 'not probed' }
        : await metricsReachability(
            client,
            { host, route: routes.find((route) => route.host === host) },
            options,
          ),
    notes,
  };
}
