import {
  enableRegistry,
  type EnableResult,
  type StorageCredentials,
  type StorageRequest,
} from '@registry-push/core';
import { clusterClient } from '../cluster.js';
import type { CommandResult, Io } from '../context.js';
import {
  UsageError,
  numberOption,
  readOptionFile,
  stringOption,
  timeoutMs,
  type OptionName,
  type Options,
} from '../options.js';

/** The stanza options each storage kind takes. */
const KIND_OPTIONS: Record<StorageRequest['kind'], readonly OptionName[]> = {
  emptyDir: [],
  pvc: [],
  s3: ['bucket', 'region', 'region-endpoint', 's3-access-key-file', 's3-secret-key-file'],
  gcs: ['bucket', 'region', 'project-id', 'gcs-keyfile'],
  azure: ['account-name', 'container', 'azure-account-key-file'],
  swift: [
    'container',
    'auth-url',
    'auth-version',
    'domain',
    'tenant',
    'region-name',
    'swift-username-file',
    'swift-password-file',
  ],
  ibmcos: [
    'bucket',
    'location',
    'resource-group-name',
    'resource-key-crn',
    'service-instance-crn',
    'ibmcos-api-key-file',
  ],
  oss: ['bucket', 'region', 'endpoint-accessibility', 'oss-access-key-id-file', 'oss-access-key-secret-file'],
};

const KINDS_TEXT = 'emptydir, pvc, pvc=CLAIM, s3, gcs, azure, swift, ibmcos or oss';

type CloudKind = Exclude<StorageRequest['kind'], 'emptyDir' | 'pvc'>;

/** The stanza field each option sets, per object store. */
const STANZA_OPTIONS: Record<CloudKind, Record<string, OptionName>> = {
  s3: { bucket: 'bucket', region: 'region', regionEndpoint: 'region-endpoint' },
  gcs: { bucket: 'bucket', region: 'region', projectID: 'project-id' },
  azure: { accountName: 'account-name', container: 'container' },
  swift: {
    container: 'container',
    authURL: 'auth-url',
    authVersion: 'auth-version',
    domain: 'domain',
    tenant: 'tenant',
    regionName: 'region-name',
  },
  ibmcos: {
    bucket: 'bucket',
    location: 'location',
    resourceGroupName: 'resource-group-name',
    resourceKeyCRN: 'resource-key-crn',
    serviceInstanceCRN: 'service-instance-crn',
  },
  oss: { bucket: 'bucket', region: 'region', endpointAccessibility: 'endpoint-accessibility' },
};

const KINDS: Record<string, StorageRequest['kind']> = {
  emptydir: 'emptyDir',
  pvc: 'pvc',
  s3: 's3',
  gcs: 'gcs',
  azure: 'azure',
  swift: 'swift',
  ibmcos: 'ibmcos',
  oss: 'oss',
};

function storageRequest(options: Options): StorageRequest {
  const text = stringOption(options, 'storage');
  if (text === undefined) throw new UsageError(`--storage is required: ${KINDS_TEXT}`);
  const [kindText = '', claim] = text.split('=', 2);
  const kind = KINDS[kindText.toLowerCase()];
  if (kind === undefined || (claim !== undefined && kind !== 'pvc')) {
    throw new UsageError(`--storage must be ${KINDS_TEXT}, not "${text}"`);
  }
  const misplaced = [...new Set(Object.values(KIND_OPTIONS).flat())].filter(
    (name) => !KIND_OPTIONS[kind].includes(name) && options[name] !== undefined,
  );
  if (misplaced.length > 0) throw new UsageError(`--${misplaced[0] ?? ''} does not apply to ${kind} storage`);
  if (kind === 'emptyDir') return { kind };
  if (kind === 'pvc') {
    if (claim === '') throw new UsageError('--storage pvc=CLAIM needs a claim name after "="');
    return claim === undefined ? { kind } : { kind, claim };
  }
  const fields = Object.entries(STANZA_OPTIONS[kind]).flatMap(([field, option]) => {
    const value = stringOption(options, option);
    return value === undefined ? [] : [[field, value] as const];
  });
  // The stanza's values are checked against the CRD's rules by the core (enableRegistry).
  const request: StorageRequest = { kind, ...Object.fromEntries(fields) };
  return request;
}

/** A secret from a file option or an environment variable; never from argv. */
function secretValue(options: Options, io: Io, file: OptionName, env: string): string | undefined {
  const value = readOptionFile(options, file)?.trim() ?? io.env[env]?.trim();
  return value === '' ? undefined : value;
}

/** Where one secret of a store's credentials comes from: a file option, or an environment variable. */
type SecretSource = readonly [file: OptionName, env: string];

