/**
 * Prometheus metrics of one worker process. Counters count what this process did (Prometheus adds the
 * replicas up); the last-success time and the queue depth are read from Redis at scrape time, so every
 * replica reports the same cluster-wide values for those.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ItemResult, PruneMode } from '@registry-push/core';
import type { CurrentProgress, RunProgress } from './store/run-store.js';
import type { UndoTotals } from './store/undo-store.js';

/** Calls per second a limiter allows now, by side. */
export interface RateBySide {
  api: number;
  registry: number;
}

/** Sources the gauges read at scrape time. */
export interface MetricSources {
  /** ms since the epoch of the last successful run. */
  lastSuccess(): Promise<number | undefined>;
  /** Jobs by state (waiting, active, delayed, ...). */
  queueDepth(): Promise<Record<string, number>>;
  /** Calls per second each limiter allows now. */
  rate(): RateBySide;
  /**
   * Progress of the run in progress (read from Redis, so every replica reports the same), or of the last
   * run when none is; undefined before the first run.
   */
  progress?(): Promise<CurrentProgress | undefined>;
  /** Runs in their undo window, the bytes their registry phases may delete, restores by outcome. */
  undo?(): Promise<UndoTotals>;
}

/** The service's metrics. */
export class PrunerMetrics {
  readonly registry = new Registry();
  readonly runs: Counter<'result' | 'dry_run'>;
  readonly runDuration: Histogram<'result'>;
  readonly items: Counter<'kind' | 'action' | 'mode'>;
  readonly bytesFreed: Counter<'mode'>;
  readonly errors: Counter<'code'>;
  readonly units: Counter<'type' | 'status'>;
  readonly linkRestores: Counter<'outcome'>;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'registry_pruner_' });
    this.runs = new Counter({
      name: 'registry_pruner_runs_total',
      help: 'Prune runs finished by this process, by result (succeeded, failed, rejected) and dry run',
      labelNames: ['result', 'dry_run'],
      registers,
    });
    this.runDuration = new Histogram({
      name: 'registry_pruner_run_duration_seconds',
      help: 'Wall time of prune runs, from trigger to summary',
      labelNames: ['result'],
      buckets: [1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600],
      registers,
    });
    this.items = new Counter({
      name: 'registry_pruner_items_total',
      help: 'Plan items carried out, by kind, action (deleted, updated, absent, skipped, blocked, failed, dry-run) and mode',
      labelNames: ['kind', 'action', 'mode'],
      registers,
    });
    this.bytesFreed = new Counter({
      name: 'registry_pruner_bytes_freed_total',
      help: 'Registry storage freed by blob deletions',
      labelNames: ['mode'],
      registers,
    });
    this.errors = new Counter({
      name: 'registry_pruner_errors_total',
      help: 'Failures by error code (failed items, failed plans and jobs)',
      labelNames: ['code'],
      registers,
    });
    this.units = new Counter({
      name: 'registry_pruner_units_total',
      help: 'Work units finished by this process, by type and status',
      labelNames: ['type', 'status'],
      registers,
    });
    this.linkRestores = new Counter({
      name: 'registry_pruner_layer_link_restores_total',
      help: 'Layer links a run removed and a concurrent push needed again, by outcome (restored, no-source, failed)',
      labelNames: ['outcome'],
      registers,
    });
    new Gauge({
      name: 'registry_pruner_last_success_timestamp_seconds',
      help: 'When the last prune run succeeded (0: never)',
      registers,
      async collect() {
        this.set(((await sources.lastSuccess()) ?? 0) / 1000);
      },
    });
    new Gauge({
      name: 'registry_pruner_queue_jobs',
      help: 'Jobs in the pruner queue by state',
      labelNames: ['state'],
      registers,
      async collect() {
        for (const [state, count] of Object.entries(await sources.queueDepth())) this.set({ state }, count);
      },
    });
    new Gauge({
      name: 'registry_pruner_call_rate_limit',
      help: "Calls per second this process allows itself now, by side (api: the API server; registry: registry deletes), lowered on that side's 429/5xx",
      labelNames: ['side'],
      registers,
      collect() {
        const rate = sources.rate();
        this.set({ side: 'api' }, rate.api);
        this.set({ side: 'registry' }, rate.registry);
      },
    });
    const progress = sources.progress?.bind(sources);
    if (progress !== undefined) this.#progressGauges(progress, registers);
    const undo = sources.undo?.bind(sources);
    if (undo !== undefined) this.#undoGauges(undo, registers);
  }

  /** Gauges of the undo windows, read from Redis at scrape time (every replica reports the same). */
  #undoGauges(read: () => Promise<UndoTotals>, registers: Registry[]): void {
    let pending: Promise<UndoTotals> | undefined;
    const once = (): Promise<UndoTotals> =>
      (pending ??= read().finally(() => setTimeout(() => (pending = undefined), 0)));
    new Gauge({
      name: 'registry_pruner_undo_runs_in_window',
      help: 'Confirmed runs whose removals can still be restored (registry-pruner restore RUN)',
      registers,
      async collect() {
        this.set((await once()).runsInWindow);
      },
    });
    new Gauge({
      name: 'registry_pruner_undo_bytes_pending_deletion',
      help: 'Blob bytes the registry phases of runs in their undo window may delete when it ends',
      registers,
      async collect() {
        this.set((await once()).bytesPending);
      },
    });
    new Gauge({
      name: 'registry_pruner_undo_restored_objects',
      help: 'Objects restore commands reported, by outcome (restored, already-there, too-late, failed), all replicas and CLIs',
      labelNames: ['outcome'],
      registers,
      async collect() {
        for (const [outcome, n] of Object.entries((await once()).restores)) this.set({ outcome }, n);
      },
    });
  }

  /**
   * Gauges of the current run's progress, without a run label (one series each, whatever the number of
   * runs): they start from 0 when a run starts.
   */
  #progressGauges(read: () => Promise<CurrentProgress | undefined>, registers: Registry[]): void {
    const fields: [keyof RunProgress, string, string][] = [
      ['unitsDone', 'registry_pruner_run_units_done', 'Work units of the current run with a recorded result'],
      ['unitsTotal', 'registry_pruner_run_units_total', "Work units of the current run's plan"],
      ['unitsFailed', 'registry_pruner_run_units_failed', 'Work units of the current run that failed'],
      ['itemsDeleted', 'registry_pruner_run_items_deleted', 'Items the current run deleted so far'],
      ['itemsFailed', 'registry_pruner_run_items_failed', 'Items of the current run that failed so far'],
      ['bytesFreed', 'registry_pruner_run_bytes_freed', 'Registry storage the current run freed so far'],
      [
        'linksRestored',
        'registry_pruner_run_links_restored',
        'Layer links the current run removed and put back because a push needed them',
      ],
    ];
    // One read of Redis per scrape, shared by the gauges.
    let pending: Promise<CurrentProgress | undefined> | undefined;
    const once = (): Promise<CurrentProgress | undefined> =>
      (pending ??= read().finally(() => setTimeout(() => (pending = undefined), 0)));
    for (const [field, name, help] of fields) {
      new Gauge({
        name,
        help: `${help} (the last run's while none is in progress)`,
        registers,
        async collect() {
          this.set((await once())?.[field] ?? 0);
        },
      });
    }
    new Gauge({
      name: 'registry_pruner_run_in_progress',
      help: 'Whether a prune run is in progress (1) or not (0)',
      registers,
      async collect() {
        this.set((await once())?.inProgress === true ? 1 : 0);
      },
    });
  }

  /** Counts the items of a unit result. */
  recordItems(items: readonly ItemResult[], mode: PruneMode): void {
    for (const item of items) {
      this.items.inc({ kind: item.kind, action: item.outcome, mode });
      if (item.outcome === 'deleted' && item.bytes > 0) this.bytesFreed.inc({ mode }, item.bytes);
      if (item.error !== undefined) this.errors.inc({ code: item.error.code });
    }
  }

  /** Counts a layer link restore. */
  recordRestore(outcome: string): void {
    this.linkRestores.inc({ outcome });
  }
}
