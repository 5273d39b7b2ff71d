/**
 * Rules both run store implementations follow, in one place so the two cannot drift apart: what a unit
 * result adds to a run's progress, which runs the history limits drop, and the failure of a run whose plan
 * is not (completely) stored.
 */
import type { UnitResult } from '@registry-push/core';
import { PrunerError } from '../errors.js';
import type { HistoryLimits, RunProgress, RunRecord } from './run-store.js';

/** A run's progress before anything was counted. */
export const ZERO_PROGRESS: Readonly<RunProgress> = Object.freeze({
  unitsTotal: 0,
  unitsDone: 0,
  unitsFailed: 0,
  itemsDeleted: 0,
  itemsFailed: 0,
  bytesFreed: 0,
  linksRestored: 0,
  linksNotRestored: 0,
});

/** The counters of {@link RunProgress}, in the order the Redis hash has always listed them. */
export const PROGRESS_FIELDS = Object.keys(ZERO_PROGRESS) as readonly (keyof RunProgress)[];

/** What one recorded unit result adds to its run's progress (besides `unitsDone`, always 1). */
export interface ResultCounts {
  /** 1 when the unit's result is `failed`. */
  unitsFailed: number;
  itemsDeleted: number;
  itemsFailed: number;
  /** Bytes of the deleted items that report a size (blobs). */
  bytesFreed: number;
}

/** What `result` adds to its run's progress when it is recorded. */
export function resultCounts(result: UnitResult): ResultCounts {
  const counts: ResultCounts = {
    unitsFailed: result.status === 'failed' ? 1 : 0,
    itemsDeleted: 0,
    itemsFailed: 0,
    bytesFreed: 0,
  };
  for (const item of result.items) {
    if (item.outcome === 'deleted') {
      counts.itemsDeleted++;
      if (item.bytes > 0) counts.bytesFreed += item.bytes;
    }
    if (item.outcome === 'failed') counts.itemsFailed++;
  }
  return counts;
}

/**
 * The runs the history limits drop: beyond the newest `successful` succeeded runs and the newest `failed`
 * failed or rejected ones. Runs in progress are never dropped.
 *
 * @param runs Every run, newest first.
 */
export function runsBeyondLimits(runs: readonly RunRecord[], limits: HistoryLimits): string[] {
  let succeeded = 0;
  let failed = 0;
  const drop: string[] = [];
  for (const run of runs) {
    if (run.status === 'succeeded' && ++succeeded > limits.successful) drop.push(run.runId);
    if ((run.status === 'failed' || run.status === 'rejected') && ++failed > limits.failed)
      drop.push(run.runId);
  }
  return drop;
}

/** Runs {@link runsBeyondLimits} reads at most (the history is trimmed after every run: it stays short). */
export const HISTORY_SCAN_LIMIT = 10_000;

/** Plan units per write and per read. */
export const PLAN_PAGE = 1000;

/** A run whose plan is not (completely) stored any more: `PRUNER_RUN_NOT_FOUND`. */
export function incompletePlan(runId: string): PrunerError {
  return new PrunerError(
    'PRUNER_RUN_NOT_FOUND',
    `Run ${runId} has no complete plan in Redis any more (it expired, was trimmed from the history, or Redis lost it).`,
    { hint: 'Nothing more of it is carried out; give Redis a volume and `enqueue` again.' },
  );
}
