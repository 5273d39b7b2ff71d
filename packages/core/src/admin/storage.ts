import type { ClusterApi } from '../ports/cluster-api.js';
import { RegistryNames, Resources } from '../cluster/resources.js';
import type { DataObject, RegistryConfig } from '../cluster/openshift-objects.js';
import { RegistryPushError, isRegistryPushError } from '../errors.js';
import { AdminNames, AdminResources, type PersistentVolumeClaim } from './admin-objects.js';
import { checkStorageStanza } from './config-fields.js';

/** The storage `enable` can configure, with the stanza fields an admin usually sets. */
export type StorageRequest =
  | { kind: 'emptyDir' }
  | { kind: 'pvc'; claim?: string }
  | { kind: 's3'; bucket?: string; region?: string; regionEndpoint?: string }
  | { kind: 'gcs'; bucket?: string; region?: string; projectID?: string }
  | { kind: 'azure'; accountName?: string; container?: string; cloudName?: string }
  | {
      kind: 'swift';
      container?: string;
      authURL?: string;
      authVersion?: string;
      domain?: string;
      tenant?: string;
      regionName?: string;
    }
  | {
      kind: 'ibmcos';
      bucket?: string;
      location?: string;
      resourceGroupName?: string;
      resourceKeyCRN?: string;
      serviceInstanceCRN?: string;
    }
  | { kind: 'oss'; bucket?: string; region?: string; endpointAccessibility?: 'Internal' | 'Public' };

/** Storage credentials for `image-registry-private-configuration-user`; never printed. */
export type StorageCredentials =
  | { kind: 's3'; accessKey: string; secretKey: string }
  | { kind: 'gcs'; keyfile: string }
  | { kind: 'azure'; accountKey: string }
  | { kind: 'swift'; username: string; password: string }
  | { kind: 'ibmcos'; iamApiKey: string }
  | { kind: 'oss'; accessKeyId: string; accessKeySecret: string };

/** The keys the registry operator reads from the credentials secret, per backend (OpenShift docs). */
export const CREDENTIAL_KEYS = {
  s3: ['REGISTRY_STORAGE_S3_ACCESSKEY', 'REGISTRY_STORAGE_S3_SECRETKEY'],
  gcs: ['REGISTRY_STORAGE_GCS_KEYFILE'],
  azure: ['REGISTRY_STORAGE_AZURE_ACCOUNTKEY'],
  swift: ['REGISTRY_STORAGE_SWIFT_USERNAME', 'REGISTRY_STORAGE_SWIFT_PASSWORD'],
  // The operator reads the IAM API key and gets the bucket's HMAC keys itself from the resource key CRN.
  ibmcos: ['REGISTRY_STORAGE_IBMCOS_IAMAPIKEY'],
  // Alibaba: the operator reads an ini profile (`[default]`, `type = access_key`, `access_key_id = …`,
  // `access_key_secret = …`) under the key `credentials`, as its minted cloud credentials have it.
  oss: ['credentials'],
} as const;

/** What happened to the credentials secret (its keys, never its values). */
export interface CredentialsChange {
  namespace: string;
  name: string;
  keys: string[];
  action: 'create' | 'update' | 'unchanged';
}

/** A planned write of the credentials secret: what is said about it, and the base64 data to write. */
export interface CredentialsWrite {
  change: CredentialsChange;
  data: Record<string, string>;
}

/**
 * Compare plain credential values with `image-registry-private-configuration-user` (read, not written).
 *
 * @param forbidden Turns a FORBIDDEN answer into the caller's error.
 */
