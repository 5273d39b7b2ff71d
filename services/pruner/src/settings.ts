/**
 * Settings of the service. The ImagePruner CR is the source of the schedule and the pruning policy; these
 * cover what the CR does not: where Redis and the registry are, how hard to push, and whether to confirm.
 * Every setting comes from the environment (`PRUNER_*`, `REDIS_*`); the CLI flags override a few of them.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseDuration, type PrunePolicyInput } from '@registry-push/core';
import { PrunerError } from './errors.js';
import { FAILPOINTS } from './failpoints.js';

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
  /**
   * Dry runs list every decision and store the dashboard's plan explorer index (`PRUNER_PLAN_EXPLORER`,
   * default true); off, they plan with counts only, as confirmed runs do (less memory at 100k Images).
   */
  planExplorer: boolean;
  mode: ModeSetting;
  /** Policy additions the CR does not have (tag filters, per-namespace overrides, ...), from `PRUNER_POLICY`. */
  policy: PrunePolicyInput;
  registry: RegistrySettings;
  /** Port of `/healthz`, `/readyz` and `/metrics`; 0 picks a free one. Default 8080. */
  httpPort: number;
  /**
   * Address the HTTP endpoints listen on. Default `0.0.0.0` in a pod (`KUBERNETES_SERVICE_HOST` is set: the
   * kubelet's probes and Prometheus come from outside the pod), `127.0.0.1` anywhere else.
   */
  httpHost: string;
  /** Jobs one worker process runs at a time (`PRUNER_CONCURRENCY`). Default 16. */
  concurrency: number;
  /** Unlinked image units of a batch run side by side (`PRUNER_UNIT_CONCURRENCY`). Default 8. */
  unitConcurrency: number;
  /** Image units per batch job (units that share blobs always go together). Default 20. */
  batchSize: number;
  /**
   * Registry deletes of one unit in flight at a time (`PRUNER_REGISTRY_CONCURRENCY`). Default 32: the deletes
   * of a unit then share one catch-up of the live view, and the registry rate still paces them.
   */
  registryConcurrency: number;
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
  /** API server calls per second per process, to start with (`PRUNER_API_RATE`). Default 100. */
  apiRate: number;
  /** Lowest API rate the back-off goes down to (`PRUNER_API_MIN_RATE`). Default 2 (the API rate if lower). */
  apiMinRate: number;
  /** Registry calls (deletes) per second per process, to start with (`PRUNER_REGISTRY_RATE`). Default 1000. */
  registryRate: number;
  /** Lowest registry rate the back-off goes down to (`PRUNER_REGISTRY_MIN_RATE`). Default 10 (the registry rate if lower). */
  registryMinRate: number;
  /** The same as {@link apiRate}: the name from before the registry had a rate of its own. */
  rate: number;
  /** The same as {@link apiMinRate}. */
  minRate: number;
  /** Unit jobs per second across all workers (BullMQ limiter). Default 100. */
  jobsPerSecond: number;
  /**
   * Settings that are set but no longer do anything (`PRUNER_FRESHNESS_MS`: every delete is now decided
   * on a live view); the worker names them in a warning at start.
   */
  obsolete: string[];
  /** A run still holding the lock after this long lets another one start. Default 6 h. */
  runTimeoutMs: number;
  /**
   * How long a confirmed full run's registry deletes wait after its metadata removal, while `restore` can
   * put everything back (`PRUNER_UNDO_WINDOW`, else the policy's `undoWindow`). Default 24 h; 0 deletes
   * from the registry right away, as one phase, with no undo record.
   */
  undoWindowMs: number;
  /** How long a run's undo record is kept after its window closed (`PRUNER_UNDO_RETENTION`). Default 7 d. */
  undoRetentionMs: number;
  /** Namespace of the Kubernetes Events about the (cluster-scoped) ImagePruner. Default `default`. */
  eventsNamespace: string;
  logLevel: string;
  /** Name of this process in logs and results. Default the host name and PID. */
  workerName: string;
  /** Test hook: make this process stop at a point of a run (see the README). */
  failpoint?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Largest delay Node's timers take (2^31 - 1 ms, about 24.8 days); also the cap of every count. */
export const MAX_SETTING = 2_147_483_647;

