import type { ClusterApi } from '../ports/cluster-api.js';
import { RegistryNames, Resources } from '../cluster/resources.js';
import type { RegistryConfig } from '../cluster/openshift-objects.js';
import { RegistryPushError, isRegistryPushError } from '../errors.js';
import { MANAGED_KEYS, STORAGE_BACKENDS, parseConfigSettings, type ConfigSetting } from './config-fields.js';
import { readOperatorConfig } from './operator-config.js';
import { AdminNames, AdminResources, type PersistentVolumeClaim } from './admin-objects.js';
import {
  CREDENTIAL_KEYS,
  missingCredentialKeys,
  planCredentials,
  writeCredentials,
  type CredentialsChange,
} from './storage.js';

export {
  AZURE_CLOUD_NAMES,
  CONFIG_FIELDS,
  STORAGE_BACKENDS,
  parseConfigSettings,
  type ConfigSetting,
} from './config-fields.js';

/** The annotation on `configs.imageregistry.operator.openshift.io/cluster` that holds the spec before the last change. */
export const PREVIOUS_SPEC_ANNOTATION = 'registry-push.io/previous-spec';

type Spec = Record<string, unknown>;

/** The recorded spec: the managed fields before a change (null for absent) and when it was recorded. */
export interface PreviousSpec {
  at: string;
  spec: Spec;
}

/** What {@link setRegistryConfig} or {@link undoRegistryConfig} did, or would do. */
export interface ConfigChangeResult {
  /** The merge patch (spec part empty: nothing to change, and nothing is sent). */
  patch: { metadata?: { annotations: Record<string, string> }; spec: Spec };
  /** The change as `- path: old` / `+ path: new` lines (URL passwords hidden). */
  diff: string[];
  dryRun: boolean;
  applied: boolean;
  warnings: string[];
  /** What was (or would be) done to `image-registry-private-configuration-user`: key names only. */
  credentials?: CredentialsChange;
}

/** Options of {@link setRegistryConfig} and {@link undoRegistryConfig}. */
export interface ConfigChangeOptions {
  /** Compute and return the patch; change nothing. */
  dryRun?: boolean;
  /**
   * Storage credentials by their documented key in `image-registry-private-configuration-user` (for
   * example `REGISTRY_STORAGE_S3_ACCESSKEY`), plain values; written to the secret before the config is
   * patched, never returned or printed. Only the keys of the storage backend after the change are taken.
   */
  credentials?: Readonly<Record<string, string>>;
  /** The recording time (default now), for tests. */
  now?: Date;
}

const CONFIG_ROLE_HINT =
  'Changing the registry config needs cluster-admin (patch on configs.imageregistry.operator.openshift.io). Ask an admin to run the same command.';

function forbidden(error: unknown): never {
  if (isRegistryPushError(error, 'FORBIDDEN')) {
    throw new RegistryPushError('FORBIDDEN', error.message, { hint: CONFIG_ROLE_HINT, cause: error });
  }
  throw error;
}

