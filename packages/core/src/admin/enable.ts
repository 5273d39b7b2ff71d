import { setTimeout as sleep } from 'node:timers/promises';
import type { ClusterApi } from '../ports/cluster-api.js';
import { RegistryNames, Resources } from '../cluster/resources.js';
import { conditionOf, type Condition, type RegistryConfig } from '../cluster/openshift-objects.js';
import { RegistryPushError, isRegistryPushError } from '../errors.js';
import { STORAGE_KINDS, registryState } from '../expose/registry-state.js';
import { readOperatorConfig } from './operator-config.js';
import type { AdminProgress } from './admin-objects.js';
import {
  credentialData,
  planCredentials,
  planStorage,
  writeCredentials,
  type CredentialsChange,
  type CredentialsWrite,
  type StorageCredentials,
  type StorageRequest,
} from './storage.js';

export type { CredentialsChange } from './storage.js';

/** Options of {@link enableRegistry}. */
export interface EnableOptions {
  storage: StorageRequest;
  /** Written to `image-registry-private-configuration-user`; never printed or returned. */
  credentials?: StorageCredentials;
  replicas?: number;
  rolloutStrategy?: 'RollingUpdate' | 'Recreate';
  /** Only check and compute the patch; change nothing. */
  dryRun?: boolean;
  /** Wait for the registry to become Available (default true). */
  wait?: boolean;
  /** How long to wait (default 300 s). */
  timeoutMs?: number;
  /** Polling interval while waiting (default 1 s). */
  intervalMs?: number;
  onProgress?: (progress: AdminProgress) => void;
  signal?: AbortSignal;
}

/** What {@link enableRegistry} did, or would do with `dryRun`. */
export interface EnableResult {
  /** The merge patch for configs.imageregistry.operator.openshift.io/cluster (empty spec: nothing to change). */
  patch: { spec: Record<string, unknown> };
  credentials?: CredentialsChange;
  dryRun: boolean;
  /** Whether the patch was applied (false for a dry run or when nothing needed changing). */
  applied: boolean;
  /** Whether the registry was seen Available (undefined when not waited for). */
  available?: boolean;
  readyReplicas?: number;
  conditions?: Condition[];
  warnings: string[];
}

const ENABLE_ROLE_HINT =
  'Enabling the registry needs cluster-admin (patch on configs.imageregistry.operator.openshift.io, and secrets in openshift-image-registry). ' +
  'Ask an admin to run `registry-push enable` with the same options.';

function forbidden(error: unknown): never {
  if (isRegistryPushError(error, 'FORBIDDEN')) {
    throw new RegistryPushError('ENABLE_FORBIDDEN', error.message, { hint: ENABLE_ROLE_HINT, cause: error });
  }
  throw error;
}

function hasBackend(config: RegistryConfig, kind: string): boolean {
  const value = config.spec.storage?.[kind];
  return value !== undefined && value !== null;
}

/** Whether the configured stanza already is what was asked for (fields the operator filled in aside). */
function sameStorage(config: RegistryConfig, kind: string, stanza: Record<string, unknown>): boolean {
  if (!hasBackend(config, kind)) return false;
  const current = config.spec.storage?.[kind] as Record<string, unknown>;
  const others = STORAGE_KINDS.filter((other) => other !== kind && hasBackend(config, other));
  return (
    others.length === 0 &&
    Object.entries(stanza).every(([key, value]) => JSON.stringify(current[key]) === JSON.stringify(value))
  );
}

/** The merge patch: Managed, the storage stanza (other backends removed), replicas and strategy. */
function buildPatch(
  config: RegistryConfig,
  plan: { kind: string; stanza: Record<string, unknown>; replicas: number; rolloutStrategy: string },
  options: EnableOptions,
): { spec: Record<string, unknown> } {
  const spec: Record<string, unknown> = {};
  if (config.spec.managementState !== 'Managed') spec['managementState'] = 'Managed';
  if (!sameStorage(config, plan.kind, plan.stanza)) {
    const storage: Record<string, unknown> = { [plan.kind]: plan.stanza };
    for (const other of STORAGE_KINDS) {
      if (other !== plan.kind && hasBackend(config, other)) storage[other] = null;
    }
    // A claim named before but not now: let the operator pick (and create) its default claim.
    if (plan.kind === 'pvc' && plan.stanza['claim'] === undefined && hasBackend(config, 'pvc')) {
      storage['pvc'] = { claim: null };
    }
    spec['storage'] = storage;
  }
  if (options.replicas !== undefined && config.spec.replicas !== plan.replicas) {
    spec['replicas'] = plan.replicas;
  }
  if (options.rolloutStrategy !== undefined && config.spec.rolloutStrategy !== plan.rolloutStrategy) {
    spec['rolloutStrategy'] = plan.rolloutStrategy;
  }
  return { spec };
}

async function credentialsChange(
  client: ClusterApi,
  credentials: StorageCredentials,
): Promise<CredentialsWrite> {
  return planCredentials(client, credentialData(credentials), forbidden);
}

async function writeSecret(
  client: ClusterApi,
  secret: CredentialsWrite,
  progress: (step: AdminProgress['step'], message: string) => void,
): Promise<void> {
  const { change } = secret;
  if (change.action === 'unchanged') return;
  const verb = change.action === 'create' ? 'creating' : 'updating';
  progress('secret', `${verb} secret ${change.namespace}/${change.name} (keys ${change.keys.join(', ')})`);
  await writeCredentials(client, secret, forbidden);
}

