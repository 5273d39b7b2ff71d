/**
 * `@registry-push/core`: the shared library of registry-push. This file is the whole public API; anything
 * not exported here is internal and may change without notice.
 *
 * @packageDocumentation
 */
export {
  RegistryPushError,
  formatError,
  isRegistryPushError,
  CORE_ERROR_CODES,
  REGISTRY_ERROR_CODES,
  type ErrorCode,
  type ErrorDetails,
  type RegistryPushErrorOptions,
} from './errors.js';

// Cluster access
export {
  ClusterClient,
  type AccessCheck,
  type Identity,
  type KubeObject,
  type ListOptions,
  type ObjectMeta,
} from './cluster/client.js';
export type {
  ClusterApi,
  ClusterWatch,
  DeletePreconditions,
  JsonPatchOperation,
  VersionedList,
  VersionedListOptions,
} from './ports/cluster-api.js';
export type { ClusterAccessOptions, ClusterAccessSource } from './cluster/kubeconfig.js';
export {
  Informer,
  type InformerEvent,
  type InformerOptions,
  type InformerSource,
} from './cluster/informer.js';
export { WatchStream, type WatchEvent, type WatchRequestOptions, type WatchTarget } from './cluster/watch.js';
export { clusterAccessGiven } from './cluster/access-given.js';
export { Resources, RegistryNames, type ResourceType } from './cluster/resources.js';
export type {
  Condition,
  ImagePruner,
  ImagePrunerSpec,
  RegistryConfig,
  RegistryRouteSpec,
  Route,
  ImageConfig,
  IngressController,
} from './cluster/openshift-objects.js';

// Exposing the registry
export {
  exposeRegistry,
  revertExpose,
  type ExposeChange,
  type ExposeMode,
  type ExposeOptions,
  type ExposeResult,
} from './expose/expose.js';
export { discoverRegistryHost, type DiscoveredHost, type RegistryHostSource } from './expose/discover.js';
export { DEFAULT_ROUTE_SECRET, type CustomRouteOptions } from './expose/custom-route.js';
export { routeAdmission, type ExposeProgress, type RouteAdmission } from './expose/route-admission.js';
export {
  IMAGE_REGISTRY_REMOVED_ADVICE,
  STORAGE_KINDS,
  registryState,
  type RegistryState,
} from './expose/registry-state.js';

// Trusting its certificate
export {
  registryTrust,
  type RegistryTrust,
  type TrustOptions,
  type TrustSource,
} from './trust/registry-trust.js';
export {
  installTrust,
  uninstallTrust,
  uninstallTrustSync,
  type InstallTrustOptions,
  type SystemStore,
  type TrustInstallation,
  type UninstallTrustOptions,
} from './trust/install.js';
export { additionalTrustedCaKey } from './trust/additional-trusted-ca.js';
export { parseCertificateBundle, type CertificateInfo } from './trust/pem.js';
export {
  addAdditionalTrustedCA,
  addTrustedCA,
  DEFAULT_TRUSTED_CA_CONFIG_MAP,
  listTrustedCAs,
  parseTrustedCaPem,
  removeTrustedCA,
  type AdditionalTrustedCaOptions,
  type AdditionalTrustedCaResult,
  type TrustedCaChange,
  type TrustedCaChangeOptions,
  type TrustedCaEntry,
  type TrustedCaList,
} from './trust/trusted-ca-admin.js';

// Logging in
export {
  DEFAULT_USERNAME,
  registryLogin,
  registryLogout,
  type LoginOptions,
  type RegistryLogin,
} from './login/login.js';
export { type CredentialCheck, type CredentialChecker } from './registry/login-check.js';
export { readAuthCredentials, removeAuthEntrySync, type AuthEntry } from './login/auth-file.js';
export { jwtExpiry, resolveToken, type ResolvedToken, type TokenSource } from './login/token.js';
export { stopRunningTools, toolLoginCommand, type LoginTool, type ToolCommand } from './login/tool-login.js';
export { removeHeldTemporaries } from './temporary-files.js';
export { preflightPush, type PushPreflight } from './login/preflight.js';
export { redact } from './secrets.js';
export {
  nodeCommandRunner,
  type CommandResult,
  type CommandRun,
  type CommandRunner,
} from './ports/command-runner.js';