function readConfig(client: ClusterApi): Promise<RegistryConfig> {
  return readOperatorConfig(client, forbidden);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The spec as `config get` shows it: httpSecret (the upload signing secret) left out. */
function shownSpec(config: RegistryConfig): Spec {
  const { httpSecret: _secret, ...spec } = config.spec as Spec;
  return spec;
}

/**
 * Read the registry operator's spec, or one field of it by dotted path (`requests.read.maxRunning`);
 * undefined when the field is not set. `httpSecret` is never returned.
 */
export async function getRegistryConfig(client: ClusterApi, path?: string): Promise<unknown> {
  const spec = shownSpec(await readConfig(client));
  if (path === undefined || path === '') return spec;
  let value: unknown = spec;
  for (const part of path.split('.')) {
    if (!isObject(value)) return undefined;
    value = value[part];
  }
  return value;
}

/** The managed top-level fields of a spec, absent ones as null (so restoring them removes them). */
function managedPart(spec: Spec): Spec {
  return Object.fromEntries(MANAGED_KEYS.map((key) => [key, structuredClone(spec[key] ?? null)]));
}

/** The spec with the settings applied (pure). */
function applySettings(spec: Spec, settings: readonly ConfigSetting[]): Spec {
  const next = structuredClone(spec);
  for (const { path, value } of settings) {
    const parts = path.split('.');
    const last = parts.pop() ?? path;
    let at = next;
    for (const part of parts) {
      const child = at[part];
      if (!isObject(child)) at[part] = {};
      at = at[part] as Spec;
    }
    if (value === null) delete at[last];
    else at[last] = value;
  }
  return next;
}

/** The JSON merge patch (RFC 7386) that turns `from` into `to`: changed keys, null for removed ones. */
export function mergePatchBetween(from: Spec, to: Spec): Spec {
  const patch: Spec = {};
  for (const key of new Set([...Object.keys(from), ...Object.keys(to)])) {
    const before = from[key] ?? null;
    const after = to[key] ?? null;
    if (JSON.stringify(before) === JSON.stringify(after)) continue;
    patch[key] = isObject(before) && isObject(after) ? mergePatchBetween(before, after) : after;
  }
  return patch;
}

/** Leaf values by dotted path; arrays and empty objects are leaves. */
function leaves(value: unknown, prefix: string, into: Map<string, unknown>): Map<string, unknown> {
  if (isObject(value) && Object.keys(value).length > 0) {
    for (const [key, child] of Object.entries(value))
      leaves(child, prefix === '' ? key : `${prefix}.${key}`, into);
  } else if (value !== null && value !== undefined) {
    into.set(prefix, value);
  }
  return into;
}

/**
 * The text with the password of any `scheme://user:password@` URL replaced by `***` (pure): proxy URLs
 * may carry credentials, and diffs and patches end up in CI logs.
 */
export function hideUrlPasswords(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s"]*):[^@\s"/]*@/gi, '$1:***@');
}

function shown(value: unknown): string {
  return hideUrlPasswords(typeof value === 'string' ? value : JSON.stringify(value));
}

/** The change between two specs as readable lines: `- path: old`, `+ path: new`, sorted by path (pure). */
export function specDiff(before: Spec, after: Spec): string[] {
  const old = leaves(before, '', new Map());
  const next = leaves(after, '', new Map());
  const lines: string[] = [];
  for (const path of [...new Set([...old.keys(), ...next.keys()])].sort()) {
    const a = old.get(path);
    const b = next.get(path);
    if (JSON.stringify(a) === JSON.stringify(b)) continue;
    if (a !== undefined) lines.push(`- ${path}: ${shown(a)}`);
    if (b !== undefined) lines.push(`+ ${path}: ${shown(b)}`);
  }
  return lines;
}

/** The storage backends a spec configures (the operator wants exactly one). */
function storageBackends(spec: Spec): string[] {
  const storage = isObject(spec['storage']) ? spec['storage'] : {};
  return Object.keys(storage).filter(
    (key) => key !== 'managementState' && storage[key] !== null && storage[key] !== undefined,
  );
}

function refuse(message: string, hint: string, details: Record<string, string | number>): never {
  throw new RegistryPushError('STORAGE_REFUSED', message, { hint, details });
}

/**
 * The documented storage rules for replicas and rollout strategy, checked when a change touches either:
 * more than one replica needs shared storage, so not emptyDir and not a ReadWriteOnce claim; a
 * ReadWriteOnce claim needs rolloutStrategy Recreate (a rolling update would start the new pod while the
 * old one holds the volume). Returns warnings for what could not be checked.
 */
