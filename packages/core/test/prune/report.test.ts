// The human result table: what a dry run would free, what a confirmed run freed.
import { describe, expect, it } from 'vitest';
import { formatRunResult } from '../../src/prune/report.js';
import { RESULT_SCHEMA, type ItemResult, type PruneRunResult } from '../../src/prune/types.js';

function result(dryRun: boolean, outcome: ItemResult['outcome']): PruneRunResult {
  const item = (kind: ItemResult['kind'], bytes: number): ItemResult => ({
    unit: 'image:sha256:a',
    kind,
    target: 'sha256:a',
    outcome,
    attempts: outcome === 'dry-run' ? 0 : 1,
    bytes,
    at: '2026-11-29T00:00:00Z',
  });
  const items = [item('blob', 3 * 1024 * 1024), item('blob', 1024 * 1024), item('image', 0)];
  return {
    schema: RESULT_SCHEMA,
    planId: 'p1',
    mode: 'full',
    dryRun,
    startedAt: '2026-11-29T00:00:00Z',
    finishedAt: '2026-11-29T00:00:01Z',
    units: [{ unit: 'image:sha256:a', status: dryRun ? 'dry-run' : 'done', items }],
    summary: {
      counts: { blob: { [outcome]: 2 }, image: { [outcome]: 1 } },
      bytesFreed: outcome === 'deleted' ? 4 * 1024 * 1024 : 0,
      errors: {},
    },
  };
}

describe('formatRunResult', () => {
  it('tells what a dry run would free without claiming anything was freed', () => {
    const text = formatRunResult(result(true, 'dry-run'));
    expect(text).toContain('dry run: nothing was changed');
    expect(text).toContain('Registry storage freed: none (dry run); a confirmed run would free 4.0 MiB');
  });

  it('tells what a confirmed run freed', () => {
    const text = formatRunResult(result(false, 'deleted'));
    expect(text).toContain('Registry storage freed: 4.0 MiB');
    expect(text).not.toContain('would free');
  });
});