// The OCI registry client
export {
  RegistryClient,
  type BlobOutcome,
  type BlobProgress,
  type BlobSource,
  type DeleteOutcome,
  type FetchedManifest,
  type RegistryClientOptions,
} from './registry/client.js';
export type { PushBlobOptions, RegistryApi } from './ports/registry-api.js';
export type { RegistryCredentials } from './registry/auth.js';
export type { ConnectionOptions } from './registry/transport.js';
export { DEFAULT_RETRY_POLICY, type RetryEvent, type RetryPolicy } from './registry/retry.js';
export {
  formatReference,
  isValidTag,
  parseOpenShiftTarget,
  parseReference,
  type ImageReference,
} from './registry/reference.js';
export { MediaTypes, type Descriptor, type ManifestDocument } from './registry/media-types.js';
export { checkRegistryLogin } from './registry/login-check.js';

// Pushing build output
export {
  INTERNAL_REGISTRY,
  pushImage,
  type PushEvent,
  type PushOptions,
  type PushResult,
  type PushedRef,
} from './push/push.js';
export { parseSource, type SourceReference, type SourceTransport } from './push/sources.js';
export type { PushTool } from './push/tool-push.js';
// Pull into an OCI layout, copy between registries
export { pullImage, type PullOptions, type PullResult } from './transfer/pull.js';
export { copyImage, type CopyOptions, type CopyResult } from './transfer/copy.js';
export type {
  TransferConnection,
  TransferCounts,
  TransferEvent,
  TransferOutcome,
} from './transfer/events.js';
export type { RegistryFactory } from './transfer/clients.js';
export { REF_NAME_ANNOTATION } from './transfer/oci-layout.js';

