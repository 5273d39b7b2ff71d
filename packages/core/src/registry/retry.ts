import { setTimeout as sleep } from 'node:timers/promises';
import { isRegistryPushError } from '../errors.js';

/** How often and how patiently transient failures are retried. */
export interface RetryPolicy {
  /** Retries after the first attempt (default 4). */
  retries: number;
  /** First backoff (default 250 ms); doubles each time, with full jitter. */
  baseDelayMs: number;
  /** Cap of one backoff, also of an honoured `Retry-After` (default 20 s). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { retries: 4, baseDelayMs: 250, maxDelayMs: 20_000 };

/** Told before each retry, for logs and progress displays. */
export interface RetryEvent {
  attempt: number;
  delayMs: number;
  error: unknown;
}

/** The wait before retry number `attempt` (1-based): `Retry-After` when the registry gave one, else backoff. */
export function retryDelay(
  attempt: number,
  error: unknown,
  policy: RetryPolicy,
  random = Math.random,
): number {
  if (isRegistryPushError(error)) {
    const retryAfter = error.details['retryAfterMs'];
    if (typeof retryAfter === 'number') return Math.min(retryAfter, policy.maxDelayMs);
  }
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  // Full jitter keeps parallel uploads that failed together from retrying together.
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Whether an error is worth another attempt: only network trouble, 5xx and 429 are. */
export function isRetryable(error: unknown): boolean {
  return isRegistryPushError(error) && error.retryable;
}

/**
 * Run `operation` until it succeeds, fails with a permanent error, or the retries are used up. Each attempt
 * starts from scratch (a new upload session, a reopened file), so a retry never continues a broken one.
 */
export async function withRetry<T>(
  operation: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  onRetry?: (event: RetryEvent) => void,
  signal?: AbortSignal,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (attempt > policy.retries || !isRetryable(error) || signal?.aborted === true) throw error;
      const delayMs = retryDelay(attempt, error, policy);
      onRetry?.({ attempt, delayMs, error });
      await sleep(delayMs, undefined, signal === undefined ? undefined : { signal });
    }
  }
}
