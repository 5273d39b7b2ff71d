/**
 * `registry-pruner restore RUN`: puts back what a confirmed run removed, from its undo record in Redis,
 * through the core's `restoreRemoved`. Runs in the command's own process; run it again after any
 * interruption (every step is idempotent).
 */
import {
  restoreClusterOf,
  restoreRemoved,
  type ClusterAccessOptions,
  type RestoreReport,
  type RestoreSelection,
} from '@registry-push/core';
import { PrunerClient } from './client.js';
import { EventRecorder, connectCluster } from './cluster.js';
import { PrunerError } from './errors.js';
import { Failpoints } from './failpoints.js';
import { createLogger } from './logger.js';
import type { Settings } from './settings.js';

/** What `restore` was asked. */
export interface RestoreRequest {
  runId: string;
  selection: RestoreSelection;
  dryRun: boolean;
  access: ClusterAccessOptions;
  settings: Settings;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const STREAM =
  /^([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)\/([a-z0-9](?:[-a-z0-9._]*[a-z0-9])?)(?::([\w][\w.-]{0,127}))?$/;

/**
 * The selection of `--image` and `--stream`.
 *
 * @throws PrunerError `PRUNER_USAGE` for a malformed value.
 */
export function restoreSelection(image: unknown, stream: unknown): RestoreSelection {
  const selection: RestoreSelection = {};
  if (typeof image === 'string') {
    if (!DIGEST.test(image))
      throw new PrunerError(
        'PRUNER_USAGE',
        `--image must be an image digest sha256:<64 hex>, not "${image}".`,
      );
    selection.image = image;
  }
  if (typeof stream === 'string') {
    const match = STREAM.exec(stream);
    if (match === null)
      throw new PrunerError(
        'PRUNER_USAGE',
        `--stream must be NAMESPACE/NAME or NAMESPACE/NAME:TAG, not "${stream}".`,
      );
    selection.stream = {
      namespace: match[1]!,
      name: match[2]!,
      ...(match[3] !== undefined ? { tag: match[3] } : {}),
    };
  }
  return selection;
}

/**
 * Restores (or, with `dryRun`, shows what would be restored).
 *
 * @throws PrunerError `PRUNER_UNDO_RECORD_MISSING` when the run has no complete record.
 */
export async function restoreRun(request: RestoreRequest): Promise<{ report: RestoreReport; state: string }> {
  const { runId, settings } = request;
  const client = await PrunerClient.connect(settings);
  try {
    const head = await client.undo.head(runId);
    if (head === undefined || !(await client.undo.complete(runId))) {
      throw new PrunerError(
        'PRUNER_UNDO_RECORD_MISSING',
        `Run ${runId} has no complete undo record in Redis (never kept: a dry run or a window of 0; or it expired, or Redis lost it).`,
        { hint: '`registry-pruner status` lists the runs that can be restored.' },
      );
    }
    const cluster = connectCluster(request.access);
    // Failpoint lines go to stderr: stdout carries the report.
    const failpoints = new Failpoints(settings.failpoint, createLogger(settings.logLevel, { runId }, 2));
    const tooLate = head.state === 'registry-running' || head.state === 'closed';
    const report = await restoreRemoved(() => client.undo.records(runId), {
      cluster: restoreClusterOf(cluster),
      dryRun: request.dryRun,
      tooLate,
      selection: request.selection,
      beforeHistory: () => failpoints.hit('restore-history'),
    });
    if (!request.dryRun) {
      await client.undo.countRestores(report.counts);
      const restored = report.counts.restored ?? 0;
      if (restored > 0) {
        const events = new EventRecorder(
          cluster,
          settings.eventsNamespace,
          'registry-pruner',
          () => undefined,
        );
        await events.record({
          type: 'Normal',
          reason: 'PruneRunRestored',
          message: `Restored ${restored} object(s) that prune run ${runId} removed.`,
        });
      }
    }
    return { report, state: head.state };
  } finally {
    await client.close();
  }
}

/** The report as a table: one line per object. */
export function formatRestore(runId: string, report: RestoreReport, dryRun: boolean): string {
  const counts = Object.entries(report.counts)
    .map(([outcome, n]) => `${n} ${outcome}`)
    .join(', ');
  const width = Math.max(4, ...report.items.map((item) => item.outcome.length));
  return [
    `Restore of run ${runId}${dryRun ? ' (dry run)' : ''}: ${counts === '' ? 'nothing selected' : counts}`,
    ...report.items.map(
      (item) =>
        `${item.outcome.padEnd(width)}  ${item.kind.padEnd(11)}  ${item.target}${
          item.error !== undefined ? `  (${item.error.code}: ${item.error.message})` : ''
        }`,
    ),
  ].join('\n');
}