export async function planCredentials(
  client: ClusterApi,
  plain: Record<string, string>,
  forbidden: (error: unknown) => never,
): Promise<CredentialsWrite> {
  const data = Object.fromEntries(
    Object.entries(plain).map(([key, value]) => [key, Buffer.from(value).toString('base64')]),
  );
  let existing: DataObject | undefined;
  try {
    existing = await client.find<DataObject>(
      Resources.secret,
      AdminNames.credentialsSecret,
      RegistryNames.namespace,
    );
  } catch (error) {
    forbidden(error);
  }
  const action =
    existing === undefined
      ? 'create'
      : Object.entries(data).every(([key, value]) => existing.data?.[key] === value)
        ? 'unchanged'
        : 'update';
  return {
    change: {
      namespace: RegistryNames.namespace,
      name: AdminNames.credentialsSecret,
      keys: Object.keys(data),
      action,
    },
    data,
  };
}

/** Create or merge-patch the credentials secret (other keys kept); nothing when unchanged. */
export async function writeCredentials(
  client: ClusterApi,
  { change, data }: CredentialsWrite,
  forbidden: (error: unknown) => never,
): Promise<void> {
  try {
    if (change.action === 'create') {
      await client.create<DataObject>(Resources.secret, {
        metadata: { name: change.name, namespace: change.namespace },
        type: 'Opaque',
        data,
      });
    } else if (change.action === 'update') {
      await client.mergePatch(Resources.secret, change.name, { data }, change.namespace);
    }
  } catch (error) {
    forbidden(error);
  }
}

/** The keys of the credentials secret the backend needs that neither `given` nor the secret has. */
export async function missingCredentialKeys(
  client: ClusterApi,
  backend: keyof typeof CREDENTIAL_KEYS,
  given: readonly string[],
): Promise<string[]> {
  let secret: DataObject | undefined;
  try {
    secret = await client.find<DataObject>(
      Resources.secret,
      AdminNames.credentialsSecret,
      RegistryNames.namespace,
    );
  } catch (error) {
    if (!isRegistryPushError(error, 'FORBIDDEN')) throw error;
  }
  return CREDENTIAL_KEYS[backend].filter((key) => !given.includes(key) && secret?.data?.[key] === undefined);
}

/** Why a storage combination cannot work, and what to do instead. */
export interface StorageProblem {
  message: string;
  fix: string;
}

/** What {@link planStorage} decided. */
export interface StoragePlan {
  /** The `spec.storage` backend key and its stanza. */
  kind: StorageRequest['kind'];
  stanza: Record<string, unknown>;
  replicas: number;
  rolloutStrategy: string;
  warnings: string[];
}

const EMPTYDIR_WARNING =
  'emptyDir is for non-production clusters only: every image is lost when the registry pod restarts or moves to another node.';

/** The `spec.storage.<kind>` stanza of a request (unset fields left out). */
export function storageStanza(request: StorageRequest): Record<string, unknown> {
  const { kind: _kind, ...fields } = request;
  return Object.fromEntries(
    Object.entries(fields).filter(([, value]) => value !== undefined && value !== ''),
  );
}

/** The secret data (plain values) for some credentials. */
export function credentialData(credentials: StorageCredentials): Record<string, string> {
  switch (credentials.kind) {
    case 's3':
      return {
        REGISTRY_STORAGE_S3_ACCESSKEY: credentials.accessKey,
        REGISTRY_STORAGE_S3_SECRETKEY: credentials.secretKey,
      };
    case 'gcs':
      return { REGISTRY_STORAGE_GCS_KEYFILE: credentials.keyfile };
    case 'azure':
      return { REGISTRY_STORAGE_AZURE_ACCOUNTKEY: credentials.accountKey };
    case 'swift':
      return {
        REGISTRY_STORAGE_SWIFT_USERNAME: credentials.username,
        REGISTRY_STORAGE_SWIFT_PASSWORD: credentials.password,
      };
    case 'ibmcos':
      return { REGISTRY_STORAGE_IBMCOS_IAMAPIKEY: credentials.iamApiKey };
    case 'oss':
      // The profile the operator reads, as its minted Alibaba credentials have it.
      return {
        credentials: [
          '[default]',
          'type = access_key',
          `access_key_id = ${credentials.accessKeyId}`,
          `access_key_secret = ${credentials.accessKeySecret}`,
          '',
        ].join('\n'),
      };
  }
}

