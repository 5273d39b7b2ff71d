/**
 * The run store in memory, for tests (and for a mode without Redis, should one come): one process, the same
 * promises as the Redis store. Values are kept as JSON text, as Redis keeps them, so what a caller changes
 * after a write does not change what is stored. Each step that must be atomic runs without an `await`
 * inside it, which in one process is what makes it atomic. Expiry (the lock's TTL, a finished run's working
 * data) follows an injectable clock.
 */
import type { PruneRunResult, UnitResult, WorkUnit } from '@registry-push/core';
import { ExpiringMap, type MemoryStoreOptions } from './expiring-map.js';
import {
  HISTORY_SCAN_LIMIT,
  PLAN_PAGE,
  ZERO_PROGRESS,
  incompletePlan,
  resultCounts,
  runsBeyondLimits,
} from './run-rules.js';
import {
  FINISHED_RUN_TTL_MS,
  runIsOver,
  type AppliedConfig,
  type CurrentProgress,
  type HistoryLimits,
  type PlanHead,
  type ResultHead,
  type RunProgress,
  type RunRecord,
  type RunStore,
  type StoredPlan,
  type StoredUnitResult,
  type UnitResultPage,
} from './run-store.js';

const parse = <T>(text: string): T => JSON.parse(text) as T;

/** What {@link MemoryRunStore.expireWorkingData} and trimming do to each part of a run's working data. */
type WorkingPart = Pick<ExpiringMap<string, unknown>, 'expire' | 'delete'>;

/** The {@link RunStore} in memory. */
export class MemoryRunStore implements RunStore {
  /** The run lock, under the one key `lock`. */
  readonly #lock: ExpiringMap<'lock', string>;
  readonly #records = new Map<string, string>();
  // A finished run's working data, by run id, each part expiring on its own as the Redis keys do.
  readonly #planHeads: ExpiringMap<string, string>;
  readonly #planIds: ExpiringMap<string, string[]>;
  readonly #planUnits: ExpiringMap<string, Map<string, string>>;
  readonly #batches: ExpiringMap<string, string[]>;
  readonly #results: ExpiringMap<string, Map<string, string>>;
  readonly #unsettled: ExpiringMap<string, string>;
  readonly #progress: ExpiringMap<string, RunProgress>;
  readonly #resultHeads = new Map<string, string>();
  readonly #resultUnits = new Map<string, string[]>();
  #progressRun: string | undefined;
  #lastSuccess: number | undefined;
  #config: string | undefined;

  constructor(options: MemoryStoreOptions = {}) {
    const now = options.now ?? Date.now;
    this.#lock = new ExpiringMap(now);
    this.#planHeads = new ExpiringMap(now);
    this.#planIds = new ExpiringMap(now);
    this.#planUnits = new ExpiringMap(now);
    this.#batches = new ExpiringMap(now);
    this.#results = new ExpiringMap(now);
    this.#unsettled = new ExpiringMap(now);
    this.#progress = new ExpiringMap(now);
  }

