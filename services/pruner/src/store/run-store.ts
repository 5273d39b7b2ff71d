/**
 * The run store port: what the pruner keeps next to its queue — the cluster-wide run lock, run records (the
 * history that `status` shows), the stored plan of each run, and each unit's result as soon as it is known
 * (the checkpoint that lets another worker resume a batch where a killed one stopped).
 *
 * Several worker processes use one store at once. The promises below are what keeps them consistent; both
 * implementations keep them (`RedisRunStore` in `redis-run-store.ts` for the service, `MemoryRunStore` in
 * `memory-run-store.ts` for tests), and `test/store-contract.ts` checks each promise against both.
 */
import type {
  ItemResult,
  PruneMode,
  PrunePlan,
  PruneRunResult,
  RunSummary,
  UnitResult,
  WorkUnit,
} from '@registry-push/core';

/** Where a run is. */
export type RunStatus = 'planning' | 'running' | 'succeeded' | 'failed' | 'rejected';

/** Whether a run has ended (its record will not change any more). */
export function runIsOver(status: RunStatus): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'rejected';
}

/** What started a run. */
export type RunTrigger = 'schedule' | 'manual';

/** How many ended runs the history keeps (as the CronJob's history limits). */
export interface HistoryLimits {
  /** Succeeded runs kept. */
  successful: number;
  /** Failed and rejected runs kept. */
  failed: number;
}

/** One run as `status` shows it. */
export interface RunRecord {
  runId: string;
  trigger: RunTrigger;
  status: RunStatus;
  dryRun: boolean;
  /** When the trigger was taken (RFC 3339). */
  createdAt: string;
  finishedAt?: string;
  mode?: PruneMode;
  planId?: string;
  /** Work units of the plan. */
  units?: number;
  /** What the plan would change, by kind and action. */
  planCounts?: PrunePlan['summary']['counts'];
  summary?: RunSummary;
  error?: { code: string; message: string };
  /** For a rejected trigger: the run that was in progress. */
  activeRun?: string;
  historyLimits?: HistoryLimits;
  /**
   * Set when the run records every removal for `restore` (confirmed full runs with a window, confirmed
   * metadata runs): the undo window, in ms (0 in metadata mode, where it never closes).
   */
  undoWindowMs?: number;
  /** When the registry phase of a run with an undo window is due. */
  registryAt?: string;
  /** The process that planned it. */
  plannedBy?: string;
  /** The dry run whose approved plan this run carries out. */
  approvedFrom?: string;
  notes?: string[];
  /**
   * How far the run got: live from the store while it is in progress (`status` fills it in), kept in the
   * record once it ended.
   */
  progress?: RunProgress;
}

/**
 * Progress of a run, counted in the store as each unit result is stored (so the workers of a run add up, and
 * a result stored twice counts once).
 */
export interface RunProgress {
  /** Work units of the plan. */
  unitsTotal: number;
  /** Units with a recorded result. */
  unitsDone: number;
  /** Of those, units whose result is `failed`. */
  unitsFailed: number;
  /** Items deleted (images, manifests, links, blobs; a dry run deletes nothing). */
  itemsDeleted: number;
  /** Items that failed. */
  itemsFailed: number;
  /** Registry storage freed by blob deletions. */
  bytesFreed: number;
  /** Layer links the run removed and a push made during the run needed again: put back. */
  linksRestored: number;
  /** Such links that could not be put back (`no-source` or `failed`; see the worker's log). */
  linksNotRestored: number;
}

/** The progress the metrics show: the run in progress, else the last run that had a plan. */
export interface CurrentProgress extends RunProgress {
  runId: string;
  inProgress: boolean;
}

/** A plan as stored for the workers: the units and facts, without the per-item decisions. */
export type StoredPlan = Omit<PrunePlan, 'items'>;

/**
 * A plan as a worker holds it: everything but its units, which stay in the store and are read as a job
 * needs them (at 100k Images the units are 60 MB of JSON; no worker keeps them all).
 */
export type PlanHead = Omit<StoredPlan, 'units'> & { unitCount: number };

