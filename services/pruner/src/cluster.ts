/**
 * What the service reads from the cluster besides the snapshot: the ImagePruner CR (schedule, policy,
 * history limits), the registry operator's managementState (the mode), where the registry is, and the
 * token to reach it with. Nothing here writes, except Kubernetes Events about runs.
 */
import { existsSync } from 'node:fs';
import {
  ClusterClient,
  type ClusterApi,
  RegistryClient,
  RegistryNames,
  Resources,
  createPruneRegistry,
  isRegistryPushError,
  pruneModeFor,
  type ClientPruneRegistry,
  type ClusterAccessOptions,
  type ImageConfig,
  type ImagePruner,
  type ImagePrunerSpec,
  type KubeObject,
  type PruneMode,
  type RegistryConfig,
} from '@registry-push/core';
import { PrunerError } from './errors.js';
import { readRegistryCa, type ModeSetting, type RegistrySettings } from './settings.js';

/** The operator's default schedule: daily at midnight. */
export const DEFAULT_SCHEDULE = '0 0 * * *';
/** The operator's default history limits. */
export const DEFAULT_HISTORY_LIMIT = 3;

/**
 * Annotation on the ImagePruner that overrides `spec.suspend` for this service only. The operator's own
 * CronJob follows the same CR, so replacing it means suspending the CR (the CronJob stops) and setting this
 * to `"false"` (the service goes on): one pruner at a time.
 */
export const SUSPEND_ANNOTATION = 'registry-push.io/pruner-suspend';

/** The ImagePruner CR as the service uses it. */
export interface PrunerConfig {
  /** Cron expression (five fields, or six with seconds). */
  schedule: string;
  suspend: boolean;
  successfulHistoryLimit: number;
  failedHistoryLimit: number;
  /** The whole spec, for the pruning policy. */
  spec: ImagePrunerSpec;
  /** Identity of what was read, to notice changes. */
  resourceVersion: string;
  generation: number;
  uid?: string;
  /** False when the CR does not exist and the operator's defaults are used. */
  found: boolean;
}

function count(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : fallback;
}

function suspendOf(object: ImagePruner | undefined): boolean {
  const annotation = object?.metadata.annotations?.[SUSPEND_ANNOTATION];
  if (annotation === 'true' || annotation === 'false') return annotation === 'true';
  return object?.spec?.suspend === true;
}

/** The config of an ImagePruner object (or the operator's defaults for a missing one). */
export function prunerConfigOf(object: ImagePruner | undefined): PrunerConfig {
  const spec = object?.spec ?? {};
  const schedule =
    typeof spec.schedule === 'string' && spec.schedule.trim() !== ''
      ? spec.schedule.trim()
      : DEFAULT_SCHEDULE;
  return {
    schedule,
    suspend: suspendOf(object),
    successfulHistoryLimit: count(spec.successfulJobsHistoryLimit, DEFAULT_HISTORY_LIMIT),
    failedHistoryLimit: count(spec.failedJobsHistoryLimit, DEFAULT_HISTORY_LIMIT),
    // A missing CR is bootstrapped by the operator with ignoreInvalidImageReferences true.
    spec: object === undefined ? { ignoreInvalidImageReferences: true } : spec,
    resourceVersion: object?.metadata.resourceVersion ?? '',
    generation: object?.metadata.generation ?? 0,
    ...(object?.metadata.uid !== undefined ? { uid: object.metadata.uid } : {}),
    found: object !== undefined,
  };
}

/**
 * Reads `imagepruners.imageregistry.operator.openshift.io/cluster`.
 *
 * @throws RegistryPushError when it cannot be read (FORBIDDEN names the missing permission).
 */
export async function readPrunerConfig(client: ClusterApi): Promise<PrunerConfig> {
  return prunerConfigOf(await client.find<ImagePruner>(Resources.imagePruner, RegistryNames.operatorConfig));
}

/** The registry operator's `spec.managementState` (`Managed`, `Removed`, `Unmanaged`). */
export async function readManagementState(client: ClusterApi): Promise<string | undefined> {
  const config = await client.get<RegistryConfig>(Resources.registryConfig, RegistryNames.operatorConfig);
  return config.spec?.managementState;
}

/** The mode now: forced by the setting, or from the managementState. */
export async function currentMode(client: ClusterApi, setting: ModeSetting): Promise<PruneMode> {
  if (setting !== 'auto') return setting;
  return pruneModeFor(await readManagementState(client));
}

/** Where and how to reach the registry. */
export interface RegistryTarget {
  host: string;
  caPem?: string;
  connectTo?: string;
}