/** Each store's secrets (all of them, or none), and the credentials they make. */
const SECRETS: {
  [K in Exclude<CloudKind, 'gcs'>]: {
    name: string;
    sources: readonly SecretSource[];
    make: (values: string[]) => Extract<StorageCredentials, { kind: K }>;
  };
} = {
  s3: {
    name: 'S3',
    sources: [
      ['s3-access-key-file', 'REGISTRY_PUSH_S3_ACCESS_KEY'],
      ['s3-secret-key-file', 'REGISTRY_PUSH_S3_SECRET_KEY'],
    ],
    make: ([accessKey = '', secretKey = '']) => ({ kind: 's3', accessKey, secretKey }),
  },
  azure: {
    name: 'Azure',
    sources: [['azure-account-key-file', 'REGISTRY_PUSH_AZURE_ACCOUNT_KEY']],
    make: ([accountKey = '']) => ({ kind: 'azure', accountKey }),
  },
  swift: {
    name: 'Swift',
    sources: [
      ['swift-username-file', 'REGISTRY_PUSH_SWIFT_USERNAME'],
      ['swift-password-file', 'REGISTRY_PUSH_SWIFT_PASSWORD'],
    ],
    make: ([username = '', password = '']) => ({ kind: 'swift', username, password }),
  },
  ibmcos: {
    name: 'IBM COS',
    sources: [['ibmcos-api-key-file', 'REGISTRY_PUSH_IBMCOS_API_KEY']],
    make: ([iamApiKey = '']) => ({ kind: 'ibmcos', iamApiKey }),
  },
  oss: {
    name: 'OSS',
    sources: [
      ['oss-access-key-id-file', 'REGISTRY_PUSH_OSS_ACCESS_KEY_ID'],
      ['oss-access-key-secret-file', 'REGISTRY_PUSH_OSS_ACCESS_KEY_SECRET'],
    ],
    make: ([accessKeyId = '', accessKeySecret = '']) => ({ kind: 'oss', accessKeyId, accessKeySecret }),
  },
};

function storageCredentials(
  options: Options,
  io: Io,
  kind: StorageRequest['kind'],
): StorageCredentials | undefined {
  if (kind === 'gcs') {
    const keyfile = readOptionFile(options, 'gcs-keyfile');
    return keyfile === undefined ? undefined : { kind, keyfile };
  }
  if (kind === 'emptyDir' || kind === 'pvc') return undefined;
  const { name, sources, make } = SECRETS[kind];
  const values = sources.map(([file, env]) => secretValue(options, io, file, env));
  if (values.every((value) => value === undefined)) return undefined;
  if (values.some((value) => value === undefined)) {
    const files = sources.map(([file]) => `--${file}`).join(' and ');
    const envs = sources.map(([, env]) => env).join(' and ');
    throw new UsageError(`${name} credentials need both keys: ${files} (or ${envs})`);
  }
  return (make as (values: string[]) => StorageCredentials)(values as string[]);
}

function resultText(result: EnableResult): string[] {
  const secret = result.credentials;
  const secretLine =
    secret === undefined
      ? []
      : [
          `${result.dryRun ? 'would ' : ''}${secret.action === 'unchanged' ? 'leave' : secret.action} secret ${secret.namespace}/${secret.name} (keys ${secret.keys.join(', ')}${secret.action === 'unchanged' ? ', already set' : ''})`,
        ];
  if (result.dryRun) {
    return [
      ...secretLine,
      Object.keys(result.patch.spec).length === 0
        ? 'nothing to patch: configs.imageregistry.operator.openshift.io/cluster already has this'
        : 'would patch configs.imageregistry.operator.openshift.io/cluster (--type merge):',
      JSON.stringify(result.patch, null, 2),
    ];
  }
  return [
    ...secretLine,
    result.applied ? `patched: ${JSON.stringify(result.patch)}` : 'nothing to patch',
    result.available === true
      ? `registry Available: ${result.readyReplicas ?? 0} replica(s) ready`
      : 'not waited for the registry',
  ];
}

/** `registry-push enable --storage KIND`: configure storage, set Managed, wait for Available. */
export async function enableCommand(options: Options, io: Io): Promise<CommandResult> {
  const storage = storageRequest(options);
  const credentials = storageCredentials(options, io, storage.kind);
  const replicas = numberOption(options, 'replicas');
  const strategy = stringOption(options, 'rollout-strategy') as 'RollingUpdate' | 'Recreate' | undefined;
  const timeout = timeoutMs(options);
  const result = await enableRegistry(clusterClient(options, io), {
    storage,
    ...(credentials === undefined ? {} : { credentials }),
    ...(replicas === undefined ? {} : { replicas }),
    ...(strategy === undefined ? {} : { rolloutStrategy: strategy }),
    ...(options['dry-run'] === true ? { dryRun: true } : {}),
    timeoutMs: timeout ?? 300_000,
    onProgress: (event) => io.stderr(`[${event.step}] ${event.message}`),
  });
  return { json: result, text: resultText(result), warnings: result.warnings };
}