/**
 * The operator's rules for a claim, with the reason in words (pure): ReadWriteMany works with any number
 * of replicas; ReadWriteOnce (block storage) only with one replica and the Recreate rollout strategy; a raw
 * block volume or other modes not at all.
 */
export function claimProblem(
  claim: PersistentVolumeClaim,
  replicas: number,
  rolloutStrategy: string,
): StorageProblem | undefined {
  const name = claim.metadata.name;
  const modes = claim.spec.accessModes ?? [];
  if (claim.spec.volumeMode === 'Block') {
    return {
      message: `Claim ${name} is a raw block volume (volumeMode: Block); the registry needs a filesystem.`,
      fix: `Use a claim with volumeMode: Filesystem (the default) in ${RegistryNames.namespace}.`,
    };
  }
  if (modes.includes('ReadWriteMany')) return undefined;
  if (!modes.includes('ReadWriteOnce')) {
    return {
      message: `Claim ${name} has access modes [${modes.join(', ')}]; the registry needs ReadWriteMany, or ReadWriteOnce with one replica.`,
      fix: `Create a ReadWriteMany claim in ${RegistryNames.namespace} and pass --storage pvc=<claim>.`,
    };
  }
  if (replicas > 1) {
    return {
      message: `Claim ${name} is ReadWriteOnce (block storage), but the registry has ${replicas} replicas: more than one replica needs a ReadWriteMany claim, since a ReadWriteOnce volume is mounted on one node only.`,
      fix: `Use --replicas 1 --rollout-strategy Recreate with this claim, or a ReadWriteMany claim for ${replicas} replicas.`,
    };
  }
  if (rolloutStrategy !== 'Recreate') {
    return {
      message: `Claim ${name} is ReadWriteOnce (block storage), which needs rolloutStrategy Recreate: a ${rolloutStrategy} rollout starts the new registry pod while the old one still holds the volume, so the rollout never finishes.`,
      fix: 'Add --rollout-strategy Recreate.',
    };
  }
  return undefined;
}

function refuse(problem: StorageProblem, details: Record<string, string | number>): never {
  throw new RegistryPushError('STORAGE_REFUSED', problem.message, { hint: problem.fix, details });
}

async function findClaim(
  client: ClusterApi,
  name: string,
  warnings: string[],
): Promise<PersistentVolumeClaim | undefined | 'unreadable'> {
  try {
    return await client.find<PersistentVolumeClaim>(
      AdminResources.persistentVolumeClaim,
      name,
      RegistryNames.namespace,
    );
  } catch (error) {
    if (!isRegistryPushError(error, 'FORBIDDEN')) throw error;
    warnings.push(`Could not read claim ${name} (not allowed), so its access modes were not checked.`);
    return 'unreadable';
  }
}

async function planClaim(
  client: ClusterApi,
  given: string | undefined,
  replicas: number,
  rolloutStrategy: string,
  warnings: string[],
): Promise<void> {
  const name = given ?? AdminNames.defaultClaim;
  const claim = await findClaim(client, name, warnings);
  if (claim === 'unreadable') return;
  if (claim === undefined) {
    if (given !== undefined) {
      refuse(
        {
          message: `Claim ${name} does not exist in ${RegistryNames.namespace}.`,
          fix: `Create it there first (ReadWriteMany; the operator's own claim is 100Gi), or leave the claim out to let the operator create ${AdminNames.defaultClaim}.`,
        },
        { claim: name },
      );
    }
    warnings.push(
      `The operator will create claim ${AdminNames.defaultClaim} (ReadWriteMany, 100Gi): the cluster's default storage class must offer ReadWriteMany.`,
    );
    return;
  }
  if (given === undefined && claim.metadata.annotations?.[AdminNames.operatorAnnotation] === undefined) {
    refuse(
      {
        message: `Claim ${name} already exists and was not made by the operator, so the operator refuses to use it as its default claim.`,
        fix: `Name it explicitly: --storage pvc=${name}.`,
      },
      { claim: name },
    );
  }
  const problem = claimProblem(claim, replicas, rolloutStrategy);
  if (problem !== undefined) refuse(problem, { claim: name, replicas, rolloutStrategy });
  if (!(claim.spec.accessModes ?? []).includes('ReadWriteMany')) {
    warnings.push(
      `Claim ${name} is ReadWriteOnce (block storage): supported with one replica, not recommended for production.`,
    );
  }
}

