/**
 * Reads of a stored plan made of the run store's own reads, the same for every implementation: the plan's
 * parts for phase 2, and the whole plan for tests and small plans.
 */
import type { ImageUnit, WorkUnit } from '@registry-push/core';
import type { RunStore, StoredPlan } from './run-store.js';

/**
 * The ids of the plan's stream units in plan order and, when `withImages` (a plan stored by an earlier
 * version, without batches), its image units.
 *
 * @throws PrunerError `PRUNER_RUN_NOT_FOUND` when the plan is not completely stored.
 */
export async function planParts(
  store: RunStore,
  runId: string,
  withImages: boolean,
): Promise<{ streams: string[]; images: ImageUnit[] }> {
  const streams: string[] = [];
  const images: ImageUnit[] = [];
  for await (const page of store.unitPages(runId)) {
    for (const unit of page) {
      if (unit.type === 'stream') streams.push(unit.id);
      else if (withImages) images.push(unit);
    }
  }
  return { streams, images };
}

/**
 * The whole plan, units and all (tests, small plans); undefined when none is stored.
 *
 * @throws PrunerError `PRUNER_RUN_NOT_FOUND` when its head is stored but some of its units are not.
 */
export async function wholePlan(store: RunStore, runId: string): Promise<StoredPlan | undefined> {
  const head = await store.getPlanHead(runId);
  if (head === undefined) return undefined;
  const units: WorkUnit[] = [];
  for await (const page of store.unitPages(runId)) units.push(...page);
  const { unitCount: _count, ...rest } = head;
  return { ...rest, units };
}
