/**
 * Settings of the service. The ImagePruner CR is the source of the schedule and the pruning policy; these
 * cover what the CR does not: where Redis and the registry are, how hard to push, and whether to confirm.
 * Every setting comes from the environment (`PRUNER_*`, `REDIS_*`); the CLI flags override a few of them.
 */
import { readFileSync } from 'node:fs';
import type { PrunePolicyInput } from '@registry-push/core';
import { PrunerError } from './errors.js';

/** `auto` follows the registry operator's managementState; the others force a mode. */
export type ModeSetting = 'auto' | 'metadata' | 'full';

/** Where Redis is: one server, a Sentinel group, or a Cluster. */
export interface RedisSettings {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://`). Default `redis://127.0.0.1:6379`. */
  url: string;
  /** `host:port` of Sentinels; with them, {@link sentinelName} names the master group. */
  sentinels?: { host: string; port: number }[];
  sentinelName?: string;
  /** `host:port` of Cluster nodes to start from. */
  clusterNodes?: { host: string; port: number }[];
}

/** How to reach the registry for a full prune. */
export interface RegistrySettings {
  /** `host[:port]`; default the cluster's `images.config` `status.internalRegistryHostname`. */
  host?: string;
  /** PEM file of the CA that signed the registry's certificate (default: the service CA of the pod). */
  caFile?: string;
  /** Dial this `ip:port` instead of resolving the host (tests and split-horizon DNS). */
  connectTo?: string;
}

/** Everything the service needs besides the CR. */
export interface Settings {
  redis: RedisSettings;
  /** Queue name. Default `registry-pruner`. */
  queue: string;
  /** Redis key prefix of the queue and of the pruner's own keys. Default `{registry-pruner}` (one hash slot). */
  prefix: string;
  /** Carry out runs; otherwise every run is a dry run. */
  confirm: boolean;
  mode: ModeSetting;
  /** Policy additions the CR does not have (tag filters, per-namespace overrides, ...), from `PRUNER_POLICY`. */
  policy: PrunePolicyInput;
  registry: RegistrySettings;
  /** Port of `/healthz`, `/readyz` and `/metrics`; 0 picks a free one. Default 8080. */
  httpPort: number;
  /** Jobs one worker process runs at a time. Default 1. */
  concurrency: number;
  /** Image units per batch job (units that share blobs always go together). Default 20. */
  batchSize: number;
  /** How often the ImagePruner CR is read. Default 30 s. */
  configPollMs: number;
  /** BullMQ job lock; a worker that stops renewing it loses its job after this long. Default 30 s. */
  lockDurationMs: number;
  /** How often stalled jobs are looked for. Default 30 s. */
  stalledIntervalMs: number;
  /** How often one job may stall before it fails. Default 3. */
  maxStalledCount: number;
  /** Attempts of a unit, plan or finalize job. Default 4. */
  attempts: number;
  /** First retry delay of a job, doubled each time. Default 5 s. */
  backoffMs: number;
  /** API and registry calls per second per process, to start with. Default 50. */
  rate: number;
  /** Lowest rate the back-off goes down to. Default 2. */
  minRate: number;
  /** Unit jobs per second across all workers (BullMQ limiter). Default 100. */
  jobsPerSecond: number;
  /** Oldest view of Images and streams an image unit may check against (see the core). Default 0. */
  freshnessMs: number;
  /** A run still holding the lock after this long lets another one start. Default 6 h. */
  runTimeoutMs: number;
  /** Namespace of the Kubernetes Events about the (cluster-scoped) ImagePruner. Default `default`. */
  eventsNamespace: string;
  logLevel: string;
  /** Name of this process in logs and results. Default the host name and PID. */
  workerName: string;
  /** Test hook: make this process stop at a point of a run (see the README). */
  failpoint?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

function integer(env: Env, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new PrunerError(
      'PRUNER_SETTING_INVALID',
      `${name} must be a whole number of ${min} or more, not "${raw}".`,
    );
  }
  return value;
}

/** `true`/`false` (also `1`/`0`, `yes`/`no`). */
export function parseBoolean(name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw === '') return fallback;
  const value = raw.toLowerCase();
  if (['true', '1', 'yes'].includes(value)) return true;
  if (['false', '0', 'no'].includes(value)) return false;
  throw new PrunerError('PRUNER_SETTING_INVALID', `${name} must be true or false, not "${raw}".`);
}

/** A `--mode` / `PRUNER_MODE` value. */
export function parseMode(raw: string | undefined): ModeSetting {
  const value = raw === undefined || raw === '' ? 'auto' : raw;
  if (value === 'auto' || value === 'metadata' || value === 'full') return value;
  throw new PrunerError('PRUNER_SETTING_INVALID', `The mode must be auto, metadata or full, not "${value}".`);
}

