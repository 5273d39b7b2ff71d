/**
 * `@registry-push/core/push`: the registry client, login files, trust files and push — everything a push
 * needs and nothing that loads the Kubernetes client. A tool that only pushes (with a token it has) starts
 * in a fraction of the time and memory of the full entry point. Everything here is also exported by the
 * main entry (`@registry-push/core`), which stays the one public API reference.
 *
 * @packageDocumentation
 */
export {
  RegistryPushError,
  formatError,
  isRegistryPushError,
  type ErrorCode,
  type ErrorDetails,
} from './errors.js';
export { redact } from './secrets.js';
export { DEFAULT_USERNAME, registryLogin, registryLogout, type RegistryLogin } from './login/login.js';
export { readAuthCredentials } from './login/auth-file.js';
export { resolveToken } from './login/token.js';
export { clusterAccessGiven } from './cluster/access-given.js';
export { installTrust, uninstallTrust, type TrustInstallation } from './trust/install.js';
export { RegistryClient, type RegistryClientOptions } from './registry/client.js';
export type { RegistryApi } from './ports/registry-api.js';
export type { RegistryCredentials } from './registry/auth.js';
export {
  parseOpenShiftTarget,
  parseReference,
  formatReference,
  type ImageReference,
} from './registry/reference.js';
export {
  INTERNAL_REGISTRY,
  pushImage,
  type PushEvent,
  type PushOptions,
  type PushResult,
  type PushedRef,
} from './push/push.js';
export { parseSource, type SourceReference } from './push/sources.js';
export type { PushTool } from './push/tool-push.js';
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
export { stopRunningTools } from './login/tool-login.js';
export { removeHeldTemporaries } from './temporary-files.js';
