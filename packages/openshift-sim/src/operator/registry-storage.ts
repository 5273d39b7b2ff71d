// The registry operator's storage step: exactly one backend, the PVC rules (the default claim it creates,
// ReadWriteMany for several replicas, ReadWriteOnce only with one replica and Recreate), and, for cloud
// backends, the admin-supplied credentials in `image-registry-private-configuration-user`.
import { isJsonObject, objectAt, stringAt, type JsonObject } from '../json.js';
import type { Condition } from './conditions.js';

/** The storage backends of `spec.storage`, in the operator's order. */
export const BACKENDS = ['emptyDir', 's3', 'gcs', 'swift', 'pvc', 'azure', 'ibmcos', 'oss'] as const;

/** The claim the operator creates when `pvc.claim` is empty, and the annotation that marks it as its own. */
export const DEFAULT_CLAIM = 'image-registry-storage';
export const OWNER_ANNOTATION = 'imageregistry.openshift.io';
/** The secret an admin fills with storage credentials. */
export const USER_CREDENTIALS_SECRET = 'image-registry-private-configuration-user';

/** The keys each cloud backend needs in the credentials secret (as the OpenShift docs list them). */
export const CREDENTIAL_KEYS: Readonly<Record<string, readonly string[]>> = {
  s3: ['REGISTRY_STORAGE_S3_ACCESSKEY', 'REGISTRY_STORAGE_S3_SECRETKEY'],
  gcs: ['REGISTRY_STORAGE_GCS_KEYFILE'],
  azure: ['REGISTRY_STORAGE_AZURE_ACCOUNTKEY'],
  swift: ['REGISTRY_STORAGE_SWIFT_USERNAME', 'REGISTRY_STORAGE_SWIFT_PASSWORD'],
  // The operator reads the IAM API key (and fetches HMAC keys from the resource key itself).
  ibmcos: ['REGISTRY_STORAGE_IBMCOS_IAMAPIKEY'],
  // The operator reads an Alibaba ini profile under `credentials`.
  oss: ['credentials'],
};

/** Fields that name an existing bucket or container; the simulator has no cloud account to create one. */
const LOCATION_FIELDS: Readonly<Record<string, readonly string[]>> = {
  s3: ['bucket', 'region'],
  gcs: ['bucket'],
  azure: ['accountName', 'container'],
  swift: ['container', 'authURL'],
  ibmcos: ['bucket', 'location', 'resourceKeyCRN'],
  oss: ['bucket', 'region'],
};

const EXISTS_REASON: Readonly<Record<string, string>> = {
  s3: 'S3 Bucket Exists',
  gcs: 'GCS Bucket Exists',
  azure: 'Azure Container Exists',
  swift: 'Swift Container Exists',
  ibmcos: 'IBM COS Bucket Exists',
  oss: 'OSS Bucket Exists',
};

/** What the storage step reads from the cluster. */
export interface StorageReads {
  claim(name: string): JsonObject | undefined;
  credentials(): JsonObject | undefined;
}

/** What the storage step decided. */
export type StorageOutcome =
  | {
      ok: true;
      backend: string;
      /** The storage stanza to write back to `spec.storage` when the operator filled something in. */
      storage: JsonObject;
      /** A claim the operator must create first. */
      createClaim?: string;
      storageExists: Condition;
    }
  | { ok: false; backend: string | undefined; error: string; storageExists?: Condition };

/** The configured backends. */
export function configuredBackends(spec: JsonObject | undefined): string[] {
  const storage = objectAt(spec, 'storage') ?? {};
  return BACKENDS.filter((b) => isJsonObject(storage[b]));
}

function modesOf(claim: JsonObject): string[] {
  const modes = objectAt(claim, 'spec')?.['accessModes'];
  return Array.isArray(modes) ? modes.filter((m): m is string => typeof m === 'string') : [];
}

/** The access-mode rules of the operator's PVC driver. */
function claimProblem(claim: JsonObject, name: string, spec: JsonObject): string | undefined {
  const modes = modesOf(claim);
  if (modes.includes('ReadWriteMany')) return undefined;
  if (modes.includes('ReadWriteOnce')) {
    const replicas = Number(spec['replicas'] ?? 1);
    if (replicas > 1) {
      return 'cannot use ReadWriteOnce access mode with more than one replica of the image registry';
    }
    const strategy = stringAt(spec, 'rolloutStrategy') ?? 'RollingUpdate';
    if (strategy !== 'Recreate')
      return `cannot use ReadWriteOnce access mode with ${strategy} rollout strategy`;
    return undefined;
  }
  return `PVC ${name} does not contain the necessary access modes: ReadWriteMany or ReadWriteOnce`;
}