/**
 * "from 1 to 10", or "of 1 or more" when the only upper bound is {@link MAX_SETTING} and the value given is
 * not above it (that bound would only puzzle someone who typed 0 or "abc").
 */
export function rangeText(min: number, max: number, given: number): string {
  return max >= MAX_SETTING && !(given > max) ? `of ${min} or more` : `from ${min} to ${max}`;
}

function invalid(name: string, message: string, hint?: string): PrunerError {
  return new PrunerError('PRUNER_SETTING_INVALID', message, {
    hint: hint ?? `Fix ${name} or unset it to use the default.`,
  });
}

/**
 * A whole number in `[min, max]`. Only digits are taken: `Number()` would also read `1e3`, `0x10` and
 * ` 12 `, which a person did not mean as a count.
 */
function integer(env: Env, name: string, fallback: number, min = 0, max = MAX_SETTING): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(name, `${name} must be a whole number ${rangeText(min, max, value)}, not "${raw}".`);
  }
  return value;
}

/** `true`/`false` (also `1`/`0`, `yes`/`no`). */
export function parseBoolean(name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw === '') return fallback;
  const value = raw.toLowerCase();
  if (['true', '1', 'yes'].includes(value)) return true;
  if (['false', '0', 'no'].includes(value)) return false;
  throw invalid(name, `${name} must be true or false, not "${raw}".`);
}

/**
 * A `--mode` / `PRUNER_MODE` value.
 *
 * @param name Where it came from, for the message (`PRUNER_MODE` or `--mode`).
 */
export function parseMode(raw: string | undefined, name = 'PRUNER_MODE'): ModeSetting {
  const value = raw === undefined || raw === '' ? 'auto' : raw;
  if (value === 'auto' || value === 'metadata' || value === 'full') return value;
  // A flag is a usage error (exit 2); a variable is a setting of the deployment (exit 1).
  throw new PrunerError(
    name.startsWith('--') ? 'PRUNER_USAGE' : 'PRUNER_SETTING_INVALID',
    `${name} must be auto, metadata or full, not "${value}".`,
    { hint: name.startsWith('--') ? '' : `Fix ${name} or unset it to use the default (auto).` },
  );
}

const PORT = /^[1-9]\d{0,4}$/;

function validPort(raw: string): boolean {
  return PORT.test(raw) && Number(raw) <= 65_535;
}

function hostPorts(name: string, raw: string | undefined): { host: string; port: number }[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  return raw.split(',').map((entry) => {
    const match = /^\s*([^\s:]+):(\d+)\s*$/.exec(entry);
    if (match === null || !validPort(match[2]!)) {
      throw invalid(name, `${name} must list host:port pairs (port 1 to 65535), not "${entry}".`);
    }
    return { host: match[1]!, port: Number(match[2]) };
  });
}

/** Longest undo window or retention: what a BullMQ delay and a Redis expiry take comfortably (about 24 days). */
const MAX_UNDO_MS = 2_147_483_647;

/** A Go duration setting (`24h`, `90m`, `0`). */
function durationSetting(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const value = parseDuration(text);
  if (value === undefined || value > MAX_UNDO_MS)
    throw invalid(
      name,
      `${name} must be a duration such as 24h, 90m or 0 (at most 596h), not "${text}".`,
      'Units ns, us, ms, s, m, h.',
    );
  return Math.round(value);
}

/** The undo window: the variable, else the policy's `undoWindow`, else 24 h. */
function undoWindow(env: Env, policy: PrunePolicyInput & { undoWindow?: unknown }): number {
  const fromEnv = optional(env, 'PRUNER_UNDO_WINDOW');
  if (fromEnv !== undefined) return durationSetting('PRUNER_UNDO_WINDOW', fromEnv, DEFAULT_UNDO_WINDOW_MS);
  if (policy.undoWindow === undefined) return DEFAULT_UNDO_WINDOW_MS;
  if (typeof policy.undoWindow !== 'string')
    throw invalid(
      'PRUNER_POLICY',
      'The policy\'s undoWindow must be a duration string such as "24h" or "0".',
    );
  return durationSetting('PRUNER_POLICY undoWindow', policy.undoWindow, DEFAULT_UNDO_WINDOW_MS);
}

