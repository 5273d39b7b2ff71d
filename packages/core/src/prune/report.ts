/** Plans and results for people: fixed-width tables of counts, bytes freed and the main reasons. */
import { describePolicy } from './policy.js';
import type { ItemOutcome, PlanItemKind, PrunePlan, PruneRunResult } from './types.js';
import { formatBytes } from './quantities.js';

const KINDS: PlanItemKind[] = [
  'tag-history',
  'stream-update',
  'manifest-link',
  'layer-link',
  'blob',
  'image',
];
const OUTCOMES: ItemOutcome[] = ['deleted', 'updated', 'absent', 'skipped', 'blocked', 'failed', 'dry-run'];

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

/**
 * A plan as text: what it would keep, delete and update per kind, the bytes it frees and its top reasons.
 *
 * @param plan The plan.
 * @param topReasons How many reasons to list. Default 8.
 * @returns Lines joined with newlines.
 */
export function formatPlan(plan: PrunePlan, topReasons = 8): string {
  const rows = KINDS.filter((kind) => plan.summary.counts[kind] !== undefined).map((kind) => {
    const counts = plan.summary.counts[kind] ?? {};
    return [kind, String(counts.keep ?? 0), String(counts.delete ?? 0), String(counts.update ?? 0)];
  });
  const reasons = plan.summary.reasons
    .slice(0, topReasons)
    .map((reason) => [reason.action, reason.rule, String(reason.count)]);
  return [
    `Prune plan ${plan.id} (${plan.mode}${plan.namespace !== undefined ? `, namespace ${plan.namespace}` : ''}): ${describePolicy(plan.policy)}`,
    '',
    ...table(['kind', 'keep', 'delete', 'update'], rows),
    '',
    `Registry storage freed: ${plan.mode === 'full' ? formatBytes(plan.summary.bytesFreed) : 'none (metadata mode)'}`,
    '',
    'Top reasons:',
    ...table(['action', 'rule', 'items'], reasons).map((line) => `  ${line}`),
    ...(plan.summary.retention !== undefined
      ? [
          '',
          'History items kept by retention rules:',
          ...Object.entries(plan.summary.retention).map(([rule, count]) => `  ${rule}: ${count}`),
        ]
      : []),
    ...(plan.notes.length > 0 ? ['', 'Notes:', ...plan.notes.map((note) => `  - ${note}`)] : []),
  ].join('\n');
}

/**
 * A run's result log as text: outcomes per kind, bytes freed and errors by code.
 *
 * @param result The run's result.
 * @returns Lines joined with newlines.
 */
export function formatRunResult(result: PruneRunResult): string {
  const used = OUTCOMES.filter((outcome) =>
    KINDS.some((kind) => (result.summary.counts[kind]?.[outcome] ?? 0) > 0),
  );
  const rows = KINDS.filter((kind) => result.summary.counts[kind] !== undefined).map((kind) => [
    kind,
    ...used.map((outcome) => String(result.summary.counts[kind]?.[outcome] ?? 0)),
  ]);
  const errors = Object.entries(result.summary.errors).sort((a, b) => b[1] - a[1]);
  const units = new Map<string, number>();
  for (const unit of result.units) units.set(unit.status, (units.get(unit.status) ?? 0) + 1);
  return [
    `Prune run of plan ${result.planId} (${result.mode}${result.dryRun ? ', dry run: nothing was changed' : ''})`,
    `Units: ${[...units.entries()].map(([status, count]) => `${count} ${status}`).join(', ') || 'none'}`,
    '',
    ...table(['kind', ...used], rows),
    '',
    result.dryRun
      ? `Registry storage freed: none (dry run); a confirmed run would free ${formatBytes(wouldFree(result))}`
      : `Registry storage freed: ${formatBytes(result.summary.bytesFreed)}`,
    ...(errors.length > 0 ? ['', 'Errors:', ...errors.map(([code, count]) => `  ${code}: ${count}`)] : []),
  ].join('\n');
}

/** Bytes the blob deletions of a dry run would have freed. */
function wouldFree(result: PruneRunResult): number {
  let bytes = 0;
  for (const unit of result.units) {
    for (const item of unit.items) if (item.outcome === 'dry-run') bytes += item.bytes;
  }
  return bytes;
}