  /** The parts of a run's working data, which {@link expireWorkingData} lets expire. */
  #workingParts(): WorkingPart[] {
    return [
      this.#planHeads,
      this.#planIds,
      this.#planUnits,
      this.#batches,
      this.#results,
      this.#unsettled,
      this.#progress,
    ];
  }

  acquireLock(runId: string, ttlMs: number): Promise<string> {
    const holder = this.#lock.get('lock');
    if (holder === undefined) this.#lock.set('lock', runId, ttlMs);
    else if (holder === runId) this.#lock.expire('lock', ttlMs);
    return Promise.resolve(holder ?? runId);
  }

  renewLock(runId: string, ttlMs: number): Promise<boolean> {
    return Promise.resolve(this.#lock.get('lock') === runId && this.#lock.expire('lock', ttlMs));
  }

  releaseLock(runId: string): Promise<boolean> {
    const held = this.#lock.get('lock') === runId;
    if (held) this.#lock.delete('lock');
    return Promise.resolve(held);
  }

  lockHolder(): Promise<string | undefined> {
    return Promise.resolve(this.#lock.get('lock'));
  }

  getRun(runId: string): Promise<RunRecord | undefined> {
    const text = this.#records.get(runId);
    return Promise.resolve(text === undefined ? undefined : parse<RunRecord>(text));
  }

  putRun(record: RunRecord): Promise<void> {
    this.#records.set(record.runId, JSON.stringify(record));
    return Promise.resolve();
  }

  async updateRun(runId: string, change: Partial<RunRecord>): Promise<RunRecord | undefined> {
    const record = await this.getRun(runId);
    if (record === undefined) return undefined;
    const progress =
      change.status !== undefined && runIsOver(change.status) ? await this.getProgress(runId) : undefined;
    const next = { ...record, ...change, ...(progress !== undefined ? { progress } : {}) };
    await this.putRun(next);
    return next;
  }

  /** Newest `createdAt` first; runs created at the same moment in reverse id order (as a Redis sorted set). */
  listRuns(limit = 20): Promise<RunRecord[]> {
    const records = [...this.#records.values()].map((text) => parse<RunRecord>(text));
    const at = (record: RunRecord): number => Date.parse(record.createdAt);
    records.sort((a, b) => at(b) - at(a) || (a.runId < b.runId ? 1 : a.runId > b.runId ? -1 : 0));
    return Promise.resolve(records.slice(0, Math.max(limit, 0)));
  }

  putPlan(runId: string, plan: StoredPlan): Promise<void> {
    const units: readonly WorkUnit[] = Array.isArray(plan.units) ? plan.units : [];
    this.#planIds.set(
      runId,
      units.map((unit) => unit.id),
    );
    this.#planUnits.set(runId, new Map(units.map((unit) => [unit.id, JSON.stringify(unit)])));
    const { units: _units, ...rest } = plan;
    this.#planHeads.set(runId, JSON.stringify({ ...rest, unitCount: units.length } satisfies PlanHead));
    // Counters already counted stay (a plan step that was retried); only the total is the new plan's.
    this.#progress.getOrCreate(runId, () => ({ ...ZERO_PROGRESS })).unitsTotal = units.length;
    this.#progressRun = runId;
    return Promise.resolve();
  }

  getPlanHead(runId: string): Promise<PlanHead | undefined> {
    const text = this.#planHeads.get(runId);
    return Promise.resolve(text === undefined ? undefined : parse<PlanHead>(text));
  }

  getUnits(runId: string, ids: readonly string[]): Promise<Map<string, WorkUnit>> {
    const stored = this.#planUnits.get(runId);
    const found = new Map<string, WorkUnit>();
    for (const id of ids) {
      const text = stored?.get(id);
      if (text !== undefined) found.set(id, parse<WorkUnit>(text));
    }
    return Promise.resolve(found);
  }

  async *unitPages(runId: string, size = PLAN_PAGE): AsyncGenerator<WorkUnit[]> {
    const head = await this.getPlanHead(runId);
    if (head === undefined) throw incompletePlan(runId);
    let seen = 0;
    for (let start = 0; start < head.unitCount; start += size) {
      const ids = (this.#planIds.get(runId) ?? []).slice(start, start + size);
      const units = await this.getUnits(runId, ids);
      if (ids.length === 0 || units.size !== ids.length) throw incompletePlan(runId);
      seen += ids.length;
      yield ids.map((id) => units.get(id)!);
    }
    if (seen !== head.unitCount) throw incompletePlan(runId);
  }

  putBatches(runId: string, batches: readonly (readonly string[])[]): Promise<void> {
    this.#batches.delete(runId);
    if (batches.length > 0)
      this.#batches.set(
        runId,
        batches.map((batch) => JSON.stringify(batch)),
      );
    return Promise.resolve();
  }

  getBatches(runId: string): Promise<string[][] | undefined> {
    const texts = this.#batches.get(runId);
    return Promise.resolve(texts?.map((text) => parse<string[]>(text)));
  }

  putUnitResult(runId: string, stored: StoredUnitResult): Promise<boolean> {
    // One synchronous step: checked, recorded and counted before any other call runs.
    const results = this.#results.getOrCreate(runId, () => new Map());
    if (results.has(stored.result.unit)) return Promise.resolve(false);
    results.set(stored.result.unit, JSON.stringify(stored));
    const progress = this.#progress.getOrCreate(runId, () => ({ ...ZERO_PROGRESS }));
    const counts = resultCounts(stored.result);
    progress.unitsDone++;
    progress.unitsFailed += counts.unitsFailed;
    progress.itemsDeleted += counts.itemsDeleted;
    progress.itemsFailed += counts.itemsFailed;
    progress.bytesFreed += counts.bytesFreed;
    return Promise.resolve(true);
  }

  async countRestore(runId: string, restored: boolean): Promise<void> {
    const progress = this.#progress.get(runId);
    if (progress === undefined) return;
    if (restored) progress.linksRestored++;
    else progress.linksNotRestored++;
    const record = await this.getRun(runId);
    if (record !== undefined && runIsOver(record.status) && record.progress !== undefined)
      await this.putRun({ ...record, progress: { ...progress } });
  }

  getProgress(runId: string): Promise<RunProgress | undefined> {
    const progress = this.#progress.get(runId);
    return Promise.resolve(progress === undefined ? undefined : { ...progress });
  }

  async currentProgress(): Promise<CurrentProgress | undefined> {
    const holder = await this.lockHolder();
    const runId = holder ?? this.#progressRun;
    if (runId === undefined) return undefined;
    const live = await this.getProgress(runId);
    const progress = holder === undefined ? ((await this.getRun(runId))?.progress ?? live) : live;
    return { ...ZERO_PROGRESS, ...progress, runId, inProgress: holder !== undefined };
  }

  getUnitResults(runId: string, units?: readonly string[]): Promise<Map<string, StoredUnitResult>> {
    const stored = this.#results.get(runId) ?? new Map<string, string>();
    const map = new Map<string, StoredUnitResult>();
    for (const unit of units ?? [...stored.keys()]) {
      const text = stored.get(unit);
      if (text !== undefined) map.set(unit, parse<StoredUnitResult>(text));
    }
    return Promise.resolve(map);
  }

  putUnsettled(runId: string, units: readonly string[]): Promise<void> {
    this.#unsettled.set(runId, JSON.stringify(units));
    return Promise.resolve();
  }

  getUnsettled(runId: string): Promise<string[] | undefined> {
    const text = this.#unsettled.get(runId);
    return Promise.resolve(text === undefined ? undefined : parse<string[]>(text));
  }

  startResult(runId: string): Promise<void> {
    this.#resultUnits.delete(runId);
    return Promise.resolve();
  }

  appendResult(runId: string, units: readonly UnitResult[]): Promise<void> {
    const log = this.#resultUnits.get(runId) ?? [];
    log.push(...units.map((unit) => JSON.stringify(unit)));
    if (log.length > 0) this.#resultUnits.set(runId, log);
    return Promise.resolve();
  }

  putResultHead(runId: string, head: ResultHead): Promise<void> {
    this.#resultHeads.set(runId, JSON.stringify(head));
    return Promise.resolve();
  }

  getResult(runId: string): Promise<PruneRunResult | undefined> {
    const text = this.#resultHeads.get(runId);
    if (text === undefined) return Promise.resolve(undefined);
    const units = (this.#resultUnits.get(runId) ?? []).map((unit) => parse<UnitResult>(unit));
    return Promise.resolve({ ...parse<ResultHead>(text), units });
  }

  async unitResultPage(runId: string, start: number, count: number): Promise<UnitResultPage> {
    const log = this.#resultUnits.get(runId) ?? [];
    if (log.length > 0)
      return {
        total: log.length,
        units: log.slice(start, start + count).map((text) => parse<UnitResult>(text)),
      };
    const planned = this.#planIds.get(runId) ?? [];
    const ids = planned.slice(start, start + count);
    const results = await this.getUnitResults(runId, ids);
    return {
      total: planned.length,
      units: ids.map((id) => results.get(id)?.result ?? { unit: id, status: 'pending', items: [] }),
    };
  }

  expireWorkingData(runId: string): Promise<void> {
    for (const part of this.#workingParts()) part.expire(runId, FINISHED_RUN_TTL_MS);
    return Promise.resolve();
  }

  setLastSuccess(at: Date): Promise<void> {
    this.#lastSuccess = at.getTime();
    return Promise.resolve();
  }

  lastSuccess(): Promise<number | undefined> {
    return Promise.resolve(this.#lastSuccess);
  }

  getAppliedConfig(): Promise<AppliedConfig | undefined> {
    return Promise.resolve(this.#config === undefined ? undefined : parse<AppliedConfig>(this.#config));
  }

  putAppliedConfig(config: AppliedConfig): Promise<void> {
    this.#config = JSON.stringify(config);
    return Promise.resolve();
  }

  async trimHistory(limits: HistoryLimits): Promise<number> {
    const drop = runsBeyondLimits(await this.listRuns(HISTORY_SCAN_LIMIT), limits);
    for (const runId of drop) {
      this.#records.delete(runId);
      this.#resultHeads.delete(runId);
      this.#resultUnits.delete(runId);
      for (const part of this.#workingParts()) part.delete(runId);
    }
    return drop.length;
  }
}