/** Default of {@link Settings.undoWindowMs}. */
export const DEFAULT_UNDO_WINDOW_MS = 24 * 3_600_000;

function policyInput(env: Env): PrunePolicyInput {
  const inline = env.PRUNER_POLICY;
  const file = env.PRUNER_POLICY_FILE;
  const text =
    inline !== undefined && inline !== ''
      ? inline
      : file
        ? readSettingFile('PRUNER_POLICY_FILE', file)
        : undefined;
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

/** The text of a file a setting names, or a one-line error naming the setting and the reason. */
function readSettingFile(name: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'there is no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'it is a directory'
            : (code ?? (error as Error).message);
    throw invalid(
      name,
      `${name} names ${path}, which cannot be read: ${reason}.`,
      `Point ${name} at a readable file, or unset it.`,
    );
  }
}

/**
 * Checks `REDIS_URL` before ioredis sees it: ioredis takes any text and then fails with "Invalid URL" or
 * dials a default. The value is never echoed, as it may hold a password.
 */
function redisUrl(raw: string | undefined): string {
  if (raw === undefined || raw === '') return 'redis://127.0.0.1:6379';
  const hint = 'Write it as redis://[user:password@]host[:port][/db] (rediss:// for TLS).';
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw invalid('REDIS_URL', 'REDIS_URL is not a URL.', hint);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
    throw invalid(
      'REDIS_URL',
      `REDIS_URL must start with redis:// or rediss://, not ${parsed.protocol}//.`,
      hint,
    );
  if (parsed.hostname === '') throw invalid('REDIS_URL', 'REDIS_URL has no host.', hint);
  if (!/^\/?\d*$/.test(parsed.pathname))
    throw invalid('REDIS_URL', 'REDIS_URL may end only in a database number (/0 to /15).', hint);
  return raw;
}