// prune engine
export { createPruneRegistry, pruneRegistryOf, type ClientPruneRegistry } from './prune/registry-adapter.js';
export { pruneModeFor } from './prune/mode.js';
export {
  DEFAULT_KEEP_TAG_REVISIONS,
  DEFAULT_KEEP_YOUNGER_THAN_MS,
  DEFAULT_NAMESPACE_RULES,
  DEFAULT_PROTECT_ANNOTATION,
  MAX_CLUSTER_RULES,
  MAX_NAMESPACE_RULES,
  describePolicy,
  parseNamespaceRules,
  policyFor,
  resolvePrunePolicy,
  type EffectivePolicy,
  type NamespacePolicyInput,
  type NamespaceRulesInput,
  type PrunePolicyInput,
  type ReferenceSourceInput,
  type ResolvedPolicy,
  type RetentionRuleInput,
} from './prune/policy.js';
export { REFERENCE_PRESETS, parseRetentionDuration, signatureSubject } from './prune/rules.js';
export {
  extraSourceOf,
  snapshotSourcesOf,
  takeSnapshot,
  valuesAtPath,
  type ExtraUseSource,
  type SnapshotOptions,
  type SnapshotProgress,
  type SnapshotSource,
} from './prune/snapshot.js';
export { planPrune, type PlanOptions } from './prune/plan.js';
export {
  assertPlan,
  executePlan,
  executeUnit,
  summariseRun,
  ExecutionState,
  UNDO_WINDOW_REASON,
  type ExecuteOptions,
  type ExecutePhase,
  type PruneProgress,
  type RetryOptions,
  type UnitPlanContext,
} from './prune/execute.js';
export type { PruneRegistry, RegistryDeleteOutcome } from './prune/registry-port.js';
export { pruneClusterOf, type PruneCluster } from './prune/cluster-port.js';
export { linkedGroups } from './prune/groups.js';
export {
  restoreClusterOf,
  restoreRemoved,
  type ImageRemovalRecord,
  type RemovalRecord,
  type RemovedHistoryItem,
  type RestoreCluster,
  type RestoreItemResult,
  type RestoreOptions,
  type RestoreOutcome,
  type RestoreReport,
  type RestoreSelection,
  type StreamRemovalRecord,
} from './prune/undo.js';
export { LinkRestorer, type LinkRestoreResult, type LinkRestorerOptions } from './prune/link-restorer.js';
export {
  ListedView,
  LiveView,
  type HistoryAddition,
  type LiveViewCluster,
  type LiveViewOptions,
  type PruneView,
  type ViewNeed,
  type ViewQueries,
} from './prune/view.js';
export type { RepositoryNeeds } from './prune/view-index.js';
export {
  MANAGED_ANNOTATION,
  toSnapshotImage,
  toSnapshotStream,
  type ImageObject,
  type ImageStreamObject,
  type TagEventObject,
} from './prune/image-objects.js';
export { parsePullSpec, resolveUse, type ParsedReference, type ResolvedUse } from './prune/references.js';
export { formatPlan, formatRunResult } from './prune/report.js';
export { formatBytes, formatDuration, parseDuration, parseQuantity } from './prune/quantities.js';
export {
  PLAN_SCHEMA,
  RESULT_SCHEMA,
  SNAPSHOT_SCHEMA,
  type BlobDeletion,
  type HistoryRemoval,
  type ImageUnit,
  type ImageUse,
  type InvalidReference,
  type ItemOutcome,
  type ItemResult,
  type NamespacePolicy,
  type NamespaceRulesSource,
  type PlanItem,
  type PlanItemKind,
  type PlanRule,
  type PlanSummary,
  type PruneMode,
  type PrunePlan,
  type PruneWarning,
  type PrunePolicy,
  type PruneRunResult,
  type PruneSnapshot,
  type ReferenceSource,
  type RetentionRule,
  type RunSummary,
  type SnapshotBlob,
  type SnapshotImage,
  type SnapshotStream,
  type SnapshotTag,
  type SnapshotTagEvent,
  type StreamUnit,
  type UnitResult,
  type UnitStatus,
  type UnknownPart,
  type WorkUnit,
} from './prune/types.js';

// registry admin
export { ADMIN_ERROR_CODES } from './errors.js';
export {
  registryStatus,
  type MetricsReachability,
  type PrunerStatus,
  type RegistryRouteStatus,
  type RegistryStatus,
  type ReplicaStatus,
  type StatusOptions,
} from './admin/status.js';
export {
  registryDoctor,
  type CheckStatus,
  type DoctorCheck,
  type DoctorOptions,
  type DoctorReport,
} from './admin/doctor.js';
export {
  enableRegistry,
  type CredentialsChange,
  type EnableOptions,
  type EnableResult,
} from './admin/enable.js';
export {
  CREDENTIAL_KEYS,
  claimProblem,
  type StorageCredentials,
  type StorageProblem,
  type StorageRequest,
} from './admin/storage.js';
export {
  METRICS_OF_INTEREST,
  METRICS_PATH,
  parsePrometheusText,
  registryMetrics,
  summarizeMetrics,
  type MetricSample,
  type MetricsOptions,
  type MetricsSummary,
  type RegistryMetrics,
} from './admin/metrics.js';
export { AdminNames, type AdminProgress } from './admin/admin-objects.js';
// `registry-push logs`: the registry pods' logs, following
export { registryLogs, type RegistryLogsOptions, type RegistryLogsResult } from './admin/logs.js';
// `registry-push config get|set|diff|undo`: the operator spec's documented fields, with undo
export {
  AZURE_CLOUD_NAMES,
  PREVIOUS_SPEC_ANNOTATION,
  STORAGE_BACKENDS,
  getRegistryConfig,
  hideUrlPasswords,
  setRegistryConfig,
  undoRegistryConfig,
  type ConfigChangeOptions,
  type ConfigChangeResult,
} from './admin/config.js';