function hostPorts(name: string, raw: string | undefined): { host: string; port: number }[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  return raw.split(',').map((entry) => {
    const match = /^\s*([^\s:]+):(\d+)\s*$/.exec(entry);
    if (match === null) {
      throw new PrunerError('PRUNER_SETTING_INVALID', `${name} must list host:port pairs, not "${entry}".`);
    }
    return { host: match[1]!, port: Number(match[2]) };
  });
}

function policyInput(env: Env): PrunePolicyInput {
  const inline = env.PRUNER_POLICY;
  const file = env.PRUNER_POLICY_FILE;
  const text = inline !== undefined && inline !== '' ? inline : file ? readFileSync(file, 'utf8') : undefined;
  if (text === undefined) return {};
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value;
  } catch (error) {
    throw new PrunerError(
      'PRUNER_SETTING_INVALID',
      `The policy (PRUNER_POLICY) is not a JSON object: ${(error as Error).message}.`,
      {
        hint: 'For example {"tagExclude":"^release-","namespaces":{"ci":{"keepTagRevisions":1}}}.',
      },
    );
  }
}

function redisSettings(env: Env): RedisSettings {
  const sentinels = hostPorts('REDIS_SENTINELS', env.REDIS_SENTINELS);
  const clusterNodes = hostPorts('REDIS_CLUSTER_NODES', env.REDIS_CLUSTER_NODES);
  return {
    url: env.REDIS_URL !== undefined && env.REDIS_URL !== '' ? env.REDIS_URL : 'redis://127.0.0.1:6379',
    ...(sentinels !== undefined ? { sentinels, sentinelName: env.REDIS_SENTINEL_NAME ?? 'mymaster' } : {}),
    ...(clusterNodes !== undefined ? { clusterNodes } : {}),
  };
}

function optional(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

function registrySettings(env: Env): RegistrySettings {
  const host = optional(env, 'PRUNER_REGISTRY_HOST');
  const caFile = optional(env, 'PRUNER_REGISTRY_CA_FILE');
  const connectTo = optional(env, 'PRUNER_REGISTRY_CONNECT_TO');
  return {
    ...(host !== undefined ? { host } : {}),
    ...(caFile !== undefined ? { caFile } : {}),
    ...(connectTo !== undefined ? { connectTo } : {}),
  };
}

/**
 * Reads the settings from the environment.
 *
 * @param env The environment (default `process.env`).
 * @returns The settings.
 * @throws PrunerError `PRUNER_SETTING_INVALID` naming the variable.
 */
export function loadSettings(env: Env = process.env): Settings {
  const lockDurationMs = integer(env, 'PRUNER_LOCK_DURATION_MS', 30_000, 500);
  const failpoint = optional(env, 'PRUNER_FAILPOINT');
  return {
    redis: redisSettings(env),
    queue: optional(env, 'PRUNER_QUEUE') ?? 'registry-pruner',
    prefix: optional(env, 'PRUNER_REDIS_PREFIX') ?? '{registry-pruner}',
    confirm: parseBoolean('PRUNER_CONFIRM', env.PRUNER_CONFIRM, false),
    mode: parseMode(env.PRUNER_MODE),
    policy: policyInput(env),
    registry: registrySettings(env),
    httpPort: integer(env, 'PRUNER_HTTP_PORT', 8080),
    concurrency: integer(env, 'PRUNER_CONCURRENCY', 1, 1),
    batchSize: integer(env, 'PRUNER_BATCH_SIZE', 20, 1),
    configPollMs: integer(env, 'PRUNER_CONFIG_POLL_MS', 30_000, 50),
    lockDurationMs,
    stalledIntervalMs: integer(env, 'PRUNER_STALLED_INTERVAL_MS', lockDurationMs, 100),
    maxStalledCount: integer(env, 'PRUNER_MAX_STALLED_COUNT', 3, 1),
    attempts: integer(env, 'PRUNER_ATTEMPTS', 4, 1),
    backoffMs: integer(env, 'PRUNER_BACKOFF_MS', 5_000, 1),
    rate: integer(env, 'PRUNER_RATE', 50, 1),
    minRate: integer(env, 'PRUNER_MIN_RATE', 2, 1),
    jobsPerSecond: integer(env, 'PRUNER_JOBS_PER_SECOND', 100, 1),
    freshnessMs: integer(env, 'PRUNER_FRESHNESS_MS', 0),
    runTimeoutMs: integer(env, 'PRUNER_RUN_TIMEOUT_MS', 6 * 3_600_000, 1_000),
    eventsNamespace: optional(env, 'PRUNER_EVENTS_NAMESPACE') ?? 'default',
    logLevel: optional(env, 'PRUNER_LOG_LEVEL') ?? 'info',
    workerName: optional(env, 'PRUNER_WORKER_NAME') ?? `${env.HOSTNAME ?? 'pruner'}-${process.pid}`,
    ...(failpoint !== undefined ? { failpoint } : {}),
  };
}

/** The Redis URL with any password replaced, for logs. */
export function redactedRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<invalid url>';
  }
}
