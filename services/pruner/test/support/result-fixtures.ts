// The result log's pieces the store tests write: a head, and a unit that is done with nothing in it.
import type { UnitResult } from '@registry-push/core';

/** A result log's head. */
export const RESULT_HEAD = {
  schema: 'registry-push.prune-result/v1',
  planId: 'p',
  mode: 'full',
  dryRun: false,
  startedAt: 's',
  finishedAt: 'f',
  summary: { counts: {}, bytesFreed: 0, errors: {} },
} as const;

/** Image unit `i`, done, without items. */
export const doneUnit = (i: number): UnitResult => ({ unit: `image/${i}`, status: 'done', items: [] });
