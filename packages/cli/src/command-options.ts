// The options of each command, apart from the commands themselves, so that `--help` and parsing never
// load a command's code (and, for most commands, the Kubernetes client with it).
import type { OptionName } from './options.js';

export const EXPOSE_OPTIONS: readonly OptionName[] = [
  'expose',
  'namespace',
  'route-name',
  'route-hostname',
  'route-cert',
  'route-key',
  'route-ca',
  'timeout',
  'revert',
];

export const TRUST_OPTIONS: readonly OptionName[] = [
  'registry',
  'namespace',
  'ca-file',
  'ca-data',
  'trust',
  'cert-dir',
  'route-name',
  'tls-verify',
];

export const LOGIN_OPTIONS: readonly OptionName[] = [
  'registry',
  'namespace',
  'username',
  'authfile',
  'ca-file',
  'ca-data',
  'cert-dir',
  'login-tool',
  'tls-verify',
];

export const PUSH_OPTIONS: readonly OptionName[] = [
  'source',
  'registry',
  'namespace',
  'image',
  'tag',
  'tags',
  'push-tool',
  'ca-file',
  'ca-data',
  'cert-dir',
  'tls-verify',
  'plain-http',
  'authfile',
  'username',
  'retries',
  'concurrency',
];

/** `pull`: the source registry's access, as push takes the target's. */
export const PULL_OPTIONS: readonly OptionName[] = [
  'ca-file',
  'ca-data',
  'cert-dir',
  'tls-verify',
  'plain-http',
  'authfile',
  'username',
  'retries',
  'concurrency',
];

/** `copy`: the shared options apply to both registries; `--src-*` and `--dest-*` override them for one. */
export const COPY_OPTIONS: readonly OptionName[] = [
  ...PULL_OPTIONS,
  'src-authfile',
  'src-token-file',
  'src-kubeconfig',
  'src-ca-file',
  'src-tls-verify',
  'src-plain-http',
  'dest-authfile',
  'dest-token-file',
  'dest-kubeconfig',
  'dest-ca-file',
  'dest-tls-verify',
  'dest-plain-http',
];

export const ALL_OPTIONS: readonly OptionName[] = [
  ...new Set<OptionName>([
    ...EXPOSE_OPTIONS.filter((name) => name !== 'revert'),
    ...TRUST_OPTIONS,
    ...LOGIN_OPTIONS,
    ...PUSH_OPTIONS,
    'logout',
  ]),
];

// registry admin
export const STATUS_OPTIONS: readonly OptionName[] = ['registry', 'ca-file', 'ca-data'];

export const DOCTOR_OPTIONS: readonly OptionName[] = [
  'namespace',
  'registry',
  'username',
  'ca-file',
  'ca-data',
  'tls-verify',
  'prune',
];

export const ENABLE_OPTIONS: readonly OptionName[] = [
  'storage',
  'replicas',
  'rollout-strategy',
  'bucket',
  'region',
  'region-endpoint',
  'project-id',
  'account-name',
  'container',
  's3-access-key-file',
  's3-secret-key-file',
  'gcs-keyfile',
  'azure-account-key-file',
  'auth-url',
  'auth-version',
  'domain',
  'tenant',
  'region-name',
  'swift-username-file',
  'swift-password-file',
  'location',
  'resource-group-name',
  'resource-key-crn',
  'service-instance-crn',
  'ibmcos-api-key-file',
  'endpoint-accessibility',
  'oss-access-key-id-file',
  'oss-access-key-secret-file',
  'dry-run',
  'timeout',
];

export const METRICS_OPTIONS: readonly OptionName[] = [
  'basic-auth-user',
  'metrics-secret-file',
  'registry',
  'namespace',
  'ca-file',
  'ca-data',
  'tls-verify',
];

export const CONFIG_OPTIONS: readonly OptionName[] = ['dry-run', 'storage-credential'];

export const LOGS_OPTIONS: readonly OptionName[] = [
  'pod',
  'follow',
  'since',
  'since-time',
  'tail',
  'timestamps',
];

export const TRUSTED_CA_OPTIONS: readonly OptionName[] = ['ca-file', 'ca-data', 'dry-run'];
