/**
 * Keys with a time to live, as Redis keeps them, for the in-memory stores: a value written whole (`set`)
 * has no expiry until one is set; a value changed in place (a counter, a hash field) keeps its expiry;
 * a key past its expiry is gone. Time comes from an injectable clock, so a test moves it instead of waiting.
 */

/** Milliseconds since the epoch (`Date.now` unless a test passes its own). */
export type Clock = () => number;

/** How an in-memory store is made. */
export interface MemoryStoreOptions {
  /** The clock expiry is measured by (default `Date.now`). */
  now?: Clock;
}

interface Entry<V> {
  value: V;
  /** When the key expires (ms since the epoch); undefined: never. */
  expiresAt: number | undefined;
}

/** A map whose keys may expire, read against a {@link Clock}. */
export class ExpiringMap<K, V> {
  readonly #entries = new Map<K, Entry<V>>();
  readonly #now: Clock;

  constructor(now: Clock) {
    this.#now = now;
  }

  #live(key: K): Entry<V> | undefined {
    const entry = this.#entries.get(key);
    if (entry?.expiresAt !== undefined && this.#now() >= entry.expiresAt) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** The value, unless the key is missing or expired. */
  get(key: K): V | undefined {
    return this.#live(key)?.value;
  }

  /** The value, made (with no expiry) when the key is missing: a value changed in place keeps its expiry. */
  getOrCreate(key: K, make: () => V): V {
    const entry = this.#live(key);
    if (entry !== undefined) return entry.value;
    const value = make();
    this.#entries.set(key, { value, expiresAt: undefined });
    return value;
  }

  /** Writes the value whole, with no expiry, or with one `ttlMs` from now (as SET, and SET with PX). */
  set(key: K, value: V, ttlMs?: number): void {
    this.#entries.set(key, { value, expiresAt: ttlMs === undefined ? undefined : this.#now() + ttlMs });
  }

  /** Makes an existing key expire `ttlMs` from now (a TTL of 0 or less removes it, as PEXPIRE does). */
  expire(key: K, ttlMs: number): boolean {
    const entry = this.#live(key);
    if (entry === undefined) return false;
    if (ttlMs <= 0) this.#entries.delete(key);
    else entry.expiresAt = this.#now() + ttlMs;
    return true;
  }

  /** Milliseconds until the key expires; undefined when it never does or is missing. */
  ttl(key: K): number | undefined {
    const expiresAt = this.#live(key)?.expiresAt;
    return expiresAt === undefined ? undefined : expiresAt - this.#now();
  }

  delete(key: K): void {
    this.#entries.delete(key);
  }
}