async function checkStorageRules(client: ClusterApi, before: Spec, after: Spec): Promise<string[]> {
  const replicas = typeof after['replicas'] === 'number' ? after['replicas'] : 1;
  const strategy = typeof after['rolloutStrategy'] === 'string' ? after['rolloutStrategy'] : 'RollingUpdate';
  const kind = storageBackends(after)[0];
  if (kind === 'emptyDir' && replicas > 1) {
    refuse(
      `replicas=${replicas} refused: the registry uses emptyDir storage, and the rule is that more than one replica needs shared storage (emptyDir gives each pod its own empty volume, so an image pushed through one pod is missing on the others).`,
      'Keep replicas=1 with emptyDir, or move to shared storage first (`registry-push enable --storage pvc=CLAIM` with a ReadWriteMany claim, or object storage).',
      { field: 'replicas', replicas, storage: kind },
    );
  }
  if (kind !== 'pvc') return [];
  const claimOf = (spec: Spec): string | undefined => {
    const pvc = isObject(spec['storage']) ? spec['storage']['pvc'] : undefined;
    return isObject(pvc) && typeof pvc['claim'] === 'string' && pvc['claim'] !== ''
      ? pvc['claim']
      : undefined;
  };
  const given = claimOf(after);
  const name = given ?? AdminNames.defaultClaim;
  const newClaim = given !== undefined && (storageBackends(before)[0] !== 'pvc' || claimOf(before) !== given);
  let claim: PersistentVolumeClaim | undefined;
  try {
    claim = await client.find<PersistentVolumeClaim>(
      AdminResources.persistentVolumeClaim,
      name,
      RegistryNames.namespace,
    );
  } catch (error) {
    if (!isRegistryPushError(error, 'FORBIDDEN')) throw error;
    return [
      `Could not read claim ${name} (not allowed), so the replicas and rollout rules for its access modes were not checked.`,
    ];
  }
  if (claim === undefined) {
    if (newClaim) {
      refuse(
        `storage.pvc.claim=${name} refused: claim ${name} does not exist in ${RegistryNames.namespace}, and the registry only mounts a claim of its own namespace.`,
        `Create it there first (ReadWriteMany, at least 100Gi), or set storage.pvc='{}' to let the operator create ${AdminNames.defaultClaim}.`,
        { field: 'storage.pvc.claim', claim: name },
      );
    }
    if (given === undefined) {
      return [
        `The operator will create claim ${AdminNames.defaultClaim} (ReadWriteMany, 100Gi): the cluster's default storage class must offer ReadWriteMany.`,
      ];
    }
    return [
      `Claim ${name} was not found in ${RegistryNames.namespace}, so its access modes were not checked.`,
    ];
  }
  claimRules(claim, replicas, strategy);
  return claimWarnings(claim);
}

/** The documented minimum: the registry's claim should have 100Gi. */
const MINIMUM_CLAIM_BYTES = 100 * 1024 ** 3;

const QUANTITY_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
  Pi: 1024 ** 5,
  Ei: 1024 ** 6,
};

/** Bytes of a Kubernetes quantity such as `20Gi` or `50G` (pure); undefined when it is not one. */
export function quantityBytes(quantity: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(quantity.trim());
  if (match === null) return undefined;
  return Number(match[1]) * (QUANTITY_UNITS[match[2] ?? ''] ?? 1);
}

function claimWarnings(claim: PersistentVolumeClaim): string[] {
  const warnings: string[] = [];
  const size = claim.spec.resources?.requests?.['storage'];
  const bytes = size === undefined ? undefined : quantityBytes(size);
  if (bytes !== undefined && bytes < MINIMUM_CLAIM_BYTES) {
    warnings.push(
      `Claim ${claim.metadata.name} requests ${size}: the documented size for the registry's claim is at least 100Gi; images fill a smaller volume quickly.`,
    );
  }
  if (!(claim.spec.accessModes ?? []).includes('ReadWriteMany')) {
    warnings.push(
      `Claim ${claim.metadata.name} is ReadWriteOnce (block storage): supported with one replica and rolloutStrategy Recreate, not recommended for production.`,
    );
  }
  return warnings;
}