function redisSettings(env: Env): RedisSettings {
  const sentinels = hostPorts('REDIS_SENTINELS', env.REDIS_SENTINELS);
  const clusterNodes = hostPorts('REDIS_CLUSTER_NODES', env.REDIS_CLUSTER_NODES);
  return {
    url: redisUrl(env.REDIS_URL),
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
  // host[:port] or [v6]:port; a scheme or a path would end up in every request URL.
  if (host !== undefined && !/^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/.test(host))
    throw invalid(
      'PRUNER_REGISTRY_HOST',
      `PRUNER_REGISTRY_HOST must be host[:port] (no scheme, no path), not "${host}".`,
    );
  const dial = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(\d+)$/.exec(connectTo ?? '');
  if (connectTo !== undefined && (dial === null || !validPort(dial[1]!)))
    throw invalid(
      'PRUNER_REGISTRY_CONNECT_TO',
      `PRUNER_REGISTRY_CONNECT_TO must be ip:port, not "${connectTo}".`,
    );
  return {
    ...(host !== undefined ? { host } : {}),
    ...(caFile !== undefined ? { caFile } : {}),
    ...(connectTo !== undefined ? { connectTo } : {}),
  };
}

/**
 * The PEM of the registry's CA: `PRUNER_REGISTRY_CA_FILE`, else the pod's service CA when there is one.
 * Read again for every run (the service CA rotates); `run` and `worker` call it at start too, so a wrong
 * path stops them at once instead of failing the first run.
 *
 * @throws PrunerError `PRUNER_SETTING_INVALID` naming the setting when the file cannot be read or holds no
 *   certificate.
 */
export function readRegistryCa(settings: RegistrySettings, fallback?: string): string | undefined {
  const path = settings.caFile ?? fallback;
  if (path === undefined) return undefined;
  const pem = readSettingFile('PRUNER_REGISTRY_CA_FILE', path);
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw invalid(
      'PRUNER_REGISTRY_CA_FILE',
      `The registry CA file ${path} holds no PEM certificate.`,
      'Point PRUNER_REGISTRY_CA_FILE at the PEM file of the CA that signed the registry certificate.',
    );
  }
  return pem;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function oneOf(env: Env, name: string, allowed: readonly string[], fallback: string): string {
  const value = optional(env, name) ?? fallback;
  if (!allowed.includes(value))
    throw invalid(name, `${name} must be one of ${allowed.join(', ')}, not "${value}".`);
  return value;
}

/** `name` or `name:ms` entries, as {@link Failpoints} takes them. */
function failpointSpec(env: Env): string | undefined {
  const spec = optional(env, 'PRUNER_FAILPOINT');
  for (const entry of (spec ?? '').split(',').map((s) => s.trim())) {
    const [name = '', ms] = entry.split(':');
    if (
      entry !== '' &&
      (!(FAILPOINTS as readonly string[]).includes(name) || (ms !== undefined && !/^\d+$/.test(ms)))
    )
      throw invalid(
        'PRUNER_FAILPOINT',
        `PRUNER_FAILPOINT has "${entry}": each entry is name or name:ms, the names ${FAILPOINTS.join(', ')}.`,
      );
  }
  return spec;
}

function httpHost(env: Env): string {
  const host = optional(env, 'PRUNER_HTTP_HOST');
  // Outside a pod nothing but this machine needs the endpoints; in a pod the kubelet and Prometheus do.
  if (host === undefined)
    return optional(env, 'KUBERNETES_SERVICE_HOST') !== undefined ? '0.0.0.0' : '127.0.0.1';
  if (isIP(host) === 0)
    throw invalid(
      'PRUNER_HTTP_HOST',
      `PRUNER_HTTP_HOST must be an IP address to listen on (127.0.0.1, 0.0.0.0, ::, the pod IP), not "${host}".`,
    );
  return host;
}

/**
 * Default pace of API server calls: what `oc adm prune images` gives its client (QPS 100), which the API
 * server's priority and fairness absorbs; the back-off halves it on the server's 429/5xx. A confirmed full
 * run makes about one call per image unit and two per stream unit (100k images: about 60k calls), so at
 * 100/s they take ten minutes; the catch-ups of the live view add at most ten reads a second.
 */
export const DEFAULT_API_RATES = { rate: 100, minRate: 2 } as const;

/**
 * Default pace of registry calls: a confirmed full prune is mostly registry deletes (about 470k for 100k
 * images), each a small request the registry answers from its storage metadata; at 1000/s they take eight
 * minutes. The back-off halves it on the registry's own 429/5xx.
 */
export const DEFAULT_REGISTRY_RATES = { rate: 1000, minRate: 10 } as const;

/** A setting that has a current name and, maybe, an old one. */
function aliased(env: Env, names: readonly string[], fallback: number): { value: number; name?: string } {
  const given = names
    .filter((name) => optional(env, name) !== undefined)
    .map((name) => ({ name, value: integer(env, name, fallback, 1) }));
  const [first, ...others] = given;
  if (first === undefined) return { value: fallback };
  for (const other of others) {
    if (other.value !== first.value)
      throw invalid(
        other.name,
        `${first.name} (${first.value}) and ${other.name} (${other.value}), its old name, disagree.`,
        `Set only ${first.name} (unset ${other.name}).`,
      );
  }
  return { value: first.value, name: first.name };
}

/**
 * One side's rate and back-off floor. The floor defaults to the smaller of its default and the rate; a floor
 * that was given and is above the rate is refused.
 */
function rates(
  env: Env,
  spec: {
    rate: readonly [string, ...string[]];
    minRate: readonly [string, ...string[]];
    defaults: { rate: number; minRate: number };
  },
): { rate: number; minRate: number } {
  const rate = aliased(env, spec.rate, spec.defaults.rate);
  const minRate = aliased(env, spec.minRate, Math.min(spec.defaults.minRate, rate.value));
  if (minRate.value > rate.value) {
    const minName = minRate.name ?? spec.minRate[0];
    const rateName = rate.name ?? spec.rate[0];
    throw invalid(
      minName,
      `${minName} (${minRate.value}) must not be above ${rateName} (${rate.value}${rate.name === undefined ? ', the default' : ''}).`,
      `Lower ${minName} or raise ${rateName}.`,
    );
  }
  return { rate: rate.value, minRate: minRate.value };
}

/** Settings of earlier versions that are accepted and ignored. */
const OBSOLETE = ['PRUNER_FRESHNESS_MS'];

/**
 * Reads the settings from the environment.
 *
 * @param env The environment (default `process.env`).
 * @returns The settings.
 * @throws PrunerError `PRUNER_SETTING_INVALID` naming the variable.
 */
export function loadSettings(env: Env = process.env): Settings {
  const lockDurationMs = integer(env, 'PRUNER_LOCK_DURATION_MS', 30_000, 500);
  const failpoint = failpointSpec(env);
  const queue = optional(env, 'PRUNER_QUEUE') ?? 'registry-pruner';
  // BullMQ refuses queue names with a colon, deep inside the first call.
  if (queue.includes(':'))
    throw invalid('PRUNER_QUEUE', `PRUNER_QUEUE must not contain ":", not "${queue}".`);
  const eventsNamespace = optional(env, 'PRUNER_EVENTS_NAMESPACE') ?? 'default';
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(eventsNamespace))
    throw invalid(
      'PRUNER_EVENTS_NAMESPACE',
      `PRUNER_EVENTS_NAMESPACE must be a namespace name (lower-case letters, digits, "-"), not "${eventsNamespace}".`,
    );
  const api = rates(env, {
    rate: ['PRUNER_API_RATE', 'PRUNER_RATE'],
    minRate: ['PRUNER_API_MIN_RATE', 'PRUNER_MIN_RATE'],
    defaults: DEFAULT_API_RATES,
  });
  // The undo window may sit in the policy; the core's policy does not take it.
  const policy: PrunePolicyInput & { undoWindow?: unknown } = policyInput(env);
  const { undoWindow: _window, ...corePolicy } = policy;
  const registry = rates(env, {
    rate: ['PRUNER_REGISTRY_RATE'],
    minRate: ['PRUNER_REGISTRY_MIN_RATE'],
    defaults: DEFAULT_REGISTRY_RATES,
  });
  return {
    redis: redisSettings(env),
    queue,
    prefix: optional(env, 'PRUNER_REDIS_PREFIX') ?? '{registry-pruner}',
    confirm: parseBoolean('PRUNER_CONFIRM', env.PRUNER_CONFIRM, false),
    planExplorer: parseBoolean('PRUNER_PLAN_EXPLORER', env.PRUNER_PLAN_EXPLORER, true),
    mode: parseMode(env.PRUNER_MODE),
    policy: corePolicy,
    registry: registrySettings(env),
    httpPort: integer(env, 'PRUNER_HTTP_PORT', 8080, 0, 65_535),
    httpHost: httpHost(env),
    concurrency: integer(env, 'PRUNER_CONCURRENCY', 16, 1),
    unitConcurrency: integer(env, 'PRUNER_UNIT_CONCURRENCY', 8, 1),
    batchSize: integer(env, 'PRUNER_BATCH_SIZE', 20, 1),
    registryConcurrency: integer(env, 'PRUNER_REGISTRY_CONCURRENCY', 32, 1),
    configPollMs: integer(env, 'PRUNER_CONFIG_POLL_MS', 30_000, 50),
    lockDurationMs,
    stalledIntervalMs: integer(env, 'PRUNER_STALLED_INTERVAL_MS', lockDurationMs, 100),
    maxStalledCount: integer(env, 'PRUNER_MAX_STALLED_COUNT', 3, 1),
    attempts: integer(env, 'PRUNER_ATTEMPTS', 4, 1),
    backoffMs: integer(env, 'PRUNER_BACKOFF_MS', 5_000, 1),
    apiRate: api.rate,
    apiMinRate: api.minRate,
    registryRate: registry.rate,
    registryMinRate: registry.minRate,
    rate: api.rate,
    minRate: api.minRate,
    jobsPerSecond: integer(env, 'PRUNER_JOBS_PER_SECOND', 100, 1),
    obsolete: OBSOLETE.filter((name) => optional(env, name) !== undefined),
    runTimeoutMs: integer(env, 'PRUNER_RUN_TIMEOUT_MS', 6 * 3_600_000, 1_000),
    undoWindowMs: undoWindow(env, policy),
    undoRetentionMs: durationSetting(
      'PRUNER_UNDO_RETENTION',
      optional(env, 'PRUNER_UNDO_RETENTION'),
      7 * 24 * 3_600_000,
    ),
    eventsNamespace,
    logLevel: oneOf(env, 'PRUNER_LOG_LEVEL', LOG_LEVELS, 'info'),
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
