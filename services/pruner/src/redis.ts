/**
 * Redis connections: one server by URL, a Sentinel group, or a Cluster, through ioredis. Workers wait for
 * Redis forever (BullMQ's advice: `maxRetriesPerRequest: null`), so a Redis restart pauses them instead of
 * failing jobs; command-line clients wait too, but only within the deadline of each command.
 */
import { Cluster, Redis } from 'ioredis';
import { PrunerError } from './errors.js';
import { redactedRedisUrl, type RedisSettings } from './settings.js';

/** A Redis connection of either kind. */
export type RedisConnection = Redis | Cluster;

/** How the connection behaves when Redis is away. */
export type ConnectionRole = 'worker' | 'client';

function baseOptions(role: ConnectionRole): Record<string, unknown> {
  return role === 'worker'
    ? { maxRetriesPerRequest: null, retryStrategy: (times: number) => Math.min(200 * times, 2_000) }
    : {
        // Commands wait while Redis is away and reconnection never gives up: `enqueue --wait` must ride out
        // a Redis restart. Every client call is bounded by its own deadline instead (see client.ts), so a
        // Redis that stays away still ends the command with PRUNER_REDIS_UNREACHABLE.
        maxRetriesPerRequest: null,
        connectTimeout: 5_000,
        retryStrategy: (times: number) => Math.min(300 * times, 1_000),
      };
}

function credentialsOf(url: string): { username?: string; password?: string; tls?: object } {
  try {
    const parsed = new URL(url);
    return {
      ...(parsed.username !== '' ? { username: decodeURIComponent(parsed.username) } : {}),
      ...(parsed.password !== '' ? { password: decodeURIComponent(parsed.password) } : {}),
      ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    };
  } catch {
    return {};
  }
}

/**
 * Opens a connection (lazily: it connects on first use).
 *
 * @param settings Where Redis is.
 * @param role `worker` waits for Redis indefinitely; `client` fails after a few seconds.
 * @returns The connection.
 */
export function connectRedis(settings: RedisSettings, role: ConnectionRole): RedisConnection {
  const options = baseOptions(role);
  if (settings.clusterNodes !== undefined) {
    return new Cluster(settings.clusterNodes, {
      redisOptions: { ...options, ...credentialsOf(settings.url) },
    });
  }
  if (settings.sentinels !== undefined) {
    return new Redis({
      ...options,
      ...credentialsOf(settings.url),
      sentinels: settings.sentinels,
      name: settings.sentinelName ?? 'mymaster',
    });
  }
  return new Redis(settings.url, { ...options, lazyConnect: true });
}

/** Whether the connection is up now (a command sent now is answered, not queued until a reconnect). */
export function redisReady(connection: RedisConnection): boolean {
  return connection.status === 'ready';
}

/** A human name of where Redis is, without passwords. */
export function describeRedis(settings: RedisSettings): string {
  if (settings.clusterNodes !== undefined)
    return `cluster ${settings.clusterNodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  if (settings.sentinels !== undefined) return `sentinel group ${settings.sentinelName ?? 'mymaster'}`;
  return redactedRedisUrl(settings.url);
}

/**
 * Checks that Redis answers within `timeoutMs`.
 *
 * @throws PrunerError `PRUNER_REDIS_UNREACHABLE`.
 */
export async function pingRedis(
  connection: RedisConnection,
  settings: RedisSettings,
  timeoutMs = 5_000,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      connection.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
      }),
    ]);
  } catch (error) {
    throw new PrunerError(
      'PRUNER_REDIS_UNREACHABLE',
      `Redis (${describeRedis(settings)}) is not reachable: ${(error as Error).message}.`,
      {
        hint: 'Check REDIS_URL (or REDIS_SENTINELS / REDIS_CLUSTER_NODES) and that Redis is running.',
        cause: error,
      },
    );
  } finally {
    clearTimeout(timer);
  }
}
