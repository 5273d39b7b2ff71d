/**
 * The pruner's own Redis state next to the queue: the cluster-wide run lock, run records (the history that
 * `status` shows), the stored plan of each run, and each unit's result as soon as it is known — the
 * checkpoint that lets another worker resume a batch where a killed one stopped.
 */
import type {
  ImageUnit,
  ItemResult,
  PruneMode,
  PrunePlan,
  PruneRunResult,
  RunSummary,
  UnitResult,
  WorkUnit,
} from '@registry-push/core';
import { PrunerError } from './errors.js';
import type { RedisConnection } from './redis.js';

/** Where a run is. */
export type RunStatus = 'planning' | 'running' | 'succeeded' | 'failed' | 'rejected';

/** Whether a run has ended (its record will not change any more). */
export function runIsOver(status: RunStatus): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'rejected';
}

/** What started a run. */
export type RunTrigger = 'schedule' | 'manual';

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
  historyLimits?: { successful: number; failed: number };
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
   * How far the run got: live from Redis while it is in progress (`status` fills it in), kept in the record
   * once it ended.
   */
  progress?: RunProgress;
}

/**
 * Progress of a run, counted in Redis as each unit result is stored (so the workers of a run add up, and
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

const PROGRESS_FIELDS = [
  'unitsTotal',
  'unitsDone',
  'unitsFailed',
  'itemsDeleted',
  'itemsFailed',
  'bytesFreed',
  'linksRestored',
  'linksNotRestored',
] as const satisfies readonly (keyof RunProgress)[];

/** A plan as stored for the workers: the units and facts, without the per-item decisions. */
export type StoredPlan = Omit<PrunePlan, 'items'>;

/**
 * A plan as a worker holds it: everything but its units, which stay in Redis and are read as a job needs
 * them (at 100k Images the units are 60 MB of JSON; no worker keeps them all).
 */
export type PlanHead = Omit<StoredPlan, 'units'> & { unitCount: number };

/** A unit's result and who produced it. */
export interface StoredUnitResult {
  result: UnitResult;
  worker: string;
  at: string;
}

/** The scheduler settings last applied (so a slower replica never rolls back a newer CR). */
export interface AppliedConfig {
  generation: number;
  resourceVersion: string;
  schedule: string;
  suspend: boolean;
  /** The CR's history limits, for trimming after runs that never read the CR (rejected, failed early). */
  historyLimits: { successful: number; failed: number };
  appliedAt: string;
  appliedBy: string;
}

// Takes the lock for a run, or renews it when the run already holds it; returns the holder afterwards.
const ACQUIRE = `
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return holder`;

const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

// Records a unit result unless one is recorded already, and only then adds it to the run's progress, in one
// step: two workers storing the same unit (a job retried or taken over) count it once.
const PUT_UNIT_RESULT = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[2], 'unitsDone', 1)
local fields = {'unitsFailed', 'itemsDeleted', 'itemsFailed', 'bytesFreed'}
for i, field in ipairs(fields) do
  if ARGV[i + 2] ~= '0' then redis.call('HINCRBY', KEYS[2], field, ARGV[i + 2]) end
