/**
 * `registry-pruner restore RUN`: puts back what a confirmed run removed, from its undo record in Redis,
 * through the core's `restoreRemoved`. Runs in the command's own process; run it again after any
 * interruption (every step is idempotent).
 */
import {
  restoreClusterOf,
  type ClusterApi,
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
import type { UndoState, UndoStore } from './store/undo-store.js';

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
 * The selection of the dashboard's restore field: empty for the whole run, else an image digest or
 * NAMESPACE/NAME[:TAG] (what `--image` and `--stream` take).
 *
 * @throws PrunerError `PRUNER_USAGE` for anything else.
 */
export function restoreTarget(text: string): RestoreSelection {
  const value = text.trim();
  if (value === '') return {};
  if (DIGEST.test(value)) return { image: value };
  if (STREAM.test(value)) return restoreSelection(undefined, value);
  throw new PrunerError(
    'PRUNER_USAGE',
    `Restore takes an image digest sha256:<64 hex> or NAMESPACE/NAME[:TAG], not "${value.slice(0, 200)}".`,
    { hint: 'Leave the field empty to restore the whole run.' },
  );
}

/** What a restore reads and writes: the CLI connects its own, the dashboard passes its worker's. */
export interface RestoreParts {
  /** The undo records. */
  undo: UndoStore;
  /** A client allowed to create Images and update `imagestreams/status`. */
  cluster: ClusterApi;
  /** Records the `PruneRunRestored` Event. */
  events: EventRecorder;
  /** The `restore-history` failpoint (the CLI's; unset, no checkpoint). */
  failpoints?: Failpoints;
}

/** What to restore. */
export interface RestoreAsk {
  runId: string;
  selection: RestoreSelection;
  dryRun: boolean;
}

/**
 * Restores (or, with `dryRun`, shows what would be restored) from the run's undo record, then counts the
 * objects in Redis (`registry_pruner_undo_restored_objects`) and records a `PruneRunRestored` Event. The one
 * path of both `registry-pruner restore` and the dashboard's run page.
 *
 * @returns The report, and the window's state when the restore started.
 * @throws PrunerError `PRUNER_UNDO_RECORD_MISSING` when the run has no complete record.
 */
export async function restoreFrom(
  parts: RestoreParts,
  ask: RestoreAsk,
): Promise<{ report: RestoreReport; state: UndoState }> {
  const { undo, cluster, events, failpoints } = parts;
  const { runId } = ask;
  const head = await undo.head(runId);
  if (head === undefined || !(await undo.complete(runId))) {
    throw new PrunerError(
      'PRUNER_UNDO_RECORD_MISSING',
      `Run ${runId} has no complete undo record in Redis (never kept: a dry run or a window of 0; or it expired, or Redis lost it).`,
      { hint: '`registry-pruner status` lists the runs that can be restored.' },
    );
  }
  const report = await restoreRemoved(() => undo.records(runId), {
    cluster: restoreClusterOf(cluster),
    dryRun: ask.dryRun,
    tooLate: windowClosed(head.state),
    selection: ask.selection,
    ...(failpoints !== undefined ? { beforeHistory: () => failpoints.hit('restore-history') } : {}),
  });
  if (!ask.dryRun) {
    await undo.countRestores(report.counts);
    const restored = report.counts.restored ?? 0;
    if (restored > 0)
      await events.record({
        type: 'Normal',
        reason: 'PruneRunRestored',
        message: `Restored ${restored} object(s) that prune run ${runId} removed.`,
      });
  }
  return { report, state: head.state };
}

/** Whether a window in `state` is over: the registry phase started, so every object is `too-late`. */
export function windowClosed(state: UndoState): boolean {
  return state === 'registry-running' || state === 'closed';
}

/**
 * `registry-pruner restore`: {@link restoreFrom} with its own Redis and cluster connections.
 *
 * @throws PrunerError `PRUNER_UNDO_RECORD_MISSING` when the run has no complete record.
 */
export async function restoreRun(request: RestoreRequest): Promise<{ report: RestoreReport; state: string }> {
  const { settings } = request;
  const client = await PrunerClient.connect(settings);
  try {
    const cluster = connectCluster(request.access);
    return await restoreFrom(
      {
        undo: client.undo,
        cluster,
        events: new EventRecorder(cluster, settings.eventsNamespace, 'registry-pruner', () => undefined),
        // Failpoint lines go to stderr: stdout carries the report.
        failpoints: new Failpoints(
          settings.failpoint,
          createLogger(settings.logLevel, { runId: request.runId }, 2),
        ),
      },
      request,
    );
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