const SERVICE_CA = '/var/run/secrets/kubernetes.io/serviceaccount/service-ca.crt';

/** The registry to prune: from the settings, else the cluster's internal registry host and the pod's service CA. */
export async function registryTarget(
  client: ClusterApi,
  settings: RegistrySettings,
): Promise<RegistryTarget> {
  let host = settings.host;
  if (host === undefined) {
    const image = await client.get<ImageConfig>(Resources.imageConfig, RegistryNames.operatorConfig);
    host = image.status?.internalRegistryHostname;
  }
  if (host === undefined || host === '') {
    throw new PrunerError(
      'PRUNER_SETTING_INVALID',
      'The registry host is unknown: images.config.openshift.io/cluster has no internalRegistryHostname.',
      {
        hint: 'Set PRUNER_REGISTRY_HOST, or prune in metadata mode.',
      },
    );
  }
  const caPem = readRegistryCa(settings, existsSync(SERVICE_CA) ? SERVICE_CA : undefined);
  return {
    host,
    ...(caPem !== undefined ? { caPem } : {}),
    ...(settings.connectTo !== undefined ? { connectTo: settings.connectTo } : {}),
  };
}

/** The bearer token of the client's credentials; the registry takes the same token. */
export async function tokenOf(client: ClusterApi): Promise<string> {
  const token = await client.bearerToken();
  if (token === undefined) {
    throw new PrunerError(
      'PRUNER_SETTING_INVALID',
      'The cluster credentials carry no bearer token, and the registry needs one.',
      {
        hint: 'Use a service account or an `oc login` token (client certificates cannot authenticate to the registry).',
      },
    );
  }
  return token;
}

/**
 * Checks that the registry answers and takes the token, before anything is changed: a run that cannot
 * reach the registry stops here instead of trimming histories it cannot follow up on.
 */
export async function preflightRegistry(target: RegistryTarget, token: string): Promise<void> {
  const client = new RegistryClient({
    ...target,
    credentials: { kind: 'bearer', token },
    retry: { retries: 1 },
    timeoutMs: 15_000,
  });
  try {
    await client.checkLogin();
  } finally {
    await client.close();
  }
}

/** The registry port for a full prune, with the client's token. */
export async function openRegistry(
  client: ClusterApi,
  settings: RegistrySettings,
): Promise<ClientPruneRegistry> {
  const target = await registryTarget(client, settings);
  const token = await tokenOf(client);
  await preflightRegistry(target, token);
  return createPruneRegistry({ ...target, credentials: { kind: 'bearer', token } });
}

/** Builds the client from kubeconfig, server+token or in-cluster access (as the core decides). */
export function connectCluster(options: ClusterAccessOptions): ClusterApi {
  return ClusterClient.fromOptions(options);
}

/** A Kubernetes Event about the ImagePruner: why, what, and how it ended. */
export interface RunEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

const EVENT = { apiVersion: 'v1', kind: 'Event', plural: 'events', namespaced: true } as const;

/**
 * Records Events on `imagepruners/cluster` (in `default`: kube files Events about cluster-scoped objects
 * there). An API server that refuses them (another namespace, no events API) or a role
 * without `create events` turns it off after the first try, with one log line, and never fails a run.
 */
export class EventRecorder {
  #enabled = true;

  constructor(
    private readonly client: ClusterApi,
    private readonly namespace: string,
    private readonly component: string,
    private readonly onDisabled: (reason: string) => void,
  ) {}

  /** Records one event; errors are swallowed after turning the recorder off when they are permanent. */
  async record(event: RunEvent, pruner: { uid?: string } = {}): Promise<void> {
    if (!this.#enabled) return;
    const now = new Date().toISOString();
    try {
      await this.client.create<KubeObject>(EVENT, {
        metadata: {
          name: `imagepruner-cluster.${Date.now().toString(16)}${Math.random().toString(16).slice(2, 8)}`,
          namespace: this.namespace,
        },
        involvedObject: {
          apiVersion: Resources.imagePruner.apiVersion,
          kind: Resources.imagePruner.kind,
          name: RegistryNames.operatorConfig,
          ...(pruner.uid !== undefined ? { uid: pruner.uid } : {}),
        },
        type: event.type,
        reason: event.reason,
        message: event.message.slice(0, 1024),
        source: { component: this.component },
        reportingComponent: this.component,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      } as KubeObject);
    } catch (error) {
      if (isRegistryPushError(error, 'NOT_FOUND', 'FORBIDDEN', 'API_ERROR')) {
        this.#enabled = false;
        this.onDisabled(error.message);
      }
    }
  }
}