end
return 1`;

/** How long a finished run's plan and unit results stay around (the record and result stay until trimmed). */
const FINISHED_RUN_TTL_SECONDS = 24 * 3600;
/** Units of a result log read or written at a time. */
const RESULT_PAGE = 1000;
/** A run whose plan is not (completely) in Redis any more. */
function incomplete(runId: string): PrunerError {
  return new PrunerError(
    'PRUNER_RUN_NOT_FOUND',
    `Run ${runId} has no complete plan in Redis any more (it expired, was trimmed from the history, or Redis lost it).`,
    { hint: 'Nothing more of it is carried out; give Redis a volume and `enqueue` again.' },
  );
}

/** Plan units per write and per read. */
const PLAN_PAGE = 1000;

/** The pruner's keys in Redis, all under `<prefix>:<queue>:pruner:` (one hash slot with the default prefix). */
export class RunStore {
  readonly #redis: RedisConnection;
  readonly #base: string;

  constructor(redis: RedisConnection, prefix: string, queue: string) {
    this.#redis = redis;
    this.#base = `${prefix}:${queue}:pruner`;
  }

  #key(...parts: string[]): string {
    return [this.#base, ...parts].join(':');
  }

  /**
   * Takes the cluster-wide run lock for `runId` (or renews it if `runId` holds it).
   *
   * @returns The run holding the lock afterwards: `runId` itself when it was taken.
   */
  async acquireLock(runId: string, ttlMs: number): Promise<string> {
    return (await this.#redis.eval(ACQUIRE, 1, this.#key('lock'), runId, String(ttlMs))) as string;
  }

  /** Renews the lock if `runId` holds it; false when it does not (expired, released, or another run's). */
  async renewLock(runId: string, ttlMs: number): Promise<boolean> {
    return ((await this.#redis.eval(RENEW, 1, this.#key('lock'), runId, String(ttlMs))) as number) === 1;
  }

  /** Releases the lock if `runId` holds it. */
  async releaseLock(runId: string): Promise<boolean> {
    return ((await this.#redis.eval(RELEASE, 1, this.#key('lock'), runId)) as number) === 1;
  }

  /** The run holding the lock, if any. */
  async lockHolder(): Promise<string | undefined> {
    return (await this.#redis.get(this.#key('lock'))) ?? undefined;
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const text = await this.#redis.get(this.#key('run', runId));
    return text === null ? undefined : (JSON.parse(text) as RunRecord);
  }

  /** Writes a run record (whole) and lists it in the history. */
  async putRun(record: RunRecord): Promise<void> {
    await this.#redis
      .multi()
      .set(this.#key('run', record.runId), JSON.stringify(record))
      .zadd(this.#key('runs'), Date.parse(record.createdAt), record.runId)
      .exec();
  }

  /** Changes some fields of a run record; a run that ends keeps its progress in the record. */
  async updateRun(runId: string, change: Partial<RunRecord>): Promise<RunRecord | undefined> {
    const record = await this.getRun(runId);
    if (record === undefined) return undefined;
    const progress =
      change.status !== undefined && runIsOver(change.status) ? await this.getProgress(runId) : undefined;
    const next = { ...record, ...change, ...(progress !== undefined ? { progress } : {}) };
    await this.putRun(next);
    return next;
  }

  /** The newest runs first. */
  async listRuns(limit = 20): Promise<RunRecord[]> {
    const ids = await this.#redis.zrevrange(this.#key('runs'), 0, limit - 1);
    if (ids.length === 0) return [];
    const texts = await Promise.all(ids.map((id) => this.#redis.get(this.#key('run', id))));
    return texts.filter((text): text is string => text !== null).map((text) => JSON.parse(text) as RunRecord);
  }

  /**
   * Stores the plan; the run's progress starts (its total is the plan's units) and the metrics follow it.
   * The units go in first, a page at a time: each in a hash by its id, and their ids in plan order in a
   * list. The head (the plan without its units) goes last, which makes the plan readable.
   */
  async putPlan(runId: string, plan: StoredPlan): Promise<void> {
    const units: readonly WorkUnit[] = Array.isArray(plan.units) ? plan.units : [];
    const idsKey = this.#key('run', runId, 'plan-ids');
    const unitsKey = this.#key('run', runId, 'plan-units');
    await this.#redis.del(idsKey, unitsKey);
    for (let start = 0; start < units.length; start += PLAN_PAGE) {
      const page = units.slice(start, start + PLAN_PAGE);
      await this.#redis
        .multi()
        .rpush(idsKey, ...page.map((unit) => unit.id))
        .hset(unitsKey, ...page.flatMap((unit) => [unit.id, JSON.stringify(unit)]))
        .exec();
    }
    const { units: _units, ...rest } = plan;
    const head: PlanHead = { ...rest, unitCount: units.length };
    await this.#redis
      .multi()
      .set(this.#key('run', runId, 'plan'), JSON.stringify(head))
      .hset(this.#key('run', runId, 'progress'), 'unitsTotal', String(units.length))
      .set(this.#key('progress-run'), runId)
      .exec();
  }

  /** The plan's head, or undefined when the run has no (complete) plan stored. */
  async getPlanHead(runId: string): Promise<PlanHead | undefined> {
    return (await this.#readPlan(runId))?.head;
  }

  /**
   * The plan key, read and parsed once: the head, and the whole plan when an earlier version wrote it as one
   * value (its units are in the same value).
   */
  async #readPlan(runId: string): Promise<{ head: PlanHead; whole?: StoredPlan } | undefined> {
    const text = await this.#redis.get(this.#key('run', runId, 'plan'));
    if (text === null) return undefined;
    const parsed = JSON.parse(text) as PlanHead | StoredPlan;
    if ('unitCount' in parsed) return { head: parsed };
    const { units, ...rest } = parsed;
    return { head: { ...rest, unitCount: units.length }, whole: parsed };
  }

  /** Units of the plan by id; those it does not have (or no longer has) are missing from the map. */
  async getUnits(runId: string, ids: readonly string[]): Promise<Map<string, WorkUnit>> {
    const found = new Map<string, WorkUnit>();
    if (ids.length === 0) return found;
    const whole = (await this.#readPlan(runId))?.whole;
    if (whole !== undefined) {
      const wanted = new Set(ids);
      for (const unit of whole.units) if (wanted.has(unit.id)) found.set(unit.id, unit);
      return found;
    }
    const texts = await this.#redis.hmget(this.#key('run', runId, 'plan-units'), ...ids);
    ids.forEach((id, index) => {
      const text = texts[index];
      if (typeof text === 'string') found.set(id, JSON.parse(text) as WorkUnit);
    });
    return found;
  }

  /**
   * The plan's units in plan order, `size` at a time.
   *
   * @throws PrunerError `PRUNER_RUN_NOT_FOUND` when units are missing: a run must not be finished, or
   *   carried on, on part of its plan.
   */
  async *unitPages(runId: string, size = PLAN_PAGE): AsyncGenerator<WorkUnit[]> {
    const plan = await this.#readPlan(runId);
    if (plan === undefined) throw incomplete(runId);
    const { head, whole } = plan;
    if (whole !== undefined) {
      for (let start = 0; start < whole.units.length; start += size)
        yield whole.units.slice(start, start + size);
      return;
    }
    let seen = 0;
    for (let start = 0; start < head.unitCount; start += size) {
      const ids = await this.#redis.lrange(this.#key('run', runId, 'plan-ids'), start, start + size - 1);
      const units = await this.getUnits(runId, ids);
      if (ids.length === 0 || units.size !== ids.length) throw incomplete(runId);
      seen += ids.length;
      yield ids.map((id) => units.get(id)!);
    }
    if (seen !== head.unitCount) throw incomplete(runId);
  }

  /**
   * The ids of the plan's stream units in plan order and, when `withImages` (a plan stored by an earlier
   * version, without batches), its image units.
   */
  async planParts(runId: string, withImages: boolean): Promise<{ streams: string[]; images: ImageUnit[] }> {
    const streams: string[] = [];
    const images: ImageUnit[] = [];
    for await (const page of this.unitPages(runId)) {
      for (const unit of page) {
        if (unit.type === 'stream') streams.push(unit.id);
        else if (withImages) images.push(unit);
      }
    }
    return { streams, images };
  }

  /** The image batches of phase 2 (unit ids per batch job), made once when the plan is stored. */
  async putBatches(runId: string, batches: readonly (readonly string[])[]): Promise<void> {
    const key = this.#key('run', runId, 'plan-batches');
    await this.#redis.del(key);
    for (let start = 0; start < batches.length; start += PLAN_PAGE) {
      const page = batches.slice(start, start + PLAN_PAGE).map((batch) => JSON.stringify(batch));
      if (page.length > 0) await this.#redis.rpush(key, ...page);
    }
  }

  /** The stored image batches, or undefined when none were stored (a plan stored by an earlier version). */
  async getBatches(runId: string): Promise<string[][] | undefined> {
    const texts = await this.#redis.lrange(this.#key('run', runId, 'plan-batches'), 0, -1);
    return texts.length === 0 ? undefined : texts.map((text) => JSON.parse(text) as string[]);
  }

  /** The whole plan (tests, small plans); undefined when none is stored. */
  async getPlan(runId: string): Promise<StoredPlan | undefined> {
    const head = await this.getPlanHead(runId);
    if (head === undefined) return undefined;
    const units: WorkUnit[] = [];
    for await (const page of this.unitPages(runId)) units.push(...page);
    const { unitCount: _count, ...rest } = head;
    return { ...rest, units };
  }

  /**
   * Records a unit's result and counts it in the run's progress, unless the unit has a result already (the
   * first one stays).
   *
   * @returns Whether this call recorded it.
   */
  async putUnitResult(runId: string, stored: StoredUnitResult): Promise<boolean> {
    const { result } = stored;
    let itemsDeleted = 0;
    let itemsFailed = 0;
    let bytesFreed = 0;
    for (const item of result.items) {
      if (item.outcome === 'deleted') {
        itemsDeleted++;
        if (item.bytes > 0) bytesFreed += item.bytes;
      }
      if (item.outcome === 'failed') itemsFailed++;
    }
    const recorded = await this.#redis.eval(
      PUT_UNIT_RESULT,
      2,
      this.#key('run', runId, 'results'),
      this.#key('run', runId, 'progress'),
      result.unit,
      JSON.stringify(stored),
      result.status === 'failed' ? '1' : '0',
      String(itemsDeleted),
      String(itemsFailed),
      String(bytesFreed),
    );
    return recorded === 1;
  }

  /**
   * Counts a restore of a layer link the run removed, in its progress (also after the run ended: a restore
   * can come minutes later). Runs whose data expired are not counted.
   */
  async countRestore(runId: string, restored: boolean): Promise<void> {
    const key = this.#key('run', runId, 'progress');
    if ((await this.#redis.exists(key)) === 0) return;
    await this.#redis.hincrby(key, restored ? 'linksRestored' : 'linksNotRestored', 1);
    // A run that ended keeps its counters in its record: bring them up to date there too.
    const record = await this.getRun(runId);
    if (record !== undefined && runIsOver(record.status) && record.progress !== undefined) {
      const progress = await this.getProgress(runId);
      if (progress !== undefined) await this.putRun({ ...record, progress });
    }
  }

  /** A run's progress counters; undefined when it has none (no plan stored, or its data expired). */
  async getProgress(runId: string): Promise<RunProgress | undefined> {
    const hash = await this.#redis.hgetall(this.#key('run', runId, 'progress'));
    if (Object.keys(hash).length === 0) return undefined;
    const progress = {} as RunProgress;
    for (const field of PROGRESS_FIELDS) progress[field] = Number(hash[field] ?? 0);
    return progress;
  }

  /**
   * The run in progress with its counters (zero until its plan is stored), else the last run that stored a
   * plan, with the counters it ended with; undefined before the first run.
   */
  async currentProgress(): Promise<CurrentProgress | undefined> {
    const holder = await this.lockHolder();
    const runId = holder ?? (await this.#redis.get(this.#key('progress-run'))) ?? undefined;
    if (runId === undefined) return undefined;
    const live = await this.getProgress(runId);
    const progress = holder === undefined ? ((await this.getRun(runId))?.progress ?? live) : live;
    const zero: RunProgress = {
      unitsTotal: 0,
      unitsDone: 0,
      unitsFailed: 0,
      itemsDeleted: 0,
      itemsFailed: 0,
      bytesFreed: 0,
      linksRestored: 0,
      linksNotRestored: 0,
    };
    return { ...zero, ...progress, runId, inProgress: holder !== undefined };
  }

  /** Results of the given units (all when omitted), by unit id. */
  async getUnitResults(runId: string, units?: readonly string[]): Promise<Map<string, StoredUnitResult>> {
    const key = this.#key('run', runId, 'results');
    const map = new Map<string, StoredUnitResult>();
    if (units === undefined) {
      for (const [unit, text] of Object.entries(await this.#redis.hgetall(key)))
        map.set(unit, JSON.parse(text) as StoredUnitResult);
      return map;
    }
    if (units.length === 0) return map;
    const texts = await this.#redis.hmget(key, ...units);
    units.forEach((unit, index) => {
      const text = texts[index];
      if (typeof text === 'string') map.set(unit, JSON.parse(text) as StoredUnitResult);
    });
    return map;
  }

  /** Stream units that did not settle, written once by the images step. */
  async putUnsettled(runId: string, units: readonly string[]): Promise<void> {
    await this.#redis.set(this.#key('run', runId, 'unsettled'), JSON.stringify(units));
  }

  async getUnsettled(runId: string): Promise<string[] | undefined> {
    const text = await this.#redis.get(this.#key('run', runId, 'unsettled'));
    return text === null ? undefined : (JSON.parse(text) as string[]);
  }

  /**
   * Writes a run's result log in parts: first the units (`startResult`, then `appendResult` in plan order,
   * as many times as it takes), then the head (`putResultHead`), which makes the log readable. Written
   * again, it replaces the earlier one.
   */
  async startResult(runId: string): Promise<void> {
    await this.#redis.del(this.#key('run', runId, 'result-units'));
  }

  async appendResult(runId: string, units: readonly UnitResult[]): Promise<void> {
    if (units.length === 0) return;
    await this.#redis.rpush(
      this.#key('run', runId, 'result-units'),
      ...units.map((unit) => JSON.stringify(unit)),
    );
  }

  async putResultHead(runId: string, head: Omit<PruneRunResult, 'units'>): Promise<void> {
    await this.#redis.set(this.#key('run', runId, 'result'), JSON.stringify(head));
  }

  /** The result log (read page by page; a log written whole by an earlier version is read as it is). */
  async getResult(runId: string): Promise<PruneRunResult | undefined> {
    const text = await this.#redis.get(this.#key('run', runId, 'result'));
    if (text === null) return undefined;
    const head = JSON.parse(text) as Omit<PruneRunResult, 'units'> & { units?: UnitResult[] };
    if (Array.isArray(head.units)) return head as PruneRunResult;
    const key = this.#key('run', runId, 'result-units');
    const units: UnitResult[] = [];
    for (let start = 0; ; start += RESULT_PAGE) {
      const page = await this.#redis.lrange(key, start, start + RESULT_PAGE - 1);
      for (const unit of page) units.push(JSON.parse(unit) as UnitResult);
      if (page.length < RESULT_PAGE) break;
    }
    return { ...head, units };
  }

  /**
   * One page of a run's unit results in plan order (the dashboard's run page): from the result log once it is
   * written, else the results recorded so far, a unit without one as `pending`.
   */
  async unitResultPage(
    runId: string,
    start: number,
    count: number,
  ): Promise<{ total: number; units: { unit: string; status: string; items: ItemResult[] }[] }> {
    const logKey = this.#key('run', runId, 'result-units');
    const total = await this.#redis.llen(logKey);
    if (total > 0) {
      const page = await this.#redis.lrange(logKey, start, start + count - 1);
      return { total, units: page.map((text) => JSON.parse(text) as UnitResult) };
    }
    const idsKey = this.#key('run', runId, 'plan-ids');
    const planned = await this.#redis.llen(idsKey);
    if (planned === 0) {
      // A log an earlier version wrote whole, or nothing yet.
      const whole = await this.getResult(runId);
      const units = whole?.units ?? [];
      return { total: units.length, units: units.slice(start, start + count) };
    }
    const ids = await this.#redis.lrange(idsKey, start, start + count - 1);
    const results = await this.getUnitResults(runId, ids);
    return {
      total: planned,
      units: ids.map((id) => results.get(id)?.result ?? { unit: id, status: 'pending', items: [] }),
    };
  }

  /** Lets the working data of a finished run expire. */
  async expireWorkingData(runId: string): Promise<void> {
    await this.#redis
      .multi()
      .expire(this.#key('run', runId, 'plan'), FINISHED_RUN_TTL_SECONDS)
      .expire(this.#key('run', runId, 'plan-ids'), FINISHED_RUN_TTL_SECONDS)
      .expire(this.#key('run', runId, 'plan-units'), FINISHED_RUN_TTL_SECONDS)
      .expire(this.#key('run', runId, 'plan-batches'), FINISHED_RUN_TTL_SECONDS)
      .expire(this.#key('run', runId, 'results'), FINISHED_RUN_TTL_SECONDS)
      .expire(this.#key('run', runId, 'unsettled'), FINISHED_RUN_TTL_SECONDS)
      .expire(this.#key('run', runId, 'progress'), FINISHED_RUN_TTL_SECONDS)
      .exec();
  }

  async setLastSuccess(at: Date): Promise<void> {
    await this.#redis.set(this.#key('last-success'), String(at.getTime()));
  }

  /** When the last run succeeded (ms since the epoch), if ever. */
  async lastSuccess(): Promise<number | undefined> {
    const text = await this.#redis.get(this.#key('last-success'));
    return text === null ? undefined : Number(text);
  }

  async getAppliedConfig(): Promise<AppliedConfig | undefined> {
    const text = await this.#redis.get(this.#key('config'));
    return text === null ? undefined : (JSON.parse(text) as AppliedConfig);
  }

  async putAppliedConfig(config: AppliedConfig): Promise<void> {
    await this.#redis.set(this.#key('config'), JSON.stringify(config));
  }

  /**
   * Keeps the newest `successful` succeeded runs and `failed` failed or rejected ones (as the CronJob's
   * history limits), plus every run in progress; deletes the rest with their data.
   */
  async trimHistory(limits: { successful: number; failed: number }): Promise<number> {
    const runs = await this.listRuns(10_000);
    let succeeded = 0;
    let failed = 0;
    const drop: string[] = [];
    for (const run of runs) {
      if (run.status === 'succeeded' && ++succeeded > limits.successful) drop.push(run.runId);
      if ((run.status === 'failed' || run.status === 'rejected') && ++failed > limits.failed)
        drop.push(run.runId);
    }
    if (drop.length === 0) return 0;
    const multi = this.#redis.multi().zrem(this.#key('runs'), ...drop);
    for (const id of drop) {
      multi.del(
        this.#key('run', id),
        this.#key('run', id, 'result'),
        this.#key('run', id, 'result-units'),
        this.#key('run', id, 'plan'),
        this.#key('run', id, 'plan-ids'),
        this.#key('run', id, 'plan-units'),
        this.#key('run', id, 'plan-batches'),
        this.#key('run', id, 'results'),
        this.#key('run', id, 'unsettled'),
        this.#key('run', id, 'progress'),
      );
    }
    await multi.exec();
    return drop.length;
  }
}