/** The access-mode rules for the registry's claim (pure): see {@link checkStorageRules}. */
function claimRules(claim: PersistentVolumeClaim, replicas: number, strategy: string): void {
  const name = claim.metadata.name;
  const modes = claim.spec.accessModes ?? [];
  if (modes.includes('ReadWriteMany')) return;
  const readWriteOnce = modes.includes('ReadWriteOnce');
  const what = readWriteOnce
    ? 'is ReadWriteOnce'
    : `has access modes [${modes.join(', ')}], not ReadWriteMany`;
  if (replicas > 1) {
    refuse(
      `replicas=${replicas} refused: claim ${name} ${what}, and the rule is that more than one replica needs a ReadWriteMany claim (a ReadWriteOnce volume is mounted on one node only).`,
      `Keep replicas=1 (with rolloutStrategy=Recreate) on this claim, or move to a ReadWriteMany claim first (\`registry-push enable --storage pvc=CLAIM\`).`,
      { field: 'replicas', replicas, claim: name },
    );
  }
  if (readWriteOnce && strategy !== 'Recreate') {
    refuse(
      `rolloutStrategy=${strategy} refused: claim ${name} is ReadWriteOnce, and the rule is that a ReadWriteOnce claim needs rolloutStrategy Recreate (a rolling update starts the new pod while the old one still holds the volume, so it never finishes).`,
      'Set rolloutStrategy=Recreate.',
      { field: 'rolloutStrategy', claim: name },
    );
  }
}

/** What Removed does, said before it happens: with managed storage the operator deletes the images too. */
function removedWarning(config: RegistryConfig): string {
  const managed = config.spec.storage?.managementState === 'Managed';
  return `managementState Removed makes the operator delete the registry deployment, service and routes${
    managed
      ? ', and, since spec.storage.managementState is Managed, the storage with every image in it'
      : '; the storage is left in place (spec.storage.managementState is not Managed)'
  }. Pushes and pulls through the registry stop.`;
}

const EMPTYDIR_WARNING =
  'emptyDir is for non-production clusters only: every image is lost when the registry pod restarts or moves to another node.';

/** The one backend the spec after the change configures; refuses none or several (pure). */
function theBackend(before: Spec, after: Spec): string {
  const backends = storageBackends(after);
  if (backends.length > 1) {
    const old = storageBackends(before).filter((backend) => backends.includes(backend));
    refuse(
      `storage refused: it would configure ${backends.join(' and ')}, and the rule is exactly one storage backend (the operator reports an error when more than one is set).`,
      old.length > 0
        ? `To switch backends, also set ${old.map((backend) => `storage.${backend}=null`).join(' ')}.`
        : 'Set only one storage.<backend>.',
      { field: 'storage', backends: backends.join(',') },
    );
  }
  const kind = backends[0];
  if (kind === undefined) {
    refuse(
      'storage refused: it would configure no storage backend, and the registry needs one.',
      `Set one of storage.${STORAGE_BACKENDS.join(', storage.')}.`,
      { field: 'storage' },
    );
  }
  return kind;
}

/** What the CRD and the docs say about the backend's own fields: warnings, or a refusal (pure). */
function stanzaRules(kind: string, stanza: Spec): string[] {
  if (kind === 'emptyDir') return [EMPTYDIR_WARNING];
  if (kind === 's3' && stanza['keyID'] !== undefined && stanza['encrypt'] !== true) {
    return ['storage.s3.keyID is ignored unless storage.s3.encrypt is true (the CRD says so).'];
  }
  if (kind === 'oss') {
    const encryption = isObject(stanza['encryption']) ? stanza['encryption'] : {};
    const kms = encryption['kms'] !== undefined;
    if ((encryption['method'] === 'KMS') !== kms) {
      refuse(
        `storage.oss.encryption refused: the CRD's rule is that method KMS needs kms.keyID, and kms is only allowed with method KMS.`,
        kms ? 'Set storage.oss.encryption.method=KMS.' : 'Set storage.oss.encryption.kms.keyID=<key id>.',
        { field: 'storage.oss.encryption' },
      );
    }
  }
  return [];
}

/** Given credentials must be the backend's documented keys; warns when a needed key is nowhere. */
async function credentialRules(
  client: ClusterApi,
  kind: string,
  credentials: readonly string[],
): Promise<string[]> {
  const backend = kind in CREDENTIAL_KEYS ? (kind as keyof typeof CREDENTIAL_KEYS) : undefined;
  const keys: readonly string[] = backend === undefined ? [] : CREDENTIAL_KEYS[backend];
  const stray = credentials.filter((key) => !keys.includes(key));
  if (stray.length > 0) {
    throw new RegistryPushError(
      'OPTION_INVALID',
      keys.length === 0
        ? `${kind} storage takes no credentials, but ${stray.join(', ')} was given.`
        : `${stray.join(', ')} is not a credential of ${kind} storage; ${AdminNames.credentialsSecret} takes ${keys.join(', ')} for it.`,
      { hint: 'Give only the documented keys of the storage backend.', details: { field: 'credentials' } },
    );
  }
  if (backend === undefined) return [];
  const missing = await missingCredentialKeys(client, backend, credentials);
  if (missing.length === 0) return [];
  return [
    `No ${missing.join(', ')} given and ${RegistryNames.namespace}/${AdminNames.credentialsSecret} has none: the operator then needs the cluster's own cloud credentials (installer-provisioned infrastructure).`,
  ];
}

