import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { redisPing, runningServicePids, startRedis, type RunningRedis } from '../src/index.js';
import { isAlive } from './helpers.js';

describe('startRedis', () => {
  let redis: RunningRedis | undefined;
  afterEach(async () => {
    await redis?.stop();
    redis = undefined;
  });

  it('serves real commands on a loopback port and keeps nothing on disk', async () => {
    redis = await startRedis();
    expect(redis.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await client.connect();
      expect(await client.ping()).toBe('PONG');
      await client.set('greeting', 'hello');
      expect(await client.get('greeting')).toBe('hello');
      expect(await client.config('GET', 'save')).toEqual(['save', '']);
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'no']);
      expect(await client.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
      expect(await client.config('GET', 'bind')).toEqual(['bind', '127.0.0.1']);
    } finally {
      client.disconnect();
    }
  });

  it('stops by PID and leaves no process or listener behind', async () => {
    const started = await startRedis();
    const { pid, port } = started;
    expect(isAlive(pid)).toBe(true);
    expect(runningServicePids()).toContain(pid);
    await started.stop();
    expect(isAlive(pid)).toBe(false);
    expect(runningServicePids()).not.toContain(pid);
    expect(await redisPing(port, 300)).toBe(false);
    await started.stop(); // a second stop is harmless
  });

  it('runs two servers side by side on different ports', async () => {
    const a = await startRedis();
    try {
      redis = await startRedis();
      expect(redis.port).not.toBe(a.port);
      expect(await redisPing(a.port)).toBe(true);
      expect(await redisPing(redis.port)).toBe(true);
    } finally {
      await a.stop();
    }
  });
});
