/**
 * Reading unit results: which stream units settled (so images relying on them may go), whether a unit's
 * failures are worth another attempt, and the run's result log put together from the units' stored results
 * in plan order.
 */
import {
  RESULT_SCHEMA,
  summariseRun,
  type PruneRunResult,
  type UnitResult,
  type WorkUnit,
} from '@registry-push/core';
import { isTransientCode, isThrottleCode } from './errors.js';
import type { StoredPlan, StoredUnitResult } from './store.js';

/** Whether a stream unit's history update is settled: written, already so, or the stream is gone. */
export function streamSettled(result: UnitResult | undefined): boolean {
  if (result === undefined) return false;
  const update = result.items.find((item) => item.kind === 'stream-update');
  return update !== undefined && update.outcome !== 'failed' && update.outcome !== 'skipped';
}

/** How a unit's failures look: none, all worth another attempt, or at least one that will not go away. */
export type FailureKind = 'none' | 'transient' | 'permanent';

/** Classifies a unit result's failed items. */
export function failureKind(result: UnitResult): FailureKind {
  const codes = result.items
    .filter((item) => item.outcome === 'failed')
    .map((item) => item.error?.code ?? 'UNEXPECTED');
  if (codes.length === 0) return 'none';
  return codes.every(isTransientCode) ? 'transient' : 'permanent';
}

/** Whether a result's failures say the API server or registry is overloaded. */
export function throttled(result: UnitResult): boolean {
  return result.items.some((item) => item.outcome === 'failed' && isThrottleCode(item.error?.code ?? ''));
}

/** The failures of a result, one line each (for job failure messages and logs). */
export function failureLines(result: UnitResult, max = 5): string[] {
  const failed = result.items.filter((item) => item.outcome === 'failed');
  const lines = failed
    .slice(0, max)
    .map((item) =>
      `${item.kind} ${item.target}: ${item.error?.code ?? 'UNEXPECTED'} ${item.error?.message ?? ''}`.trim(),
    );
  if (failed.length > max) lines.push(`and ${failed.length - max} more`);
  return lines;
}

/** The result of a unit no worker finished (its job failed for good, for instance after stalling too often). */
export function lostUnit(unit: WorkUnit, reason: string): UnitResult {
  const at = new Date().toISOString();
  const base = {
    unit: unit.id,
    outcome: 'failed' as const,
    attempts: 0,
    bytes: 0,
    at,
    error: { code: 'PRUNER_UNIT_LOST', message: reason },
  };
  const item =
    unit.type === 'stream'
      ? { ...base, kind: 'stream-update' as const, target: `${unit.namespace}/${unit.name}` }
      : { ...base, kind: 'image' as const, target: unit.digest };
  return { unit: unit.id, status: 'failed', items: [item] };
}

/**
 * The run's result log from the stored unit results, in plan order; units without a result are reported
 * as lost. A lost stream unit may have written its history and a lost image unit deleted some blobs: each
 * step is safe on its own, and the next run plans whatever is left.
 */
export function assembleResult(
  plan: StoredPlan,
  stored: ReadonlyMap<string, StoredUnitResult>,
  run: { dryRun: boolean; startedAt: string; finishedAt: string },
): PruneRunResult {
  const units = plan.units.map(
    (unit) =>
      stored.get(unit.id)?.result ??
      lostUnit(
        unit,
        `No worker finished unit ${unit.id} (its job failed for good); the next run plans what is left of it again.`,
      ),
  );
  return {
    schema: RESULT_SCHEMA,
    planId: plan.id,
    mode: plan.mode,
    dryRun: run.dryRun,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    units,
    summary: summariseRun(units),
  };
}
