/**
 * The undo store in memory, for tests: the same promises as the Redis store, the head kept as text fields
 * (as the Redis hash) and each entry as JSON text, with its compressed size counted as Redis stores it.
 * The time a record is kept follows an injectable clock.
 */
import { deflateRawSync } from 'node:zlib';
import type { RemovalRecord } from '@registry-push/core';
import { ExpiringMap, type MemoryStoreOptions } from './expiring-map.js';
import {
  UNDO_PAGE,
  pendingBytesOf,
  undoHeadOf,
  undoTotalsOf,
  type UndoChange,
  type UndoHead,
  type UndoPage,
  type UndoStart,
  type UndoStore,
  type UndoTotals,
} from './undo-store.js';

/** The {@link UndoStore} in memory. */
export class MemoryUndoStore implements UndoStore {
  readonly #heads: ExpiringMap<string, Map<string, string>>;
  readonly #entries: ExpiringMap<string, string[]>;
  /** Runs by creation time (ms), as the Redis sorted set lists them. */
  readonly #runs = new Map<string, number>();
  readonly #restores = new Map<string, number>();

  constructor(options: MemoryStoreOptions = {}) {
    const now = options.now ?? Date.now;
    this.#heads = new ExpiringMap(now);
    this.#entries = new ExpiringMap(now);
  }

  begin(head: UndoStart, ttlMs: number): Promise<void> {
    const fields = this.#heads.getOrCreate(head.runId, () => new Map());
    const start: [string, string][] = [
      ['runId', head.runId],
      ['mode', head.mode],
      ['state', 'recording'],
      ['windowMs', String(head.windowMs)],
      ['protectAnnotation', head.protectAnnotation],
      ['createdAt', head.createdAt],
    ];
    // Fields already there stay (a retried plan job starts the record again).
    for (const [name, value] of start) if (!fields.has(name)) fields.set(name, value);
    this.#runs.set(head.runId, Date.parse(head.createdAt));
    this.#heads.expire(head.runId, ttlMs);
    return Promise.resolve();
  }

  append(runId: string, record: RemovalRecord): Promise<void> {
    const text = JSON.stringify(record);
    const ttl = this.#heads.ttl(runId);
    const fields = this.#heads.getOrCreate(runId, () => new Map());
    const add = (name: string, n: number): void => {
      fields.set(name, String(Number(fields.get(name) ?? 0) + n));
    };
    this.#entries.getOrCreate(runId, () => []).push(text);
    add('recorded', 1);
    add('storedBytes', deflateRawSync(text).length);
    const bytes = pendingBytesOf(record);
    if (bytes > 0) add('bytesPending', bytes);
    if (ttl !== undefined && ttl > 0) this.#entries.expire(runId, ttl);
    return Promise.resolve();
  }

  head(runId: string): Promise<UndoHead | undefined> {
    const fields = this.#heads.get(runId);
    return Promise.resolve(fields === undefined ? undefined : undoHeadOf(Object.fromEntries(fields)));
  }

  async complete(runId: string): Promise<boolean> {
    const head = await this.head(runId);
    if (head === undefined) return false;
    return (this.#entries.get(runId)?.length ?? 0) === head.recorded;
  }

  update(runId: string, change: UndoChange, ttlMs?: number): Promise<void> {
    const entries = Object.entries(change).filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    );
    if (entries.length > 0) {
      const fields = this.#heads.getOrCreate(runId, () => new Map());
      for (const [name, value] of entries) fields.set(name, value);
    }
    if (ttlMs !== undefined) {
      this.#heads.expire(runId, ttlMs);
      this.#entries.expire(runId, ttlMs);
    }
    return Promise.resolve();
  }

  /** One page of entries, read as the Redis store reads it: other calls may append between two pages. */
  #page(runId: string, start: number, size: number): Promise<string[]> {
    return Promise.resolve((this.#entries.get(runId) ?? []).slice(start, start + size));
  }

  async *pages(runId: string, from = 0, size = UNDO_PAGE): AsyncGenerator<UndoPage> {
    for (let start = from; ; start += size) {
      const texts = await this.#page(runId, start, size);
      if (texts.length === 0) return;
      yield { end: start + texts.length, records: texts.map((text) => JSON.parse(text) as RemovalRecord) };
      if (texts.length < size) return;
    }
  }

  async *records(runId: string): AsyncGenerator<RemovalRecord> {
    for await (const page of this.pages(runId)) yield* page.records;
  }

  /** Newest first; runs created at the same moment in reverse id order (as a Redis sorted set). */
  async list(): Promise<UndoHead[]> {
    const ids = [...this.#runs.entries()]
      .sort(([a, at], [b, bt]) => bt - at || (a < b ? 1 : a > b ? -1 : 0))
      .map(([id]) => id);
    const heads: UndoHead[] = [];
    for (const id of ids) {
      const head = await this.head(id);
      if (head === undefined) this.#runs.delete(id);
      else heads.push(head);
    }
    return heads;
  }

  countRestores(counts: Partial<Record<string, number>>): Promise<void> {
    for (const [outcome, n] of Object.entries(counts))
      if (n !== undefined && n > 0) this.#restores.set(outcome, (this.#restores.get(outcome) ?? 0) + n);
    return Promise.resolve();
  }

  async totals(): Promise<UndoTotals> {
    return undoTotalsOf(await this.list(), Object.fromEntries(this.#restores));
  }
}