function describeConditions(config: RegistryConfig): string {
  return ['Available', 'Progressing', 'Degraded', 'StorageExists']
    .map((type) => conditionOf(config.status?.conditions, type))
    .filter((condition): condition is Condition => condition !== undefined)
    .map(
      (c) =>
        `${c.type}=${c.status}${c.reason ? ` (${[c.reason, c.message].filter(Boolean).join(': ')})` : ''}`,
    )
    .join('; ');
}

/** The storage failure the operator reports for the current spec, if any. */
function storageFailure(config: RegistryConfig): string | undefined {
  const exists = conditionOf(config.status?.conditions, 'StorageExists');
  if (exists !== undefined && exists.status !== 'True' && exists.message) return exists.message;
  const available = conditionOf(config.status?.conditions, 'Available');
  if (available?.status === 'False' && available.reason === 'StorageNotConfigured') {
    return available.message ?? 'storage backend not configured';
  }
  return undefined;
}

/** Whether the operator has acted on the latest spec and the registry is Available; throws on storage failure. */
function settled(config: RegistryConfig): boolean {
  const status = config.status as { observedGeneration?: number } | undefined;
  if (status?.observedGeneration !== config.metadata.generation) return false;
  const available = conditionOf(config.status?.conditions, 'Available');
  if (available?.status === 'True' && available.reason !== 'Removed') return true;
  const failure = storageFailure(config);
  if (failure !== undefined) {
    throw new RegistryPushError('STORAGE_FAILED', `The operator cannot use the storage: ${failure}`, {
      hint: 'Fix the storage (see `registry-push doctor`) and run enable again.',
      details: { conditions: describeConditions(config) },
    });
  }
  return false;
}

function progressLine(config: RegistryConfig): string {
  const status = config.status as { observedGeneration?: number } | undefined;
  if (status?.observedGeneration !== config.metadata.generation) {
    return 'waiting for the operator to see the change';
  }
  return `${config.status?.readyReplicas ?? 0}/${config.spec.replicas ?? 1} replicas ready; ${describeConditions(config)}`;
}

async function waitForAvailable(
  client: ClusterApi,
  options: EnableOptions,
  progress: (step: AdminProgress['step'], message: string) => void,
): Promise<RegistryConfig> {
  const timeoutMs = options.timeoutMs ?? 300_000;
  const intervalMs = options.intervalMs ?? 1_000;
  const deadline = Date.now() + timeoutMs;
  let last: RegistryConfig | undefined;
  let lastLine = '';
  for (;;) {
    last = await client.get<RegistryConfig>(Resources.registryConfig, RegistryNames.operatorConfig);
    const line = progressLine(last);
    if (line !== lastLine) progress('wait', line);
    lastLine = line;
    if (settled(last)) return last;
    if (Date.now() + intervalMs > deadline) break;
    await sleep(intervalMs, undefined, { signal: options.signal });
  }
  throw new RegistryPushError(
    'REGISTRY_NOT_AVAILABLE',
    `The registry did not become Available within ${Math.round(timeoutMs / 1000)} s: ${describeConditions(last)}.`,
    {
      hint: 'Run `registry-push status` to follow it; `oc get pods -n openshift-image-registry` shows the registry pods.',
      retryable: true,
    },
  );
}

function readConfig(client: ClusterApi): Promise<RegistryConfig> {
  return readOperatorConfig(client, forbidden);
}

async function applyPatch(
  client: ClusterApi,
  patch: { spec: Record<string, unknown> },
  kind: string,
  progress: (step: AdminProgress['step'], message: string) => void,
): Promise<boolean> {
  if (Object.keys(patch.spec).length === 0) {
    progress('patch', `already Managed with this ${kind} storage; nothing to patch`);
    return false;
  }
  progress('patch', `patching configs.imageregistry.operator.openshift.io/cluster: ${JSON.stringify(patch)}`);
  try {
    await client.mergePatch(Resources.registryConfig, RegistryNames.operatorConfig, patch);
  } catch (error) {
    forbidden(error);
  }
  return true;
}

/**
 * The seed procedure for a registry without storage (bare metal, vSphere, user-provisioned clouds), as one
 * call: check the storage combination (refusing what the docs forbid), write the storage credentials secret,
 * set the storage stanza and `managementState: Managed` with one merge patch, and wait for the operator to
 * report the registry Available. With `dryRun` nothing is written and the patch is returned.
 */
export async function enableRegistry(client: ClusterApi, options: EnableOptions): Promise<EnableResult> {
  const progress = (step: AdminProgress['step'], message: string): void =>
    options.onProgress?.({ step, message });
  progress('config', 'reading configs.imageregistry.operator.openshift.io/cluster');
  const config = await readConfig(client);
  progress('storage', `checking ${options.storage.kind} storage`);
  const plan = await planStorage(client, config, options.storage, options);
  const patch = buildPatch(config, plan, options);
  const secret =
    options.credentials === undefined ? undefined : await credentialsChange(client, options.credentials);
  const dryRun = options.dryRun === true;
  const base = {
    patch,
    ...(secret === undefined ? {} : { credentials: secret.change }),
    dryRun,
    warnings: plan.warnings,
  };
  if (dryRun) return { ...base, applied: false };
  if (secret !== undefined) await writeSecret(client, secret, progress);
  const applied = await applyPatch(client, patch, options.storage.kind, progress);
  if (options.wait === false) return { ...base, applied };
  const ready = await waitForAvailable(client, options, progress);
  if (registryState(ready).readOnly) {
    plan.warnings.push('The registry is read-only (spec.readOnly): pulls work, pushes are refused.');
  }
  return {
    ...base,
    applied,
    available: true,
    readyReplicas: ready.status?.readyReplicas ?? 0,
    conditions: ready.status?.conditions ?? [],
  };
}
