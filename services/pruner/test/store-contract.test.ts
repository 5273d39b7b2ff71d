// The store contract (`store-contract.ts`) against both implementations: in memory, its clock moved by the
// test, and Redis on a real redis-server, where time is moved by shortening the TTL of every key the test's
// queue has (what would have expired by then is deleted), as if that time had passed.
import { randomUUID } from 'node:crypto';
import { startRedis, type RunningRedis } from '@registry-push/testkit';
import { afterAll, beforeAll, describe } from 'vitest';
import { connectRedis, type RedisConnection } from '../src/redis.js';
import { MemoryRunStore } from '../src/store/memory-run-store.js';
import { MemoryUndoStore } from '../src/store/memory-undo-store.js';
import { RedisRunStore } from '../src/store/redis-run-store.js';
import { RedisUndoStore } from '../src/store/redis-undo-store.js';
import { storeContract } from './store-contract.js';

storeContract('in memory', () => {
  let now = Date.UTC(2026, 0, 1);
  const clock = (): number => now;
  // One process: the second worker's handle is the same object.
  const runs = new MemoryRunStore({ now: clock });
  const undo = new MemoryUndoStore({ now: clock });
  return Promise.resolve({
    runs,
    otherRuns: runs,
    undo,
    otherUndo: undo,
    advance: (ms) => {
      now += ms;
      return Promise.resolve();
    },
  });
});

/** Moves time on by `ms` for the keys matching `pattern`: each TTL shortened by it, or the key deleted. */
async function elapse(connection: RedisConnection, pattern: string, ms: number): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await connection.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const ttl = await connection.pttl(key);
      if (ttl < 0) continue;
      if (ttl <= ms) await connection.del(key);
      else await connection.pexpire(key, ttl - ms);
    }
  } while (cursor !== '0');
}

describe('redis', () => {
  let redis: RunningRedis;
  // Two workers: two connections onto the same keys.
  let first: RedisConnection;
  let second: RedisConnection;

  beforeAll(async () => {
    redis = await startRedis();
    first = connectRedis({ url: redis.url }, 'client');
    second = connectRedis({ url: redis.url }, 'client');
  });

  afterAll(async () => {
    await first?.quit();
    await second?.quit();
    await redis?.stop();
  });

  storeContract('redis', () => {
    // A queue of its own per test: an empty store.
    const queue = `q-${randomUUID().slice(0, 8)}`;
    return Promise.resolve({
      runs: new RedisRunStore(first, '{test}', queue),
      otherRuns: new RedisRunStore(second, '{test}', queue),
      undo: new RedisUndoStore(first, '{test}', queue),
      otherUndo: new RedisUndoStore(second, '{test}', queue),
      advance: (ms) => elapse(first, `{test}:${queue}:pruner:*`, ms),
    });
  });
});
