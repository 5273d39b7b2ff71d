/**
 * Back-pressure on the API server and the registry: every call waits for its slot in a paced stream, and
 * the pace adapts (additive increase, multiplicative decrease) — halved whenever the other side answers
 * 429 or 5xx, and raised by one call per second after a run of successes. Each side has a limiter of its
 * own ({@link RateLimiters}), so an overloaded registry never slows the API calls, nor the reverse; a 429
 * that says `Retry-After` also holds every call of its side for that long.
 */
import type { JsonPatchOperation, PruneCluster, PruneRegistry, SnapshotSource } from '@registry-push/core';
import { RegistryPushError } from '@registry-push/core';
import { isThrottleSignal } from './errors.js';

/** Which other side a limiter paces. */
export type RateSide = 'api' | 'registry';

/** Options of {@link AdaptiveRateLimiter}. */
export interface RateLimiterOptions {
  /** Calls per second to start with, and the most it goes back up to. */
  ratePerSecond: number;
  /** The least it goes down to. */
  minRatePerSecond: number;
  /** Successes in a row before the rate goes up by one. Default 20. */
  recoverAfter?: number;
  /** Longest pause a `Retry-After` may impose (a longer one is cut to this). Default 60 s. */
  maxPauseMs?: number;
  /** Told whenever the rate changes. */
  onChange?: (rate: number, reason: 'throttled' | 'recovered') => void;
  /** Told when an answer's `Retry-After` pauses every call. */
  onPause?: (ms: number) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The `Retry-After` (ms) an error carries, when the other side gave one with a 429 or 5xx. */
export function retryAfterOf(error: unknown): number | undefined {
  if (!(error instanceof RegistryPushError) || !isThrottleSignal(error)) return undefined;
  const ms = error.details['retryAfterMs'];
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/** A pacing limiter whose rate adapts to how the other side answers. */
export class AdaptiveRateLimiter {
  #rate: number;
  #next = 0;
  #successes = 0;
  #pausedUntil = 0;
  readonly #options: Required<Omit<RateLimiterOptions, 'onChange' | 'onPause'>> &
    Pick<RateLimiterOptions, 'onChange' | 'onPause'>;

  constructor(options: RateLimiterOptions) {
    this.#options = { recoverAfter: 20, maxPauseMs: 60_000, ...options };
    this.#rate = options.ratePerSecond;
  }

  /** Calls per second allowed now. */
  get rate(): number {
    return this.#rate;
  }

  /** Until when (ms since the epoch) calls wait for a `Retry-After`; 0 or past when they do not. */
  get pausedUntil(): number {
    return this.#pausedUntil;
  }

  /** Waits until the next call may start (after any pause, even one that began while it waited). */
  async acquire(): Promise<void> {
    for (;;) {
      const now = Date.now();
      if (this.#pausedUntil > now) {
        await sleep(this.#pausedUntil - now);
        continue;
      }
      const slot = Math.max(now, this.#next);
      this.#next = slot + 1000 / this.#rate;
      if (slot > now) await sleep(slot - now);
      if (this.#pausedUntil <= Date.now()) return;
    }
  }

  /** Holds every call for `ms` (at most `maxPauseMs`), as a `Retry-After` asks. */
  pause(ms: number): void {
    const wait = Math.min(ms, this.#options.maxPauseMs);
    const until = Date.now() + wait;
    if (until <= this.#pausedUntil) return;
    this.#pausedUntil = until;
    this.#options.onPause?.(wait);
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
      if (isThrottleSignal(error)) {
        this.throttled();
        const retryAfter = retryAfterOf(error);
        if (retryAfter !== undefined) this.pause(retryAfter);
      } else this.succeeded();
      throw error;
    }
  }
}

/** The two limiters of a process: API server calls and registry calls, each with its own pace. */
export interface RateLimiters {
  api: AdaptiveRateLimiter;
  registry: AdaptiveRateLimiter;
}

/** What {@link createRateLimiters} reads: one rate and floor per side. */
export interface RateSettings {
  apiRate: number;
  apiMinRate: number;
  registryRate: number;
  registryMinRate: number;
}

/**
 * The API and registry limiters from the settings.
 *
 * @param onChange Told when either changes its rate, with the side.
 * @param onPause Told when a `Retry-After` pauses a side.
 */
export function createRateLimiters(
  settings: RateSettings,
  onChange?: (side: RateSide, rate: number, reason: 'throttled' | 'recovered') => void,
  onPause?: (side: RateSide, ms: number) => void,
): RateLimiters {
  const make = (side: RateSide, ratePerSecond: number, minRatePerSecond: number): AdaptiveRateLimiter =>
    new AdaptiveRateLimiter({
      ratePerSecond,
      minRatePerSecond,
      ...(onChange !== undefined ? { onChange: (rate, reason) => onChange(side, rate, reason) } : {}),
      ...(onPause !== undefined ? { onPause: (ms) => onPause(side, ms) } : {}),
    });
  return {
    api: make('api', settings.apiRate, settings.apiMinRate),
    registry: make('registry', settings.registryRate, settings.registryMinRate),
  };
}

/** The executor's cluster port, with every call paced by `limiter`. */
export function throttledCluster(port: PruneCluster, limiter: AdaptiveRateLimiter): PruneCluster {
  return {
    getImageStream: (namespace, name) => limiter.run(() => port.getImageStream(namespace, name)),
    replaceImageStreamStatus: (stream) => limiter.run(() => port.replaceImageStreamStatus(stream)),
    ...(port.patchImageStreamStatus === undefined
      ? {}
      : {
          patchImageStreamStatus: (
            namespace: string,
            name: string,
            operations: readonly JsonPatchOperation[],
          ) => limiter.run(() => port.patchImageStreamStatus!(namespace, name, operations)),
        }),
    getImage: (digest) => limiter.run(() => port.getImage(digest)),
    deleteImage: (digest) => limiter.run(() => port.deleteImage(digest)),
    listImages: () => limiter.run(() => port.listImages()),
    listImageStreams: () => limiter.run(() => port.listImageStreams()),
  };
}

/**
 * The registry port with every call reporting its outcome to `limiter` but not waiting for a slot: for an
 * executor that takes each delete's slot before it decides the delete (`registrySlot`).
 */
export function observedRegistry(registry: PruneRegistry, limiter: AdaptiveRateLimiter): PruneRegistry {
  return {
    deleteManifest: (repository, digest) =>
      limiter.observe(() => registry.deleteManifest(repository, digest)),
    deleteLayerLink: (repository, digest) =>
      limiter.observe(() => registry.deleteLayerLink(repository, digest)),
    deleteBlob: (digest) => limiter.observe(() => registry.deleteBlob(digest)),
    ...(registry.restoreLayerLink === undefined
      ? {}
      : {
          restoreLayerLink: (repository: string, digest: string, from: string) =>
            limiter.run(() => registry.restoreLayerLink!(repository, digest, from)),
        }),
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

/**
 * The snapshot's source with every page of its lists paced by `limiter`: a paged list is one call per page,
 * each in its own slot, and a throttled page (429/5xx) slows the rest.
 */
export function pacedSnapshotSource(client: SnapshotSource, limiter: AdaptiveRateLimiter): SnapshotSource {
  return {
    listPages: (type, options, onPage) =>
      limiter.observe(() =>
        client.listPages(
          type,
          {
            ...options,
            beforePage: async () => {
              await options.beforePage?.();
              await limiter.acquire();
            },
          },
          onPage,
        ),
      ),
  };
}
