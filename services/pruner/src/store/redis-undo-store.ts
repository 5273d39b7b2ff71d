/**
 * The undo store in Redis: under `<prefix>:<queue>:pruner:undo:` (the run store's hash slot), a hash per
 * run's head (`<run>:head`), a list of deflate-compressed entries (`<run>:records`), a sorted set of the
 * runs by creation (`runs`), and the restore counts (`restores`). The layout is what deployed pruners read
 * and write; it does not change.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { RemovalRecord } from '@registry-push/core';
import type { RedisConnection } from '../redis.js';
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

/** The {@link UndoStore} in Redis. */
export class RedisUndoStore implements UndoStore {
  readonly #redis: RedisConnection;
  readonly #base: string;

  /**
   * @param redis The connection (shared with the queue).
   * @param prefix BullMQ's key prefix (`PRUNER_PREFIX`).
   * @param queue The queue's name (`PRUNER_QUEUE`).
   */
  constructor(redis: RedisConnection, prefix: string, queue: string) {
    this.#redis = redis;
    this.#base = `${prefix}:${queue}:pruner:undo`;
  }

  #head(runId: string): string {
    return `${this.#base}:${runId}:head`;
  }

  #list(runId: string): string {
    return `${this.#base}:${runId}:records`;
  }

  async begin(head: UndoStart, ttlMs: number): Promise<void> {
    const key = this.#head(head.runId);
    await this.#redis
      .multi()
      .hsetnx(key, 'runId', head.runId)
      .hsetnx(key, 'mode', head.mode)
      .hsetnx(key, 'state', 'recording')
      .hsetnx(key, 'windowMs', String(head.windowMs))
      .hsetnx(key, 'protectAnnotation', head.protectAnnotation)
      .hsetnx(key, 'createdAt', head.createdAt)
      .zadd(`${this.#base}:runs`, Date.parse(head.createdAt), head.runId)
      .pexpire(key, ttlMs)
      .exec();
  }

  /** The entry goes in compressed (deflate); the list's expiry follows the head's. */
  async append(runId: string, record: RemovalRecord): Promise<void> {
    const data = deflateRawSync(JSON.stringify(record));
    const bytes = pendingBytesOf(record);
    const head = this.#head(runId);
    const ttl = await this.#redis.pttl(head);
    const multi = this.#redis
      .multi()
      .rpush(this.#list(runId), data)
      .hincrby(head, 'recorded', 1)
      .hincrby(head, 'storedBytes', data.length);
    if (bytes > 0) multi.hincrby(head, 'bytesPending', bytes);
    if (ttl > 0) multi.pexpire(this.#list(runId), ttl);
    await multi.exec();
  }

  async head(runId: string): Promise<UndoHead | undefined> {
    return undoHeadOf(await this.#redis.hgetall(this.#head(runId)));
  }

  async complete(runId: string): Promise<boolean> {
    const head = await this.head(runId);
    if (head === undefined) return false;
    return (await this.#redis.llen(this.#list(runId))) === head.recorded;
  }

  async update(runId: string, change: UndoChange, ttlMs?: number): Promise<void> {
    const head = this.#head(runId);
    const multi = this.#redis.multi();
    const entries = Object.entries(change).filter(([, value]) => value !== undefined);
    if (entries.length > 0) multi.hset(head, Object.fromEntries(entries));
    if (ttlMs !== undefined) multi.pexpire(head, ttlMs).pexpire(this.#list(runId), ttlMs);
    await multi.exec();
  }

  async *pages(runId: string, from = 0, size = UNDO_PAGE): AsyncGenerator<UndoPage> {
    for (let start = from; ; start += size) {
      const values = await this.#redis.lrangeBuffer(this.#list(runId), start, start + size - 1);
      if (values.length === 0) return;
      const records = values.map(
        (value) => JSON.parse(inflateRawSync(value).toString('utf8')) as RemovalRecord,
      );
      yield { end: start + values.length, records };
      if (values.length < size) return;
    }
  }

  async *records(runId: string): AsyncGenerator<RemovalRecord> {
    for await (const page of this.pages(runId)) yield* page.records;
  }

  async list(): Promise<UndoHead[]> {
    const ids = await this.#redis.zrevrange(`${this.#base}:runs`, 0, -1);
    const heads: UndoHead[] = [];
    const gone: string[] = [];
    for (const id of ids) {
      const head = await this.head(id);
      if (head === undefined) gone.push(id);
      else heads.push(head);
    }
    if (gone.length > 0) await this.#redis.zrem(`${this.#base}:runs`, ...gone);
    return heads;
  }

  async countRestores(counts: Partial<Record<string, number>>): Promise<void> {
    const multi = this.#redis.multi();
    for (const [outcome, n] of Object.entries(counts))
      if (n !== undefined && n > 0) multi.hincrby(`${this.#base}:restores`, outcome, n);
    await multi.exec();
  }

  async totals(): Promise<UndoTotals> {
    const heads = await this.list();
    const restores = Object.fromEntries(
      Object.entries(await this.#redis.hgetall(`${this.#base}:restores`)).map(([k, v]) => [k, Number(v)]),
    );
    return undoTotalsOf(heads, restores);
  }
}
