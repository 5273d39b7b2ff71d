/**
 * The run store in Redis, as the service keeps it: every key under `<prefix>:<queue>:pruner:` (one hash slot
 * with the default prefix, so a Redis Cluster serves it too). The key layout is what deployed pruners read
 * and write; it does not change. Where several workers race, a Lua script or a MULTI makes the step atomic.
 */
import type { PruneRunResult, UnitResult, WorkUnit } from '@registry-push/core';
import type { RedisConnection } from '../redis.js';
import {
  HISTORY_SCAN_LIMIT,
  PLAN_PAGE,
  PROGRESS_FIELDS,
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

/** Units of a result log read at a time. */
const RESULT_PAGE = 1000;

/** The keys of a run's working data, which expire a day after the run ended. */
const WORKING_KEYS = [
  'plan',
  'plan-ids',
  'plan-units',
  'plan-batches',
  'results',
  'unsettled',
  'progress',
] as const;

/** Every key of a run besides its record, deleted with it when the history is trimmed. */
const RUN_KEYS = ['result', 'result-units', ...WORKING_KEYS] as const;

/** The {@link RunStore} in Redis: the pruner's keys under `<prefix>:<queue>:pruner:`. */
export class RedisRunStore implements RunStore {
  readonly #redis: RedisConnection;
  readonly #base: string;

  /**
   * @param redis The connection (shared with the queue).
   * @param prefix BullMQ's key prefix (`PRUNER_PREFIX`).
   * @param queue The queue's name (`PRUNER_QUEUE`).
   */
  constructor(redis: RedisConnection, prefix: string, queue: string) {
    this.#redis = redis;
    this.#base = `${prefix}:${queue}:pruner`;
  }

  #key(...parts: string[]): string {
    return [this.#base, ...parts].join(':');
  }

  async acquireLock(runId: string, ttlMs: number): Promise<string> {
    return (await this.#redis.eval(ACQUIRE, 1, this.#key('lock'), runId, String(ttlMs))) as string;
  }

  async renewLock(runId: string, ttlMs: number): Promise<boolean> {
    return ((await this.#redis.eval(RENEW, 1, this.#key('lock'), runId, String(ttlMs))) as number) === 1;
  }

  async releaseLock(runId: string): Promise<boolean> {
    return ((await this.#redis.eval(RELEASE, 1, this.#key('lock'), runId)) as number) === 1;
  }

  async lockHolder(): Promise<string | undefined> {
    return (await this.#redis.get(this.#key('lock'))) ?? undefined;
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const text = await this.#redis.get(this.#key('run', runId));
    return text === null ? undefined : (JSON.parse(text) as RunRecord);
  }

  async putRun(record: RunRecord): Promise<void> {
    await this.#redis
      .multi()
      .set(this.#key('run', record.runId), JSON.stringify(record))
      .zadd(this.#key('runs'), Date.parse(record.createdAt), record.runId)
      .exec();
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

  async listRuns(limit = 20): Promise<RunRecord[]> {
    const ids = await this.#redis.zrevrange(this.#key('runs'), 0, limit - 1);
    if (ids.length === 0) return [];
    const texts = await Promise.all(ids.map((id) => this.#redis.get(this.#key('run', id))));
    return texts.filter((text): text is string => text !== null).map((text) => JSON.parse(text) as RunRecord);
  }

  /**
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

  async *unitPages(runId: string, size = PLAN_PAGE): AsyncGenerator<WorkUnit[]> {
    const plan = await this.#readPlan(runId);
    if (plan === undefined) throw incompletePlan(runId);
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
      if (ids.length === 0 || units.size !== ids.length) throw incompletePlan(runId);
      seen += ids.length;
      yield ids.map((id) => units.get(id)!);
    }
    if (seen !== head.unitCount) throw incompletePlan(runId);
  }

  async putBatches(runId: string, batches: readonly (readonly string[])[]): Promise<void> {
    const key = this.#key('run', runId, 'plan-batches');
    await this.#redis.del(key);
    for (let start = 0; start < batches.length; start += PLAN_PAGE) {
      const page = batches.slice(start, start + PLAN_PAGE).map((batch) => JSON.stringify(batch));
      if (page.length > 0) await this.#redis.rpush(key, ...page);
    }
  }

  async getBatches(runId: string): Promise<string[][] | undefined> {
    const texts = await this.#redis.lrange(this.#key('run', runId, 'plan-batches'), 0, -1);
    return texts.length === 0 ? undefined : texts.map((text) => JSON.parse(text) as string[]);
  }

  async putUnitResult(runId: string, stored: StoredUnitResult): Promise<boolean> {
    const counts = resultCounts(stored.result);
    const recorded = await this.#redis.eval(
      PUT_UNIT_RESULT,
      2,
      this.#key('run', runId, 'results'),
      this.#key('run', runId, 'progress'),
      stored.result.unit,
      JSON.stringify(stored),
      String(counts.unitsFailed),
      String(counts.itemsDeleted),
      String(counts.itemsFailed),
      String(counts.bytesFreed),
    );
    return recorded === 1;
  }

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

  async getProgress(runId: string): Promise<RunProgress | undefined> {
    const hash = await this.#redis.hgetall(this.#key('run', runId, 'progress'));
    if (Object.keys(hash).length === 0) return undefined;
    const progress: RunProgress = { ...ZERO_PROGRESS };
    for (const field of PROGRESS_FIELDS) progress[field] = Number(hash[field] ?? 0);
    return progress;
  }

  async currentProgress(): Promise<CurrentProgress | undefined> {
    const holder = await this.lockHolder();
    const runId = holder ?? (await this.#redis.get(this.#key('progress-run'))) ?? undefined;
    if (runId === undefined) return undefined;
    const live = await this.getProgress(runId);
    const progress = holder === undefined ? ((await this.getRun(runId))?.progress ?? live) : live;
    return { ...ZERO_PROGRESS, ...progress, runId, inProgress: holder !== undefined };
  }

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

  async putUnsettled(runId: string, units: readonly string[]): Promise<void> {
    await this.#redis.set(this.#key('run', runId, 'unsettled'), JSON.stringify(units));
  }

  async getUnsettled(runId: string): Promise<string[] | undefined> {
    const text = await this.#redis.get(this.#key('run', runId, 'unsettled'));
    return text === null ? undefined : (JSON.parse(text) as string[]);
  }

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

  async putResultHead(runId: string, head: ResultHead): Promise<void> {
    await this.#redis.set(this.#key('run', runId, 'result'), JSON.stringify(head));
  }

  /** Read page by page; a log written whole by an earlier version is read as it is. */
  async getResult(runId: string): Promise<PruneRunResult | undefined> {
    const text = await this.#redis.get(this.#key('run', runId, 'result'));
    if (text === null) return undefined;
    const head = JSON.parse(text) as ResultHead & { units?: UnitResult[] };
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

  async unitResultPage(runId: string, start: number, count: number): Promise<UnitResultPage> {
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

  async expireWorkingData(runId: string): Promise<void> {
    const multi = this.#redis.multi();
    for (const part of WORKING_KEYS) multi.expire(this.#key('run', runId, part), FINISHED_RUN_TTL_MS / 1000);
    await multi.exec();
  }

  async setLastSuccess(at: Date): Promise<void> {
    await this.#redis.set(this.#key('last-success'), String(at.getTime()));
  }

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

  async trimHistory(limits: HistoryLimits): Promise<number> {
    const drop = runsBeyondLimits(await this.listRuns(HISTORY_SCAN_LIMIT), limits);
    if (drop.length === 0) return 0;
    const multi = this.#redis.multi().zrem(this.#key('runs'), ...drop);
    for (const id of drop)
      multi.del(this.#key('run', id), ...RUN_KEYS.map((part) => this.#key('run', id, part)));
    await multi.exec();
    return drop.length;
  }
}
