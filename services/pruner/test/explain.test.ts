// The explain texts of the retention rules and of signatures that follow their subject: each says what
// decided the item, naming the rule or the subject the plan recorded.
import { describe, expect, it } from 'vitest';
import { reasonOf } from '../src/web/explain.js';
import type { ExplorerHead, ExplorerItem } from '../src/web/explorer.js';

const head: ExplorerHead = {
  runId: 'manual-1',
  planId: 'plan-1',
  mode: 'full',
  now: '2026-12-03T00:00:00.000Z',
  snapshotTakenAt: '2026-12-03T00:00:00.000Z',
  bytesFreed: 0,
  counts: {},
  reasons: [],
  keepTagRevisions: 3,
  keepYoungerThanMs: 3_600_000,
  items: 1,
};

function item(rule: ExplorerItem['rule'], action: ExplorerItem['action'], referrer?: string): ExplorerItem {
  return {
    kind: 'tag-history',
    action,
    rule,
    bytes: 0,
    stream: 'demo/web',
    tag: 'latest',
    revision: 4,
    ...(referrer !== undefined ? { referrer } : {}),
  };
}

describe('why an item is kept or deleted', () => {
  it('names the retention rule that kept it, the cluster one or the namespace one', () => {
    expect(reasonOf(item('retention-rule', 'keep', 'rules[0] keepLast 5'), head)).toBe(
      'kept: the retention rule rules[0] keepLast 5 keeps it',
    );
    expect(reasonOf(item('namespace-retention-rule', 'keep', 'demo rules[1]'), head)).toMatch(
      /^kept: its namespace's own retention rule demo rules\[1\]/,
    );
  });

  it('says a revision beyond every selecting rule is deleted', () => {
    expect(reasonOf(item('beyond-retention-rules', 'delete'), head)).toBe(
      'deleted: revision 4 of tag demo/web:latest, which none of the retention rules selecting it keeps',
    );
  });

  it('ties a signature to its subject both ways', () => {
    expect(reasonOf(item('subject-kept', 'keep', 'demo/web@sha256:ab'), head)).toMatch(
      /^kept: .*demo\/web@sha256:ab, which is kept$/,
    );
    expect(reasonOf(item('subject-pruned', 'delete', 'demo/web@sha256:ab'), head)).toMatch(
      /^deleted: .*demo\/web@sha256:ab, which is pruned$/,
    );
  });
});
