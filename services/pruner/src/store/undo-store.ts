/**
 * The undo store port: the undo records of confirmed runs. Every object a run removes is recorded whole
 * right before its removal, one entry per removal (so a 100k-image run is many small values, never one large
 * one), with a small head that says where the run's window is. The registry phase of a run reads its pending
 * deletes from here, and refuses to run when the record is not complete: nothing is deleted from the
 * registry that could not be restored.
 *
 * Implementations: `RedisUndoStore` (`redis-undo-store.ts`, the service) and `MemoryUndoStore`
 * (`memory-undo-store.ts`, tests); `test/store-contract.ts` checks both.
 */
import type { PruneMode, RemovalRecord } from '@registry-push/core';

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

/** What a run's record starts with. */
export type UndoStart = Pick<UndoHead, 'runId' | 'mode' | 'windowMs' | 'protectAnnotation' | 'createdAt'>;

/** The head fields {@link UndoStore.update} may change, as text (`cursor` as its decimal number). */
export type UndoChange = Partial<
  Record<'state' | 'registryAt' | 'closedAt' | 'cursor' | 'summary' | 'error', string>
>;

/** What the metrics read. */
export interface UndoTotals {
  runsInWindow: number;
  bytesPending: number;
  restores: Record<string, number>;
}

/** One page of a run's entries, and the index after it (where the next page starts). */
export interface UndoPage {
  end: number;
  records: RemovalRecord[];
}

/** Entries read at a time. */
export const UNDO_PAGE = 200;

/** The undo records. Any worker, and the `restore` command, may use one store at once. */
export interface UndoStore {
  /**
   * Starts a run's record, kept `ttlMs` from now. Started again (a retried plan job), it keeps the head
   * fields and entries already there and only renews the time kept. Lists the run for {@link list}.
   */
  begin(head: UndoStart, ttlMs: number): Promise<void>;

  /**
   * Adds one entry after the others and counts it in the head (`recorded`, `storedBytes`, and the blob bytes
   * of an image entry in `bytesPending`); the entries are kept as long as the head. Appends from several
   * workers at once all land, and all are counted.
   */
  append(runId: string, record: RemovalRecord): Promise<void>;

  /** The head of a run's record; undefined when there is none (never made, expired, or lost). */
  head(runId: string): Promise<UndoHead | undefined>;

  /** Whether the record is whole: its head is there and it holds every entry the head counted. */
  complete(runId: string): Promise<boolean>;

  /** Changes fields of the head (and, with `ttlMs`, keeps the record, entries and all, `ttlMs` from now). */
  update(runId: string, change: UndoChange, ttlMs?: number): Promise<void>;

  /** The entries from index `from` on, in the order appended, `size` at a time (default {@link UNDO_PAGE}). */
  pages(runId: string, from?: number, size?: number): AsyncGenerator<UndoPage>;

  /** Every entry, in the order appended. */
  records(runId: string): AsyncGenerator<RemovalRecord>;

  /** The heads of the runs that still have a record, newest `createdAt` first (expired records are dropped). */
  list(): Promise<UndoHead[]>;

  /** Counts restored objects by outcome (additive: whoever restores, the CLI or a worker). */
  countRestores(counts: Partial<Record<string, number>>): Promise<void>;

  /**
   * Runs in their window (`recording` or `open`), the bytes their registry phases may delete (full mode),
   * and the restores counted so far.
   */
  totals(): Promise<UndoTotals>;
}

/** Reads a head from its stored fields (text, as a Redis hash holds them); undefined without a `runId`. */
export function undoHeadOf(fields: Readonly<Record<string, string>>): UndoHead | undefined {
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

/** The totals of {@link UndoStore.totals} from the heads listed and the restore counts. */
export function undoTotalsOf(heads: readonly UndoHead[], restores: Record<string, number>): UndoTotals {
  const open = heads.filter((head) => head.state === 'open' || head.state === 'recording');
  return {
    runsInWindow: open.length,
    bytesPending: open
      .filter((head) => head.mode === 'full')
      .reduce((sum, head) => sum + head.bytesPending, 0),
    restores,
  };
}

/** Blob bytes an entry adds to `bytesPending` (an image's blobs; other entries free none). */
export function pendingBytesOf(record: RemovalRecord): number {
  return record.type === 'image' ? record.unit.blobs.reduce((sum, blob) => sum + blob.size, 0) : 0;
}