async function planCloud(
  client: ClusterApi,
  request: Exclude<StorageRequest, { kind: 'emptyDir' } | { kind: 'pvc' }>,
  credentials: StorageCredentials | undefined,
  warnings: string[],
): Promise<void> {
  checkStorageStanza(request.kind, storageStanza(request));
  const [where, what] =
    request.kind === 'azure'
      ? [request.accountName !== undefined && request.container !== undefined, 'account name and container']
      : request.kind === 'swift'
        ? [request.container !== undefined && request.authURL !== undefined, 'container and auth URL']
        : [request.bucket !== undefined, 'bucket'];
  if (!where) {
    warnings.push(
      `No ${what} given: the operator creates one only when it has the cloud credentials of an installer-provisioned cluster on that cloud.`,
    );
  }
  if (credentials !== undefined) return;
  const missing = await missingCredentialKeys(client, request.kind, []);
  if (missing.length > 0) {
    warnings.push(
      `No credentials given and ${RegistryNames.namespace}/${AdminNames.credentialsSecret} has no ${missing.join(', ')}: the operator then needs the cluster's own cloud credentials (installer-provisioned infrastructure).`,
    );
  }
}

/**
 * Check a storage request against the cluster before anything is changed: replicas and rollout strategy
 * after the change, the claim's access modes, emptyDir's single replica, cloud credentials. Refusals are
 * `STORAGE_REFUSED` errors that say why and what to pass instead.
 */
export async function planStorage(
  client: ClusterApi,
  config: RegistryConfig,
  request: StorageRequest,
  options: { replicas?: number; rolloutStrategy?: string; credentials?: StorageCredentials },
): Promise<StoragePlan> {
  const replicas = options.replicas ?? config.spec.replicas ?? 1;
  const rolloutStrategy = options.rolloutStrategy ?? config.spec.rolloutStrategy ?? 'RollingUpdate';
  if (!Number.isInteger(replicas) || replicas < 1) {
    throw new RegistryPushError(
      'OPTION_INVALID',
      `Replicas must be a whole number of 1 or more, not ${replicas}.`,
      {
        hint: 'Pass --replicas 1 (or more with shared storage).',
      },
    );
  }
  if (options.credentials !== undefined && options.credentials.kind !== request.kind) {
    throw new RegistryPushError(
      'OPTION_INVALID',
      `Credentials for ${options.credentials.kind} were given for ${request.kind} storage.`,
      { hint: `Give the ${request.kind} credentials, or none.` },
    );
  }
  const warnings: string[] = [];
  if (request.kind === 'emptyDir') {
    if (replicas > 1) {
      refuse(
        {
          message: `emptyDir gives every registry pod its own empty volume: with ${replicas} replicas an image pushed through one pod is missing on the others.`,
          fix: 'Use --replicas 1 with emptyDir, or shared storage (--storage pvc with a ReadWriteMany claim, or object storage).',
        },
        { replicas },
      );
    }
    warnings.push(EMPTYDIR_WARNING);
  } else if (request.kind === 'pvc') {
    await planClaim(client, request.claim, replicas, rolloutStrategy, warnings);
  } else {
    await planCloud(client, request, options.credentials, warnings);
  }
  return { kind: request.kind, stanza: storageStanza(request), replicas, rolloutStrategy, warnings };
}