/**
 * The documented rules for a storage change (exactly one backend; credentials only with the keys of that
 * backend; what the CRD's cross-field rules say), with warnings for what is allowed but worth knowing.
 */
async function checkStorageChange(
  client: ClusterApi,
  before: Spec,
  after: Spec,
  credentials: readonly string[],
): Promise<string[]> {
  const kind = theBackend(before, after);
  const stanza = isObject(after['storage']) ? after['storage'][kind] : undefined;
  const warnings: string[] = [];
  const previous = storageBackends(before)[0];
  if (previous !== undefined && previous !== kind) {
    warnings.push(
      `Storage moves from ${previous} to ${kind}: images in the ${previous} storage are not copied, so pulls of existing images fail until they are pushed again.`,
    );
  }
  warnings.push(...stanzaRules(kind, isObject(stanza) ? stanza : {}));
  warnings.push(...(await credentialRules(client, kind, credentials)));
  return warnings;
}

/** Every rule a change is checked against, in order; the warnings of those that let it pass. */
async function changeWarnings(
  client: ClusterApi,
  config: RegistryConfig,
  { before, target, specPatch }: { before: Spec; target: Spec; specPatch: Spec },
  given: readonly string[],
): Promise<string[]> {
  const warnings =
    'storage' in specPatch || given.length > 0 ? await checkStorageChange(client, before, target, given) : [];
  if ('replicas' in specPatch || 'rolloutStrategy' in specPatch || 'storage' in specPatch) {
    warnings.push(...(await checkStorageRules(client, before, target)));
  }
  if (specPatch['managementState'] === 'Removed') warnings.push(removedWarning(config));
  return warnings;
}

/** Check, patch (recording the previous managed fields in the same patch) and report one change. */
async function change(
  client: ClusterApi,
  config: RegistryConfig,
  after: Spec,
  options: ConfigChangeOptions,
): Promise<ConfigChangeResult> {
  const before = managedPart(config.spec);
  const target = managedPart(after);
  const specPatch = mergePatchBetween(before, target);
  const dryRun = options.dryRun === true;
  const diff = specDiff(before, target);
  const given = Object.keys(options.credentials ?? {});
  if (Object.keys(specPatch).length === 0 && given.length === 0) {
    return { patch: { spec: {} }, diff, dryRun, applied: false, warnings: [] };
  }
  const warnings = await changeWarnings(client, config, { before, target, specPatch }, given);
  const secret =
    given.length === 0 ? undefined : await planCredentials(client, { ...options.credentials }, forbidden);
  const said = secret === undefined ? {} : { credentials: secret.change };
  if (Object.keys(specPatch).length === 0) {
    // Only the credentials change: nothing to record, since undo restores the spec, not the secret.
    if (!dryRun && secret !== undefined) await writeCredentials(client, secret, forbidden);
    return { patch: { spec: {} }, diff, dryRun, applied: false, warnings, ...said };
  }
  const previous: PreviousSpec = { at: (options.now ?? new Date()).toISOString(), spec: before };
  const patch = {
    metadata: { annotations: { [PREVIOUS_SPEC_ANNOTATION]: JSON.stringify(previous) } },
    spec: specPatch,
  };
  if (dryRun) return { patch, diff, dryRun, applied: false, warnings, ...said };
  // The secret first: the operator reads it when it acts on the new spec.
  if (secret !== undefined) await writeCredentials(client, secret, forbidden);
  try {
    // The resourceVersion makes the patch fail with a conflict if someone changed the config since it was
    // read, so the recorded previous spec is exactly what this change replaced.
    await client.mergePatch(Resources.registryConfig, RegistryNames.operatorConfig, {
      ...patch,
      metadata: { ...patch.metadata, resourceVersion: config.metadata.resourceVersion },
    });
  } catch (error) {
    forbidden(error);
  }
  return { patch, diff, dryRun, applied: true, warnings, ...said };
}

