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

function storageRequest(options: Options): StorageRequest {
  const text = stringOption(options, 'storage');
  if (text === undefined) throw new UsageError(`--storage is required: ${KINDS_TEXT}`);
  const [kindText = '', claim] = text.split('=', 2);
  const kinds: Record<string, StorageRequest['kind']> = {
    emptydir: 'emptyDir',
    pvc: 'pvc',
    s3: 's3',
    gcs: 'gcs',
    azure: 'azure',
    swift: 'swift',
    ibmcos: 'ibmcos',
    oss: 'oss',
  };
  const kind = kinds[kindText.toLowerCase()];
  if (kind === undefined || (claim !== undefined && kind !== 'pvc')) {
    throw new UsageError(`--storage must be ${KINDS_TEXT}, not "${text}"`);
  }
  const misplaced = [...new Set(Object.values(KIND_OPTIONS).flat())].filter(
    (name) => !KIND_OPTIONS[kind].includes(name) && options[name] !== undefined,
  );
  if (misplaced.length > 0) throw new UsageError(`--${misplaced[0] ?? ''} does not apply to ${kind} storage`);
  const field = (name: OptionName): string | undefined => stringOption(options, name);
  const defined = <T extends object>(value: T): T =>
    Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
  switch (kind) {
    case 'emptyDir':
      return { kind };
    case 'pvc':
      if (claim === '') throw new UsageError('--storage pvc=CLAIM needs a claim name after "="');
      return claim === undefined ? { kind } : { kind, claim };
    case 's3':
      return defined({
        kind,
        bucket: field('bucket'),
        region: field('region'),
        regionEndpoint: field('region-endpoint'),
      });
    case 'gcs':
      return defined({
        kind,
        bucket: field('bucket'),
        region: field('region'),
        projectID: field('project-id'),
      });
    case 'azure':
      return defined({ kind, accountName: field('account-name'), container: field('container') });
    case 'swift':
      return defined({
        kind,
        container: field('container'),
        authURL: field('auth-url'),
        authVersion: field('auth-version'),
        domain: field('domain'),
        tenant: field('tenant'),
        regionName: field('region-name'),
      });
    case 'ibmcos':
      return defined({
        kind,
        bucket: field('bucket'),
        location: field('location'),
        resourceGroupName: field('resource-group-name'),
        resourceKeyCRN: field('resource-key-crn'),
        serviceInstanceCRN: field('service-instance-crn'),
      });
    case 'oss':
      return defined({
        kind,
        bucket: field('bucket'),
        region: field('region'),
        endpointAccessibility: field('endpoint-accessibility') as 'Internal' | 'Public' | undefined,
      });
  }
}

/** Two secrets that only make sense together: both, or neither. */
function secretPair(
  options: Options,
  io: Io,
  [firstFile, firstEnv]: [OptionName, string],
  [secondFile, secondEnv]: [OptionName, string],
  what: string,
): [string, string] | undefined {
  const first = secretValue(options, io, firstFile, firstEnv);
  const second = secretValue(options, io, secondFile, secondEnv);
  if (first === undefined && second === undefined) return undefined;
  if (first === undefined || second === undefined) {
    throw new UsageError(
      `${what} credentials need both: --${firstFile} and --${secondFile} (or ${firstEnv} and ${secondEnv})`,
    );
  }
  return [first, second];
}

/** A secret from a file option or an environment variable; never from argv. */
function secretValue(options: Options, io: Io, file: OptionName, env: string): string | undefined {
  const value = readOptionFile(options, file)?.trim() ?? io.env[env]?.trim();
  return value === '' ? undefined : value;
}

function storageCredentials(
  options: Options,
  io: Io,
  kind: StorageRequest['kind'],
): StorageCredentials | undefined {
  if (kind === 's3') {
    const accessKey = secretValue(options, io, 's3-access-key-file', 'REGISTRY_PUSH_S3_ACCESS_KEY');
    const secretKey = secretValue(options, io, 's3-secret-key-file', 'REGISTRY_PUSH_S3_SECRET_KEY');
    if (accessKey === undefined && secretKey === undefined) return undefined;
    if (accessKey === undefined || secretKey === undefined) {
      throw new UsageError(
        'S3 credentials need both keys: --s3-access-key-file and --s3-secret-key-file (or REGISTRY_PUSH_S3_ACCESS_KEY and REGISTRY_PUSH_S3_SECRET_KEY)',
      );
    }
    return { kind, accessKey, secretKey };
  }
  if (kind === 'gcs') {
    const keyfile = readOptionFile(options, 'gcs-keyfile');
    return keyfile === undefined ? undefined : { kind, keyfile };
  }
  if (kind === 'azure') {
    const accountKey = secretValue(options, io, 'azure-account-key-file', 'REGISTRY_PUSH_AZURE_ACCOUNT_KEY');
    return accountKey === undefined ? undefined : { kind, accountKey };
  }
  if (kind === 'swift') {
    const pair = secretPair(
      options,
      io,
      ['swift-username-file', 'REGISTRY_PUSH_SWIFT_USERNAME'],
      ['swift-password-file', 'REGISTRY_PUSH_SWIFT_PASSWORD'],
      'Swift',
    );
    return pair === undefined ? undefined : { kind, username: pair[0], password: pair[1] };
  }
  if (kind === 'ibmcos') {
    const iamApiKey = secretValue(options, io, 'ibmcos-api-key-file', 'REGISTRY_PUSH_IBMCOS_API_KEY');
    return iamApiKey === undefined ? undefined : { kind, iamApiKey };
  }
  if (kind === 'oss') {
    const pair = secretPair(
      options,
      io,
      ['oss-access-key-id-file', 'REGISTRY_PUSH_OSS_ACCESS_KEY_ID'],
      ['oss-access-key-secret-file', 'REGISTRY_PUSH_OSS_ACCESS_KEY_SECRET'],
      'OSS',
    );
    return pair === undefined ? undefined : { kind, accessKeyId: pair[0], accessKeySecret: pair[1] };
  }
  return undefined;
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