/** A unit's result and who produced it. */
export interface StoredUnitResult {
  result: UnitResult;
  worker: string;
  at: string;
}

/** The result log without its units (written last: it makes the log readable). */
export type ResultHead = Omit<PruneRunResult, 'units'>;

/** One unit's line on the dashboard's run page: its result, or `pending` while it has none. */
export interface UnitResultLine {
  unit: string;
  status: string;
  items: ItemResult[];
}

/** One page of a run's unit results, and how many there are in all. */
export interface UnitResultPage {
  total: number;
  units: UnitResultLine[];
}

/** The scheduler settings last applied (so a slower replica never rolls back a newer CR). */
export interface AppliedConfig {
  generation: number;
  resourceVersion: string;
  schedule: string;
  suspend: boolean;
  /** The CR's history limits, for trimming after runs that never read the CR (rejected, failed early). */
  historyLimits: HistoryLimits;
  appliedAt: string;
  appliedBy: string;
}

/** How long a finished run's working data stays around after {@link RunStore.expireWorkingData}. */
export const FINISHED_RUN_TTL_MS = 24 * 3600 * 1000;

/**
 * The pruner's run store. Every method may be called by any worker process at any time; where workers race,
 * the method says what holds.
 */
export interface RunStore {
  /**
   * Takes the cluster-wide run lock for `runId`, or renews it (for `ttlMs` from now) when `runId` holds it.
   * Atomic: of workers racing for a free lock exactly one run gets it. A lock not renewed within its TTL
   * is free again (a run that stopped making progress lets the next one in).
   *
   * @returns The run holding the lock afterwards: `runId` itself when it holds it.
   */
  acquireLock(runId: string, ttlMs: number): Promise<string>;

  /**
   * Renews the lock for `ttlMs` from now, only if `runId` holds it (owner-checked, atomically); never takes a
   * free lock.
   *
   * @returns False when `runId` does not hold it (expired, released, or another run's).
   */
  renewLock(runId: string, ttlMs: number): Promise<boolean>;

  /**
   * Releases the lock, only if `runId` holds it (owner-checked, atomically).
   *
   * @returns Whether this call released it.
   */
  releaseLock(runId: string): Promise<boolean>;

  /** The run holding the lock, if any (an expired lock is held by no one). */
  lockHolder(): Promise<string | undefined>;

  /** A run's record; undefined when there is none (never written, or trimmed). */
  getRun(runId: string): Promise<RunRecord | undefined>;

  /** Writes a run record (whole, replacing any earlier one) and lists it in the history by `createdAt`. */
  putRun(record: RunRecord): Promise<void>;

  /**
   * Changes some fields of a run record (read, merged, written: the last writer of a field wins). A change
   * that ends the run (`status` succeeded, failed or rejected) also keeps the run's progress counters in the
   * record, as they are at that moment.
   *
   * @returns The record as written; undefined (and nothing written) when the run has no record.
   */
  updateRun(runId: string, change: Partial<RunRecord>): Promise<RunRecord | undefined>;

  /** At most `limit` (default 20) run records, newest `createdAt` first. */
  listRuns(limit?: number): Promise<RunRecord[]>;

  /**
   * Stores a run's plan: its units in plan order (replacing those of an earlier plan of the run) and then its
   * head, which makes the plan readable. Sets the run's progress total to the plan's units (counters already
   * counted stay) and makes the run the one the metrics follow ({@link currentProgress}).
   */
  putPlan(runId: string, plan: StoredPlan): Promise<void>;

  /** The plan's head, or undefined when the run has no plan stored (or its working data expired). */
  getPlanHead(runId: string): Promise<PlanHead | undefined>;

  /** Units of the plan by id; those it does not have (or no longer has) are missing from the map. */
  getUnits(runId: string, ids: readonly string[]): Promise<Map<string, WorkUnit>>;

  /**
   * The plan's units in plan order, `size` (default 1000) at a time.
   *
   * @throws PrunerError `PRUNER_RUN_NOT_FOUND` when the plan or some of its units are missing: a run must not
   *   be finished, or carried on, on part of its plan.
   */
  unitPages(runId: string, size?: number): AsyncGenerator<WorkUnit[]>;