/**
 * Change the registry operator's spec with `path=value` settings (see the CLI README for the fields).
 * Values are checked against the CRD types first (`OPTION_INVALID` naming the field and the allowed
 * values), replicas and rollout strategy against the storage rules (`STORAGE_REFUSED` with the rule);
 * the spec before the change is recorded in the {@link PREVIOUS_SPEC_ANNOTATION} annotation by the same
 * merge patch, for {@link undoRegistryConfig}. With `dryRun` nothing is sent.
 */
export async function setRegistryConfig(
  client: ClusterApi,
  settings: readonly string[],
  options: ConfigChangeOptions = {},
): Promise<ConfigChangeResult> {
  const parsed = parseConfigSettings(settings);
  return onFreshConfig(client, (config) =>
    change(client, config, applySettings(config.spec, parsed), options),
  );
}

/** Writes that the config met while a change was computed (the operator's own status updates, mostly). */
const CONFLICT_ATTEMPTS = 5;

/**
 * Makes a change on the config as read now. The patch carries that read's resourceVersion, so a write
 * in between (the operator updates the status whenever it acts) is a conflict: the config is read again and
 * the change computed again on it, so what is recorded as the previous spec is still exactly what it replaces.
 */
async function onFreshConfig<T>(
  client: ClusterApi,
  make: (config: RegistryConfig) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const config = await readConfig(client);
    try {
      return await make(config);
    } catch (error) {
      if (attempt >= CONFLICT_ATTEMPTS || !isRegistryPushError(error, 'CONFLICT')) throw error;
    }
  }
}

function recordedSpec(config: RegistryConfig): PreviousSpec {
  const text = config.metadata.annotations?.[PREVIOUS_SPEC_ANNOTATION];
  if (text === undefined) {
    throw new RegistryPushError(
      'OPTION_INVALID',
      `Nothing to undo: configs.imageregistry.operator.openshift.io/cluster has no ${PREVIOUS_SPEC_ANNOTATION} annotation (no change was made with registry-push config set).`,
      { hint: 'Change the config with `registry-push config set` first.' },
    );
  }
  let previous: unknown;
  try {
    previous = JSON.parse(text) as unknown;
  } catch {
    previous = undefined;
  }
  if (!isObject(previous) || !isObject(previous['spec']) || typeof previous['at'] !== 'string') {
    throw new RegistryPushError(
      'OPTION_INVALID',
      `The ${PREVIOUS_SPEC_ANNOTATION} annotation is not a recorded spec (someone edited it), so there is nothing safe to undo.`,
      {
        hint: `Remove the annotation (\`oc annotate configs.imageregistry.operator.openshift.io cluster ${PREVIOUS_SPEC_ANNOTATION}-\`) and set the fields with \`registry-push config set\`.`,
      },
    );
  }
  return { at: previous['at'], spec: previous['spec'] };
}

/**
 * Restore the spec recorded by the last {@link setRegistryConfig} (or undo), recording the current one in
 * its place, so a second undo returns to where the first started. The storage rules are checked again,
 * since storage may have changed since the record was made.
 */
export async function undoRegistryConfig(
  client: ClusterApi,
  options: ConfigChangeOptions = {},
): Promise<ConfigChangeResult & { recordedAt: string }> {
  return onFreshConfig(client, async (config) => {
    const previous = recordedSpec(config);
    const restored = { ...(config.spec as Spec) };
    for (const key of MANAGED_KEYS) {
      // A record made before a field was managed (storage) leaves that field as it is.
      if (!(key in previous.spec)) continue;
      const value = previous.spec[key];
      if (value === null || value === undefined) delete restored[key];
      else restored[key] = value;
    }
    return { ...(await change(client, config, restored, options)), recordedAt: previous.at };
  });
}
