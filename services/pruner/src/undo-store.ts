/**
 * The undo records of confirmed runs in Redis: every object a run removes, recorded whole right before its
 * removal, compressed (deflate) one entry per removal into a list (so a 100k-image run is many small values,
 * never one large one), with a small head that says where the run's window is. The registry phase of a run
 * reads its pending deletes from here, and refuses to run when the record is not complete: nothing is
 * deleted from the registry that could not be restored.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { PruneMode, RemovalRecord } from '@registry-push/core';
import type { RedisConnection } from './redis.js';

/** Where a run's undo window is. */
export type UndoState =
  /** The run is removing metadata and recording it. */
  | 'recording'
  /** Everything recorded; restore puts it back (full mode: until the registry phase starts). */
  | 'open'
  /** The registry phase is deleting: restore answers `too-late`. */
  | 'registry-running'
  /** The registry phase is done: restore answers `too-late`. */
  | 'closed'
  /** The registry phase found the record incomplete and deleted nothing. */
  | 'refused';

/** The head of a run's undo record. */
export interface UndoHead {
  runId: string;
  mode: PruneMode;
  state: UndoState;
  /** The undo window of the run (full mode), in ms. */
  windowMs: number;
  protectAnnotation: string;
  createdAt: string;
  /** When the registry phase is due (full mode, once the metadata phase ended). */
  registryAt?: string;
  closedAt?: string;
  /** Entries recorded; the list must hold as many for the record to be complete. */
  recorded: number;
  /** Bytes of the blobs the registry phase may delete (a unit recorded twice counts twice). */
  bytesPending: number;
  /** Entries the registry phase has carried out (it resumes there). */
  cursor: number;
  /** Compressed bytes of the entries. */
  storedBytes: number;
  /** The registry phase's counts, once it ran. */
  summary?: string;
  error?: string;
}

/** What the metrics read. */
export interface UndoTotals {
  runsInWindow: number;
  bytesPending: number;
  restores: Record<string, number>;
}

/** Entries read at a time. */
const PAGE = 200;

function headOf(fields: Record<string, string>): UndoHead | undefined {
  if (fields.runId === undefined) return undefined;
  const number = (name: string): number => Number(fields[name] ?? 0);
  const head: UndoHead = {
    runId: fields.runId,
    mode: fields.mode === 'metadata' ? 'metadata' : 'full',
    state: (fields.state ?? 'recording') as UndoState,
    windowMs: number('windowMs'),
    protectAnnotation: fields.protectAnnotation ?? '',
    createdAt: fields.createdAt ?? '',
    recorded: number('recorded'),
    bytesPending: number('bytesPending'),
    cursor: number('cursor'),
    storedBytes: number('storedBytes'),
  };
  for (const name of ['registryAt', 'closedAt', 'summary', 'error'] as const) {
    if (fields[name] !== undefined) head[name] = fields[name];
  }
  return head;
}

/** Undo records under `<prefix>:<queue>:pruner:undo:` (the run store's hash slot). */
export class UndoStore {
  readonly #redis: RedisConnection;
  readonly #base: string;

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

  /** Starts a run's record (again: a retried plan job keeps what is there), kept `ttlMs`. */
  async begin(
    head: Pick<UndoHead, 'runId' | 'mode' | 'windowMs' | 'protectAnnotation' | 'createdAt'>,
    ttlMs: number,
  ): Promise<void> {
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

  /** Adds one entry (compressed) and counts it; the list's expiry follows the head's. */
  async append(runId: string, record: RemovalRecord): Promise<void> {
    const data = deflateRawSync(JSON.stringify(record));
    const bytes = record.type === 'image' ? record.unit.blobs.reduce((sum, blob) => sum + blob.size, 0) : 0;
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

  /** The head of a run's record; undefined when there is none (never made, expired, or lost). */
  async head(runId: string): Promise<UndoHead | undefined> {
    return headOf(await this.#redis.hgetall(this.#head(runId)));
  }

  /** Whether the record is whole: its head is there and its list holds every entry counted. */
  async complete(runId: string): Promise<boolean> {
    const head = await this.head(runId);
    if (head === undefined) return false;
    return (await this.#redis.llen(this.#list(runId))) === head.recorded;
  }

  /** Changes fields of the head (and, with `ttlMs`, how long the record is kept from now). */
  async update(
    runId: string,
    change: Partial<Record<'state' | 'registryAt' | 'closedAt' | 'cursor' | 'summary' | 'error', string>>,
    ttlMs?: number,
  ): Promise<void> {
    const head = this.#head(runId);
    const multi = this.#redis.multi();
    const entries = Object.entries(change).filter(([, value]) => value !== undefined);
    if (entries.length > 0) multi.hset(head, Object.fromEntries(entries));
    if (ttlMs !== undefined) multi.pexpire(head, ttlMs).pexpire(this.#list(runId), ttlMs);
    await multi.exec();
  }

  /** The entries from `from` on, a page at a time, with the index after each page. */
  async *pages(
    runId: string,
    from = 0,
    size = PAGE,
  ): AsyncGenerator<{ end: number; records: RemovalRecord[] }> {
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

  /** Every entry, in order. */
  async *records(runId: string): AsyncGenerator<RemovalRecord> {
    for await (const page of this.pages(runId)) yield* page.records;
  }

  /** The heads of the runs that still have a record, newest first (forgets the runs whose record expired). */
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

  /** Counts restored objects by outcome (whoever restores: the CLI or a worker). */
  async countRestores(counts: Partial<Record<string, number>>): Promise<void> {
    const multi = this.#redis.multi();
    for (const [outcome, n] of Object.entries(counts))
      if (n !== undefined && n > 0) multi.hincrby(`${this.#base}:restores`, outcome, n);
    await multi.exec();
  }

  /** Runs in their window, the bytes their registry phases may delete, and restores so far. */
  async totals(): Promise<UndoTotals> {
    const heads = await this.list();
    const open = heads.filter((head) => head.state === 'open' || head.state === 'recording');
    const restores = Object.fromEntries(
      Object.entries(await this.#redis.hgetall(`${this.#base}:restores`)).map(([k, v]) => [k, Number(v)]),
    );
    return {
      runsInWindow: open.length,
      bytesPending: open
        .filter((head) => head.mode === 'full')
        .reduce((sum, head) => sum + head.bytesPending, 0),
      restores,
    };
  }
}
