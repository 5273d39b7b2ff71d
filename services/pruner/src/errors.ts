/**
 * The pruner's own failures and how every failure is classified: transient ones are retried with backoff,
 * permanent ones end the job as unrecoverable with a message that says what to do.
 */
import { RegistryPushError, formatError } from '@registry-push/core';

/** Stable codes of failures that belong to the service rather than to the core. */
export const PRUNER_ERROR_CODES = [
  'PRUNER_USAGE',
  'PRUNER_SETTING_INVALID',
  'PRUNER_REDIS_UNREACHABLE',
  'PRUNER_RUN_NOT_FOUND',
  'PRUNER_UNIT_LOST',
  'PRUNER_TIMEOUT',
  'PRUNER_HTTP_BIND_FAILED',
  'PRUNER_TOKEN_INVALID',
  'PRUNER_ACCESS_REVIEW_FORBIDDEN',
  'PRUNER_UNDO_RECORD_MISSING',
  'PRUNER_PLAN_NOT_APPROVABLE',
  'PRUNER_INTERRUPTED',
] as const;

/** One of {@link PRUNER_ERROR_CODES}. */
export type PrunerErrorCode = (typeof PRUNER_ERROR_CODES)[number];

/** A failure of the service itself (settings, Redis, the queue). */
export class PrunerError extends Error {
  /** Stable identifier. */
  readonly code: PrunerErrorCode;
  /** What to do about it. */
  readonly hint: string;

  constructor(code: PrunerErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PrunerError';
    this.code = code;
    this.hint = options.hint ?? '';
    Object.setPrototypeOf(this, PrunerError.prototype);
  }
}

// Codes in the engine's result log that another attempt may fix. API_ERROR covers 429 and 5xx from the API
// server (and, rarely, other statuses); retries are bounded, so counting it as transient costs little.
const TRANSIENT_CODES = new Set<string>([
  'TIMEOUT',
  'CLUSTER_UNREACHABLE',
  'API_ERROR',
  'GONE',
  'CONFLICT',
  'REGISTRY_UNREACHABLE',
  'REGISTRY_RATE_LIMITED',
  'REGISTRY_SERVER_ERROR',
  'REGISTRY_UNAVAILABLE',
  'PRUNER_REDIS_UNREACHABLE',
  'PRUNE_VIEW_STALE',
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
]);

// Codes that mean the API server or the registry is overloaded: the rate limit goes down on these.
const THROTTLE_CODES = new Set<string>([
  'REGISTRY_RATE_LIMITED',
  'REGISTRY_SERVER_ERROR',
  'REGISTRY_UNAVAILABLE',
]);

/** Whether an error code from a result log is worth another attempt. */
export function isTransientCode(code: string): boolean {
  return TRANSIENT_CODES.has(code);
}

/** The `code` of any error: ours, the core's, or a Node system error. */
export function codeOf(error: unknown): string {
  if (error instanceof RegistryPushError || error instanceof PrunerError) return error.code;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'UNEXPECTED';
}

/** Whether trying the same thing again later may succeed. */
export function isTransient(error: unknown): boolean {
  if (error instanceof RegistryPushError) return error.retryable || isTransientCode(error.code);
  return isTransientCode(codeOf(error));
}

/** Whether an error (or a result-log code) says the other side is overloaded: HTTP 429 or 5xx. */
export function isThrottleSignal(error: unknown): boolean {
  if (error instanceof RegistryPushError) {
    const status = error.details.status;
    if (typeof status === 'number' && (status === 429 || status >= 500)) return true;
    return THROTTLE_CODES.has(error.code);
  }
  return false;
}

/** Whether a result-log code says the other side is overloaded. */
export function isThrottleCode(code: string): boolean {
  return THROTTLE_CODES.has(code) || code === 'API_ERROR';
}

/** One line for people: message, hint and code. */
export function describeError(error: unknown): string {
  if (error instanceof PrunerError) {
    return `${error.message}${error.hint === '' ? '' : ` ${error.hint}`} [${error.code}]`;
  }
  return formatError(error);
}

/** A JSON-safe `{code, message}` of any error (never its cause, which may hold response bodies). */
export function errorBody(error: unknown): { code: string; message: string } {
  return { code: codeOf(error), message: describeError(error) };
}
