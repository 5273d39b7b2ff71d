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
