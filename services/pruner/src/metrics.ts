/**
 * Prometheus metrics of one worker process. Counters count what this process did (Prometheus adds the
 * replicas up); the last-success time and the queue depth are read from Redis at scrape time, so every
 * replica reports the same cluster-wide values for those.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ItemResult, PruneMode } from '@registry-push/core';

/** Sources the gauges read at scrape time. */
export interface MetricSources {
  /** ms since the epoch of the last successful run. */
  lastSuccess(): Promise<number | undefined>;
  /** Jobs by state (waiting, active, delayed, ...). */
  queueDepth(): Promise<Record<string, number>>;
  /** Calls per second the limiter allows now. */
  rate(): number;
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
      help: 'API and registry calls per second this process allows itself now (lowered on 429/5xx)',
      registers,
      collect() {
        this.set(sources.rate());
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