  /** Stores the image batches of phase 2 (unit ids per batch job), replacing any stored before. */
  putBatches(runId: string, batches: readonly (readonly string[])[]): Promise<void>;

  /** The stored image batches, in order; undefined when none were stored. */
  getBatches(runId: string): Promise<string[][] | undefined>;

  /**
   * Records a unit's result and counts it in the run's progress (`unitsDone`, `unitsFailed`, items deleted
   * and failed, bytes freed by deletes), in one atomic step, unless the unit has a result already: of workers
   * storing the same unit at once (a job retried or taken over) exactly one records it, and it is counted
   * once. The first result stays.
   *
   * @returns Whether this call recorded it.
   */
  putUnitResult(runId: string, stored: StoredUnitResult): Promise<boolean>;

  /**
   * Counts a restore of a layer link the run removed in its progress (`linksRestored` or
   * `linksNotRestored`; additive across workers), also after the run ended, when its record's counters
   * follow. A run without progress counters (no plan, or its data expired) is not counted.
   */
  countRestore(runId: string, restored: boolean): Promise<void>;

  /** A run's progress counters; undefined when it has none (no plan stored, or its data expired). */
  getProgress(runId: string): Promise<RunProgress | undefined>;

  /**
   * The run holding the lock with its counters (zero until its plan is stored), else the last run that
   * stored a plan with the counters its record ended with; undefined before the first run.
   */
  currentProgress(): Promise<CurrentProgress | undefined>;

  /** Recorded results of the given units (all when omitted), by unit id; units without one are missing. */
  getUnitResults(runId: string, units?: readonly string[]): Promise<Map<string, StoredUnitResult>>;

  /** Stores the stream units that did not settle (written by the images step, replacing earlier ones). */
  putUnsettled(runId: string, units: readonly string[]): Promise<void>;

  /** The stream units that did not settle; undefined when none were stored. */
  getUnsettled(runId: string): Promise<string[] | undefined>;

  /**
   * Starts writing a run's result log: the units written so far are dropped. The log is written in parts —
   * `startResult`, then `appendResult` in plan order as many times as it takes, then `putResultHead`, which
   * makes it readable — so no single value holds a 100k-unit log. Written again, it replaces the earlier one.
   */
  startResult(runId: string): Promise<void>;

  /** Appends units to the result log being written, after those appended before. */
  appendResult(runId: string, units: readonly UnitResult[]): Promise<void>;

  /** Writes the log's head (replacing an earlier one): the log is readable from here on. */
  putResultHead(runId: string, head: ResultHead): Promise<void>;

  /** The result log, its units in the order appended; undefined until its head is written. */
  getResult(runId: string): Promise<PruneRunResult | undefined>;

  /**
   * One page (`count` units from `start`) of a run's unit results in plan order, for the dashboard's run
   * page: from the result log once units were appended to it, else the results recorded so far for the
   * plan's units, a unit without one as `pending`. `total` is the log's or the plan's unit count (0 when the
   * run has neither).
   */
  unitResultPage(runId: string, start: number, count: number): Promise<UnitResultPage>;

  /**
   * Lets the working data of a finished run (plan, batches, unit results, unsettled units, progress) expire
   * {@link FINISHED_RUN_TTL_MS} from now; its record and result log stay until trimmed.
   */
  expireWorkingData(runId: string): Promise<void>;

  /** Records when the last run succeeded. */
  setLastSuccess(at: Date): Promise<void>;

  /** When the last run succeeded (ms since the epoch), if ever. */
  lastSuccess(): Promise<number | undefined>;

  /** The scheduler settings last applied, if any. */
  getAppliedConfig(): Promise<AppliedConfig | undefined>;

  /** Stores the scheduler settings applied (whole, replacing the earlier ones). */
  putAppliedConfig(config: AppliedConfig): Promise<void>;

  /**
   * Keeps the newest `successful` succeeded runs and `failed` failed or rejected ones, plus every run in
   * progress; deletes the rest from the history with all their data (record, plan, results, result log).
   *
   * @returns How many runs were deleted.
   */
  trimHistory(limits: HistoryLimits): Promise<number>;
}
