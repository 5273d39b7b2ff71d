/**
 * Reading unit results: which stream units settled (so images relying on them may go), whether a unit's
 * failures are worth another attempt, and the run's result log put together from the units' stored results
 * in plan order.
 */
import {
  RESULT_SCHEMA,
  summariseRun,
  type ItemOutcome,
  type PlanItemKind,
  type PruneRunResult,
  type RunSummary,
  type UnitResult,
  type WorkUnit,
} from '@registry-push/core';
import { isTransientCode, isThrottleCode } from './errors.js';
import type { StoredPlan, StoredUnitResult } from './store/run-store.js';

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

/** The head of a run's result log: everything but the units (stored beside it, one by one). */
export type ResultHead = Omit<PruneRunResult, 'units'>;

function addTo(summary: RunSummary, more: RunSummary): void {
  for (const [kind, outcomes] of Object.entries(more.counts)) {
    const into = (summary.counts[kind as PlanItemKind] ??= {});
    for (const [outcome, count] of Object.entries(outcomes)) {
      into[outcome as ItemOutcome] = (into[outcome as ItemOutcome] ?? 0) + count;
    }
  }
  summary.bytesFreed += more.bytesFreed;
  for (const [code, count] of Object.entries(more.errors))
    summary.errors[code] = (summary.errors[code] ?? 0) + count;
}

/**
 * The run's result log, put together unit by unit in plan order from the stored unit results; a unit
 * without a result is reported as lost. A lost stream unit may have written its history and a lost image
 * unit deleted some blobs: each step is safe on its own, and the next run plans whatever is left. Only the
 * summary and each unit's status are kept (and, for a dry run, the items that would free bytes): at 100k
 * images the whole log holds over half a million items, which a worker never holds at once.
 */
export class ResultAssembler {
  readonly summary: RunSummary = { counts: {}, bytesFreed: 0, errors: {} };
  readonly #brief: UnitResult[] = [];
  #lost = 0;

  /** Adds the next unit of the plan; returns its entry of the log. */
  add(unit: WorkUnit, stored: StoredUnitResult | undefined): UnitResult {
    if (stored === undefined) this.#lost++;
    const result =
      stored?.result ??
      lostUnit(
        unit,
        `No worker finished unit ${unit.id} (its job failed for good); the next run plans what is left of it again.`,
      );
    addTo(this.summary, summariseRun([result]));
    const wouldFree = result.items.filter((item) => item.outcome === 'dry-run' && item.bytes > 0);
    this.#brief.push({ unit: result.unit, status: result.status, items: wouldFree });
    return result;
  }

  /** Units no worker finished. */
  get lost(): number {
    return this.#lost;
  }

  /** The head of the log. */
  head(
    plan: Pick<StoredPlan, 'id' | 'mode'>,
    run: { dryRun: boolean; startedAt: string; finishedAt: string },
  ): ResultHead {
    return {
      schema: RESULT_SCHEMA,
      planId: plan.id,
      mode: plan.mode,
      dryRun: run.dryRun,
      startedAt: run.startedAt,
      finishedAt: run.finishedAt,
      summary: this.summary,
    };
  }

  /** The log with each unit's status only, for the report's table. */
  brief(head: ResultHead): PruneRunResult {
    return { ...head, units: this.#brief };
  }
}

/** The whole result log from the stored unit results (for a plan small enough to hold at once). */
export function assembleResult(
  plan: StoredPlan,
  stored: ReadonlyMap<string, StoredUnitResult>,
  run: { dryRun: boolean; startedAt: string; finishedAt: string },
): PruneRunResult {
  const assembler = new ResultAssembler();
  const units = plan.units.map((unit) => assembler.add(unit, stored.get(unit.id)));
  return { ...assembler.head(plan, run), units };
}
