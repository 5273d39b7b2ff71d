/** Text output of the commands: the status report and one run's record. */
import { formatBytes, formatRunResult, type PruneRunResult } from '@registry-push/core';
import type { StatusReport } from './client.js';
import { runIsOver, type RunProgress, type RunRecord } from './store/run-store.js';

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

/** "12/40 units, 30 deleted, 1.2 MB freed, 1 failed": how far a run got. */
export function describeProgress(progress: RunProgress, dryRun: boolean): string {
  const failed = progress.unitsFailed + progress.itemsFailed;
  return [
    `${progress.unitsDone}/${progress.unitsTotal} units`,
    ...(dryRun ? [] : [`${progress.itemsDeleted} deleted`, `${formatBytes(progress.bytesFreed)} freed`]),
    failed === 0
      ? 'no failures'
      : `${progress.unitsFailed} unit(s) and ${progress.itemsFailed} item(s) failed`,
    ...(progress.linksRestored > 0 ? [`${progress.linksRestored} layer link(s) put back for pushes`] : []),
    ...(progress.linksNotRestored > 0
      ? [`${progress.linksNotRestored} layer link(s) a push needed could not be put back`]
      : []),
  ].join(', ');
}

function changes(run: RunRecord): string {
  if (!runIsOver(run.status) && run.progress !== undefined)
    return `so far ${describeProgress(run.progress, run.dryRun)}`;
  const counts = run.summary?.counts;
  if (counts === undefined) return '';
  const deleted = Object.values(counts).reduce(
    (sum, byOutcome) => sum + (byOutcome?.deleted ?? 0) + (byOutcome?.updated ?? 0),
    0,
  );
  const dry = Object.values(counts).reduce((sum, byOutcome) => sum + (byOutcome?.['dry-run'] ?? 0), 0);
  return run.dryRun
    ? `${dry} would change`
    : `${deleted} changed, ${formatBytes(run.summary?.bytesFreed ?? 0)} freed`;
}

/** One line about a run. */
export function describeRun(run: RunRecord): string {
  const what =
    run.status === 'rejected' ? `rejected: run ${run.activeRun ?? '?'} was in progress` : changes(run);
  const error = run.error !== undefined && run.status !== 'rejected' ? ` — ${run.error.message}` : '';
  return `${run.runId} ${run.status}${run.dryRun ? ' (dry run)' : ''}${run.mode !== undefined ? ` ${run.mode}` : ''}${what !== '' ? `: ${what}` : ''}${error}`;
}

function activeProgress(report: StatusReport): string {
  if (report.activeRun === undefined) return '';
  const progress = report.activeProgress;
  if (progress === undefined) return ' (planning)';
  const dryRun = report.runs.find((run) => run.runId === report.activeRun)?.dryRun ?? false;
  return ` (${describeProgress(progress, dryRun)})`;
}

/** The status report as text. */
export function formatStatus(report: StatusReport): string {
  const schedule = report.schedule.active
    ? `schedule: ${report.schedule.pattern ?? '?'} (${report.schedule.tz ?? 'local'}), next run ${report.schedule.next ?? 'unknown'}`
    : report.schedule.suspended === true
      ? 'schedule: suspended (ImagePruner spec.suspend)'
      : 'schedule: none (no worker has read the ImagePruner yet)';
  const rows = report.runs.map((run) => [
    run.runId,
    run.trigger,
    run.status,
    run.dryRun ? 'yes' : 'no',
    run.mode ?? '',
    run.createdAt,
    run.finishedAt ?? '',
    run.status === 'rejected' ? `run ${run.activeRun ?? '?'} in progress` : changes(run),
  ]);
  const queue = Object.entries(report.queue)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${state} ${n}`)
    .join(', ');
  return [
    schedule,
    `run in progress: ${report.activeRun ?? 'none'}${activeProgress(report)}`,
    `last success: ${report.lastSuccess ?? 'never'}`,
    `queue: ${queue === '' ? 'empty' : queue}`,
    ...undoLines(report),
    '',
    ...(rows.length === 0
      ? ['no runs yet']
      : table(['run', 'trigger', 'status', 'dry run', 'mode', 'started', 'finished', 'changes'], rows)),
  ].join('\n');
}

/** The runs still in their undo window: what `restore` can put back, and until when. */
function undoLines(report: StatusReport): string[] {
  if (report.undoWindows.length === 0) return ['in undo window: none'];
  return [
    'in undo window (registry-pruner restore RUN):',
    ...report.undoWindows.map(
      (head) =>
        `  ${head.runId} ${head.mode}: ${head.recorded} removals recorded, ${
          head.mode === 'metadata'
            ? 'nothing is deleted from the registry'
            : head.registryAt !== undefined
              ? `registry deletes (${formatBytes(head.bytesPending)}) at ${head.registryAt}`
              : 'run in progress'
        }`,
    ),
  ];
}

/** A finished run as text: its record line and, when there is one, the result table. */
export function formatRun(record: RunRecord, result: PruneRunResult | undefined): string {
  return [describeRun(record), ...(result !== undefined ? ['', formatRunResult(result)] : [])].join('\n');
}
