/**
 * Back-pressure on the API server and the registry: every call waits for its slot in a paced stream, and
 * the pace adapts (additive increase, multiplicative decrease) — halved whenever the other side answers
 * 429 or 5xx, and raised by one call per second after a run of successes.
 */
import type { ClusterClient, PruneCluster, PruneRegistry } from '@registry-push/core';
import { isThrottleSignal } from './errors.js';

/** Options of {@link AdaptiveRateLimiter}. */
export interface RateLimiterOptions {
  /** Calls per second to start with, and the most it goes back up to. */
  ratePerSecond: number;
  /** The least it goes down to. */
  minRatePerSecond: number;
  /** Successes in a row before the rate goes up by one. Default 20. */
  recoverAfter?: number;
  /** Told whenever the rate changes. */
  onChange?: (rate: number, reason: 'throttled' | 'recovered') => void;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A pacing limiter whose rate adapts to how the other side answers. */
export class AdaptiveRateLimiter {
  #rate: number;
  #next = 0;
  #successes = 0;
  readonly #options: Required<Omit<RateLimiterOptions, 'onChange'>> & Pick<RateLimiterOptions, 'onChange'>;

  constructor(options: RateLimiterOptions) {
    this.#options = { recoverAfter: 20, ...options };
    this.#rate = options.ratePerSecond;
  }

  /** Calls per second allowed now. */
  get rate(): number {
    return this.#rate;
  }

  /** Waits until the next call may start. */
  async acquire(): Promise<void> {
    const now = Date.now();
    const slot = Math.max(now, this.#next);
    this.#next = slot + 1000 / this.#rate;
    if (slot > now) await sleep(slot - now);
  }

  /** The other side answered fine. */
  succeeded(): void {
    if (++this.#successes < this.#options.recoverAfter || this.#rate >= this.#options.ratePerSecond) return;
    this.#successes = 0;
    this.#rate = Math.min(this.#options.ratePerSecond, this.#rate + 1);
    this.#options.onChange?.(this.#rate, 'recovered');
  }

  /** The other side said it is overloaded (429, 5xx). */
  throttled(): void {
    this.#successes = 0;
    const next = Math.max(this.#options.minRatePerSecond, this.#rate / 2);
    if (next === this.#rate) return;
    this.#rate = next;
    // The next call waits a full slot at the new pace.
    this.#next = Math.max(this.#next, Date.now() + 1000 / next);
    this.#options.onChange?.(this.#rate, 'throttled');
  }

  /** Runs `call` in its slot and feeds its outcome back into the rate. */
  async run<T>(call: () => Promise<T>): Promise<T> {
    await this.acquire();
    return this.observe(call);
  }

  /** Runs `call` now (its slot was taken before) and feeds its outcome back into the rate. */
  async observe<T>(call: () => Promise<T>): Promise<T> {
    try {
      const value = await call();
      this.succeeded();
      return value;
    } catch (error) {
      if (isThrottleSignal(error)) this.throttled();
      else this.succeeded();
      throw error;
    }
  }
}

/** The executor's cluster port, with every call paced by `limiter`. */
export function throttledCluster(port: PruneCluster, limiter: AdaptiveRateLimiter): PruneCluster {
  return {
    getImageStream: (namespace, name) => limiter.run(() => port.getImageStream(namespace, name)),
    replaceImageStreamStatus: (stream) => limiter.run(() => port.replaceImageStreamStatus(stream)),
    getImage: (digest) => limiter.run(() => port.getImage(digest)),
    deleteImage: (digest) => limiter.run(() => port.deleteImage(digest)),
    listImages: () => limiter.run(() => port.listImages()),
    listImageStreams: () => limiter.run(() => port.listImageStreams()),
  };
}

/** The registry port, with every delete paced by `limiter`. */
export function throttledRegistry(registry: PruneRegistry, limiter: AdaptiveRateLimiter): PruneRegistry {
  return {
    deleteManifest: (repository, digest) => limiter.run(() => registry.deleteManifest(repository, digest)),
    deleteLayerLink: (repository, digest) => limiter.run(() => registry.deleteLayerLink(repository, digest)),
    deleteBlob: (digest) => limiter.run(() => registry.deleteBlob(digest)),
  };
}

const PACED_METHODS = new Set<PropertyKey>(['get', 'find', 'list', 'replaceStatus', 'delete', 'create']);

/**
 * The client with its reads and writes paced by `limiter` (the snapshot takes a `ClusterClient`, not a
 * port, so the pacing goes around the object). A paged list counts as one call.
 */
export function throttledClient(client: ClusterClient, limiter: AdaptiveRateLimiter): ClusterClient {
  return new Proxy(client, {
    get(target, property, receiver): unknown {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || !PACED_METHODS.has(property)) return value;
      const method = value as (...args: unknown[]) => Promise<unknown>;
      return (...args: unknown[]) => limiter.run(() => method.apply(target, args));
    },
  });
}