function pvcOutcome(spec: JsonObject, storage: JsonObject, reads: StorageReads): StorageOutcome {
  const pvc = objectAt(storage, 'pvc') ?? {};
  const given = stringAt(pvc, 'claim') ?? '';
  const name = given === '' ? DEFAULT_CLAIM : given;
  const claim = reads.claim(name);
  let createClaim: string | undefined;
  let managed = false;
  if (given === '') {
    managed = true;
    if (claim === undefined) {
      createClaim = name;
    } else if (
      stringAt(objectAt(objectAt(claim, 'metadata'), 'annotations'), OWNER_ANNOTATION) === undefined
    ) {
      const error = 'could not create default PVC, it already exists and is not owned by the operator';
      return {
        ok: false,
        backend: 'pvc',
        error,
        storageExists: {
          type: 'StorageExists',
          status: 'False',
          reason: 'PVC Already Exists',
          message: error,
        },
      };
    }
  } else if (claim === undefined) {
    const error = `persistentvolumeclaims "${name}" not found`;
    return {
      ok: false,
      backend: 'pvc',
      error,
      storageExists: { type: 'StorageExists', status: 'False', reason: 'PVC does not exist', message: error },
    };
  }
  // A claim the operator creates itself is ReadWriteMany.
  const problem = claim === undefined ? undefined : claimProblem(claim, name, spec);
  if (problem !== undefined) {
    return {
      ok: false,
      backend: 'pvc',
      error: problem,
      storageExists: { type: 'StorageExists', status: 'False', reason: 'PVC Issues Found', message: problem },
    };
  }
  return {
    ok: true,
    backend: 'pvc',
    storage: {
      ...storage,
      managementState: stringAt(storage, 'managementState') ?? (managed ? 'Managed' : 'Unmanaged'),
      pvc: { ...pvc, claim: name },
    },
    ...(createClaim !== undefined ? { createClaim } : {}),
    storageExists: {
      type: 'StorageExists',
      status: 'True',
      reason: createClaim !== undefined ? 'PVC Created' : 'PVC Exists',
    },
  };
}

/** The operator cannot reach or create cloud storage: its StorageExists condition turns Unknown. */
function cloudFailure(backend: string, error: string): StorageOutcome {
  return {
    ok: false,
    backend,
    error,
    storageExists: {
      type: 'StorageExists',
      status: 'Unknown',
      reason: 'Unknown Error Occurred',
      message: error,
    },
  };
}

function cloudOutcome(backend: string, storage: JsonObject, reads: StorageReads): StorageOutcome {
  const keys = CREDENTIAL_KEYS[backend];
  const fields = LOCATION_FIELDS[backend];
  if (keys === undefined || fields === undefined) {
    return { ok: false, backend, error: `${backend} storage is not simulated` };
  }
  const data = objectAt(reads.credentials(), 'data') ?? {};
  const missingKeys = keys.filter((key) => typeof data[key] !== 'string' || data[key] === '');
  if (missingKeys.length > 0) {
    return cloudFailure(
      backend,
      `unable to get storage credentials: secret openshift-image-registry/${USER_CREDENTIALS_SECRET} has no ${missingKeys.join(', ')}`,
    );
  }
  const stanza = objectAt(storage, backend) ?? {};
  const missingFields = fields.filter((field) => (stringAt(stanza, field) ?? '') === '');
  if (missingFields.length > 0) {
    return cloudFailure(
      backend,
      `the cluster has no cloud account to create ${backend} storage in: set spec.storage.${backend}.${missingFields.join(' and ')}`,
    );
  }
  return {
    ok: true,
    backend,
    storage: { ...storage, managementState: stringAt(storage, 'managementState') ?? 'Unmanaged' },
    storageExists: { type: 'StorageExists', status: 'True', reason: EXISTS_REASON[backend] ?? 'Exists' },
  };
}

/** Check the storage of a Managed registry as the operator's storage drivers do. */
export function checkStorage(spec: JsonObject, reads: StorageReads): StorageOutcome | undefined {
  const backends = configuredBackends(spec);
  if (backends.length === 0) return undefined;
  const storage = objectAt(spec, 'storage') ?? {};
  if (backends.length > 1) {
    return {
      ok: false,
      backend: undefined,
      error: `exactly one storage type should be configured at the same time, got ${backends.length}: [${backends.join(' ')}]`,
    };
  }
  const backend = backends[0] ?? '';
  if (backend === 'emptyDir') {
    return {
      ok: true,
      backend,
      storage: { ...storage, managementState: stringAt(storage, 'managementState') ?? 'Managed' },
      storageExists: { type: 'StorageExists', status: 'True', reason: 'Creation Successful' },
    };
  }
  if (backend === 'pvc') return pvcOutcome(spec, storage, reads);
  return cloudOutcome(backend, storage, reads);
}
