/**
 * Every failure a user can cause or meet ends in one {@link RegistryPushError}: a stable `code` for scripts
 * and docs, a `message` that says what happened, and a `hint` that says what to do about it. Raw HTTP
 * bodies, headers and secrets never go into either.
 */

/** The codes of cluster access, exposure, trust, login, preflight and pruning (see {@link REGISTRY_ERROR_CODES}). */
export const CORE_ERROR_CODES = [
  // cluster/
  'KUBECONFIG_MISSING',
  'KUBECONFIG_INVALID',
  'CLUSTER_UNREACHABLE',
  'CLUSTER_TLS_UNTRUSTED',
  'TOKEN_INVALID',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'GONE',
  'INVALID',
  'API_ERROR',
  'TIMEOUT',
  // expose/
  'REGISTRY_REMOVED',
  'REGISTRY_UNMANAGED',
  'STORAGE_NOT_CONFIGURED',
  'OPERATOR_CONFIG_MISSING',
  'ROUTE_NOT_ADMITTED',
  'REGISTRY_NOT_EXPOSED',
  'EXPOSE_FORBIDDEN',
  // trust/
  'CA_INVALID',
  'CA_NOT_FOUND',
  'CA_MISMATCH',
  'CERT_EXPIRED',
  'TRUST_STORE_UNWRITABLE',
  // login/
  'USERNAME_INVALID',
  'TOKEN_MISSING',
  'TOKEN_REJECTED',
  'TOKEN_EXPIRED',
  'LOGIN_TOOL_FAILED',
  // preflight and options
  'PROJECT_NOT_FOUND',
  'PUSH_FORBIDDEN',
  'OPTION_INVALID',
  'TOOL_MISSING',
  'INTERRUPTED',
  // prune/
  'PRUNE_POLICY_INVALID',
  'PRUNE_SNAPSHOT_INCOMPLETE',
  'PRUNE_REFERENCE_INVALID',
  // Raised by no current code (an unreadable Image is kept and reported); kept so scripts matching it still parse.
  'PRUNE_IMAGE_INVALID',
  'PRUNE_PLAN_INVALID',
  'PRUNE_REGISTRY_REQUIRED',
  'PRUNE_VIEW_STALE',
] as const;

/** The codes of the OCI distribution client and of push, pull and copy. */
export const REGISTRY_ERROR_CODES = [
  'REGISTRY_UNREACHABLE',
  'REGISTRY_TLS_UNTRUSTED',
  'REGISTRY_UNAUTHORIZED',
  'REGISTRY_DENIED',
  'REGISTRY_NAME_UNKNOWN',
  'REGISTRY_NAME_INVALID',
  'REGISTRY_MANIFEST_UNKNOWN',
  'REGISTRY_MANIFEST_INVALID',
  'REGISTRY_BLOB_UNKNOWN',
  'REGISTRY_BLOB_UPLOAD_INVALID',
  'REGISTRY_DIGEST_INVALID',
  'REGISTRY_SIZE_INVALID',
  'REGISTRY_UNSUPPORTED',
  'REGISTRY_READ_ONLY',
  'REGISTRY_RATE_LIMITED',
  'REGISTRY_SERVER_ERROR',
  'REGISTRY_UNAVAILABLE',
  'REGISTRY_PROTOCOL',
  'REGISTRY_REQUEST_TOO_LARGE',
  'REFERENCE_INVALID',
  'SOURCE_NOT_FOUND',
  'SOURCE_INVALID',
  'BLOB_CORRUPT',
  'PUSH_TOOL_FAILED',
  'TRANSPORT_UNSUPPORTED',
] as const;

/** The codes of registry administration: status, doctor, enable and metrics. */
export const ADMIN_ERROR_CODES = [
  'STORAGE_REFUSED',
  'STORAGE_FAILED',
  'ENABLE_FORBIDDEN',
  'REGISTRY_NOT_AVAILABLE',
  'METRICS_FORBIDDEN',
  'METRICS_UNAVAILABLE',
] as const;

/** A stable identifier of a failure class; documented in the README's troubleshooting table. */
export type ErrorCode =
  | (typeof CORE_ERROR_CODES)[number]
  | (typeof REGISTRY_ERROR_CODES)[number]
  | (typeof ADMIN_ERROR_CODES)[number];

/** Extra, non-secret facts about a failure, for `--output json` and logs. */
export type ErrorDetails = Readonly<Record<string, string | number | boolean | undefined>>;

/** Options of {@link RegistryPushError}. */
export interface RegistryPushErrorOptions {
  /** What the user should do next, written as an instruction. */
  hint?: string;
  /** The lower-level error, kept for debugging; it is never printed by {@link formatError}. */
  cause?: unknown;
  /** Non-secret facts (status code, namespace, host, ...). */
  details?: ErrorDetails;
  /** Whether trying the same operation again may succeed (network trouble, 5xx, 429). */
  retryable?: boolean;
}

/** The one error type the core throws. */
export class RegistryPushError extends Error {
  /** A stable identifier for scripts and the troubleshooting table. */
  readonly code: ErrorCode;
  /** What to do about it; may be empty when the message already says it all. */
  readonly hint: string;
  /** Non-secret facts about the failure. */
  readonly details: ErrorDetails;
  /** Whether trying again may succeed. */
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: RegistryPushErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RegistryPushError';
    this.code = code;
    this.hint = options.hint ?? '';
    this.details = options.details ?? {};
    this.retryable = options.retryable ?? false;
  }

  /** A plain object for JSON output: code, message, hint and details, nothing else. */
  toJSON(): { code: ErrorCode; message: string; hint: string; details: ErrorDetails } {
    return { code: this.code, message: this.message, hint: this.hint, details: this.details };
  }
}

/** Whether `value` is a {@link RegistryPushError}, optionally with one of the given codes. */
export function isRegistryPushError(value: unknown, ...codes: ErrorCode[]): value is RegistryPushError {
  return value instanceof RegistryPushError && (codes.length === 0 || codes.includes(value.code));
}

/**
 * The one line a user sees: `message` then `hint`, with the code in brackets. Errors that are not ours are
 * shown by their message only, since we cannot vouch for what else they carry.
 */
export function formatError(error: unknown): string {
  if (error instanceof RegistryPushError) {
    const hint = error.hint === '' ? '' : ` ${error.hint}`;
    return `${error.message}${hint} [${error.code}]`;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}
