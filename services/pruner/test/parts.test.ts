// The service's pure parts: batching of linked image units, the adaptive rate limiter, reading unit
// results, run ids, the CR's defaults, settings and log redaction.
import { closeSync, openSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { RegistryPushError, type ImageUnit, type UnitResult } from '@registry-push/core';
import { linkedGroups } from '@registry-push/core';
import { imageBatches } from '../src/batches.js';
import { prunerConfigOf } from '../src/cluster.js';
import { PRUNER_ERROR_CODES, describeError, isTransient } from '../src/errors.js';
import { runIdOf } from '../src/jobs.js';
import { AdaptiveRateLimiter } from '../src/limiter.js';
import { createLogger } from '../src/logger.js';
import { assembleResult, failureKind, streamSettled } from '../src/results.js';
import { loadSettings, redactedRedisUrl } from '../src/settings.js';
import type { StoredPlan } from '../src/store/run-store.js';

const image = (digest: string, shared: string[] = [], parents: string[] = []): ImageUnit => ({
  type: 'image',
  id: `image/${digest}`,
  digest,
  dependsOn: [],
  parents,
  blobs: [{ digest: `blob-${digest}`, size: 1, sharedWith: shared }],
});

const item = (
  kind: UnitResult['items'][number]['kind'],
  outcome: UnitResult['items'][number]['outcome'],
  code?: string,
): UnitResult['items'][number] => ({
  unit: 'u',
  kind,
  target: 't',
  outcome,
  attempts: 1,
  bytes: 0,
  at: '2026-01-01T00:00:00Z',
  ...(code !== undefined ? { error: { code, message: code } } : {}),
});

describe('image batches', () => {
  it('keeps units linked by shared blobs or list parents together, in plan order', () => {
    const units = [
      image('a', ['c']),
      image('b'),
      image('c', ['a']),
      image('d', [], ['e']),
      image('e'),
      image('f'),
    ];
    expect(linkedGroups(units).map((g) => g.map((u) => u.digest))).toEqual([
      ['a', 'c'],
      ['b'],
      ['d', 'e'],
      ['f'],
    ]);
    expect(imageBatches(units, 3)).toEqual([
      ['image/a', 'image/b', 'image/c'],
      ['image/d', 'image/e', 'image/f'],
    ]);
    // A group larger than the batch size stays whole.
    expect(imageBatches([image('x', ['y', 'z']), image('y'), image('z')], 1)).toEqual([
      ['image/x', 'image/y', 'image/z'],
    ]);
    expect(imageBatches([], 5)).toEqual([]);
  });
});

describe('adaptive rate limiter', () => {
  it('halves on 429/5xx down to the floor and climbs back after successes', async () => {
    const limiter = new AdaptiveRateLimiter({ ratePerSecond: 40, minRatePerSecond: 4, recoverAfter: 2 });
    const overloaded = new RegistryPushError('REGISTRY_UNAVAILABLE', 'busy', { retryable: true });
    for (let i = 0; i < 5; i++)
      await expect(limiter.run(() => Promise.reject(overloaded))).rejects.toBe(overloaded);
    expect(limiter.rate).toBe(4);
    const apiOverloaded = new RegistryPushError('API_ERROR', 'slow down', {
      retryable: true,
      details: { status: 429 },
    });
    await expect(limiter.run(() => Promise.reject(apiOverloaded))).rejects.toBe(apiOverloaded);
    expect(limiter.rate).toBe(4);
    for (let i = 0; i < 4; i++) await limiter.run(() => Promise.resolve(1));
    expect(limiter.rate).toBe(6);
    // A refusal is not overload: the rate does not drop.
    await expect(limiter.run(() => Promise.reject(new RegistryPushError('FORBIDDEN', 'no')))).rejects.toThrow(
      'no',
    );
    expect(limiter.rate).toBe(6);
  });

  it('holds every call for a Retry-After, also calls already waiting for their slot, up to its cap', async () => {
    const pauses: number[] = [];
    const limiter = new AdaptiveRateLimiter({
      ratePerSecond: 4,
      minRatePerSecond: 1,
      maxPauseMs: 600,
      onPause: (ms) => pauses.push(ms),
    });
    const limited = new RegistryPushError('REGISTRY_RATE_LIMITED', 'slow down', {
      retryable: true,
      details: { status: 429, retryAfterMs: 60_000 },
    });
    const start = Date.now();
    await limiter.acquire();
    // The 429 comes in the slot at 250 ms; the call after it, already waiting for its slot at 500 ms when the
    // pause begins, waits for the end of the pause (250 + 600 ms) too.
    const refused = limiter.run(() => Promise.reject(limited));
    const waiting = limiter.acquire().then(() => Date.now() - start);
    await expect(refused).rejects.toBe(limited);
    expect(pauses).toEqual([600]);
    expect(limiter.rate).toBe(2);
    expect(await waiting).toBeGreaterThanOrEqual(800);
    // A refusal without Retry-After, or one that is not overload, pauses nothing.
    const busy = new RegistryPushError('REGISTRY_UNAVAILABLE', 'busy', { retryable: true });
    await expect(limiter.run(() => Promise.reject(busy))).rejects.toBe(busy);
    const denied = new RegistryPushError('REGISTRY_DENIED', 'no', { details: { retryAfterMs: 5000 } });
    await expect(limiter.run(() => Promise.reject(denied))).rejects.toBe(denied);
    expect(pauses).toEqual([600]);
  });

  it('paces calls to the rate', async () => {
    const limiter = new AdaptiveRateLimiter({ ratePerSecond: 20, minRatePerSecond: 1 });
    const start = Date.now();
    await Promise.all(Array.from({ length: 6 }, () => limiter.acquire()));
    expect(Date.now() - start).toBeGreaterThanOrEqual(240);
  });
});

describe('unit results', () => {
  it('tells settled streams, kept images and the kind of failures', () => {
    expect(streamSettled(undefined)).toBe(false);
    expect(streamSettled({ unit: 's', status: 'done', items: [item('stream-update', 'updated')] })).toBe(
      true,
    );
    expect(streamSettled({ unit: 's', status: 'done', items: [item('stream-update', 'absent')] })).toBe(true);
    expect(streamSettled({ unit: 's', status: 'skipped', items: [item('stream-update', 'skipped')] })).toBe(
      false,
    );
    expect(
      streamSettled({ unit: 's', status: 'failed', items: [item('stream-update', 'failed', 'FORBIDDEN')] }),
    ).toBe(false);
    expect(failureKind({ unit: 'i', status: 'done', items: [item('image', 'deleted')] })).toBe('none');
    expect(
      failureKind({
        unit: 'i',
        status: 'failed',
        items: [item('blob', 'failed', 'REGISTRY_UNAVAILABLE'), item('image', 'failed', 'TIMEOUT')],
      }),
    ).toBe('transient');
    expect(
      failureKind({
        unit: 'i',
        status: 'failed',
        items: [item('blob', 'failed', 'REGISTRY_UNAVAILABLE'), item('image', 'failed', 'FORBIDDEN')],
      }),
    ).toBe('permanent');
    expect(isTransient(new RegistryPushError('CLUSTER_UNREACHABLE', 'x', { retryable: true }))).toBe(true);
    expect(isTransient(new RegistryPushError('FORBIDDEN', 'x'))).toBe(false);
  });

  it('puts the result log together in plan order and reports units nobody finished as lost', () => {
    const plan = {
      id: 'p',
      mode: 'metadata',
      units: [
        {
          type: 'stream',
          id: 'stream/a/b',
          namespace: 'a',
          name: 'b',
          uid: 'u',
          removals: [],
          manifestLinks: [],
          layerLinks: [],
        },
        image('x'),
      ],
    } as unknown as StoredPlan;
    const done: UnitResult = { unit: 'image/x', status: 'done', items: [item('image', 'deleted')] };
    const result = assembleResult(plan, new Map([['image/x', { result: done, worker: 'w', at: '' }]]), {
      dryRun: false,
      startedAt: 's',
      finishedAt: 'f',
    });
    expect(result.units.map((u) => [u.unit, u.status])).toEqual([
      ['stream/a/b', 'failed'],
      ['image/x', 'done'],
    ]);
    expect(result.summary.errors).toEqual({ PRUNER_UNIT_LOST: 1 });
    expect(result.summary.counts.image).toEqual({ deleted: 1 });
  });
});

describe('run ids, the CR and settings', () => {
  it('gives a schedule slot one run id however many replicas see it', () => {
    expect(runIdOf({ id: 'repeat:registry-pruner-schedule:1767225600000', timestamp: 1 })).toBe(
      'scheduled-1767225600000',
    );
    expect(runIdOf({ id: 'manual-1-abc', timestamp: 1 })).toBe('manual-1-abc');
  });

  it("reads the ImagePruner with the operator's defaults", () => {
    expect(prunerConfigOf(undefined)).toMatchObject({
      schedule: '0 0 * * *',
      suspend: false,
      successfulHistoryLimit: 3,
      failedHistoryLimit: 3,
      found: false,
      spec: { ignoreInvalidImageReferences: true },
    });
    const config = prunerConfigOf({
      metadata: { name: 'cluster', resourceVersion: '7', generation: 2 },
      spec: { schedule: ' */5 * * * * ', suspend: true, failedJobsHistoryLimit: 1, keepTagRevisions: 5 },
    });
    expect(config).toMatchObject({
      schedule: '*/5 * * * *',
      suspend: true,
      failedHistoryLimit: 1,
      successfulHistoryLimit: 3,
      resourceVersion: '7',
      generation: 2,
      found: true,
    });
  });

  it('reads settings from the environment and names a bad one', () => {
    const settings = loadSettings({
      PRUNER_CONFIRM: 'true',
      PRUNER_MODE: 'metadata',
      REDIS_SENTINELS: 'a:26379,b:26379',
      PRUNER_POLICY: '{"tagExclude":"^keep-"}',
    });
    expect(settings).toMatchObject({
      confirm: true,
      mode: 'metadata',
      redis: {
        url: 'redis://127.0.0.1:6379',
        sentinels: [
          { host: 'a', port: 26379 },
          { host: 'b', port: 26379 },
        ],
      },
      policy: { tagExclude: '^keep-' },
      queue: 'registry-pruner',
    });
    expect(() => loadSettings({ PRUNER_CONCURRENCY: '0' })).toThrow(
      /PRUNER_CONCURRENCY must be a whole number of 1 or more/,
    );
    expect(() => loadSettings({ PRUNER_MODE: 'partial' })).toThrow(/auto, metadata or full/);
    expect(() => loadSettings({ PRUNER_POLICY: '[1]' })).toThrow(/not a JSON object/);
    expect(redactedRedisUrl('redis://user:s3cret@redis:6379/0')).toBe('redis://user:***@redis:6379/0');
    // The HTTP endpoints: loopback outside a pod, every interface in one, or what PRUNER_HTTP_HOST says.
    expect(loadSettings({}).httpHost).toBe('127.0.0.1');
    expect(loadSettings({ KUBERNETES_SERVICE_HOST: '172.30.0.1' }).httpHost).toBe('0.0.0.0');
    expect(loadSettings({ KUBERNETES_SERVICE_HOST: '172.30.0.1', PRUNER_HTTP_HOST: '::' }).httpHost).toBe(
      '::',
    );
  });

  it('paces the API and the registry apart, and still reads the old names of the API rate', () => {
    expect(loadSettings({})).toMatchObject({
      apiRate: 100,
      apiMinRate: 2,
      registryRate: 1000,
      registryMinRate: 10,
      concurrency: 16,
      registryConcurrency: 32,
    });
    const set = loadSettings({
      PRUNER_API_RATE: '20',
      PRUNER_API_MIN_RATE: '4',
      PRUNER_REGISTRY_RATE: '1000',
      PRUNER_REGISTRY_MIN_RATE: '50',
    });
    expect(set).toMatchObject({ apiRate: 20, apiMinRate: 4, registryRate: 1000, registryMinRate: 50 });
    // PRUNER_RATE / PRUNER_MIN_RATE are the old names of the API rate; the registry keeps its default.
    expect(loadSettings({ PRUNER_RATE: '30', PRUNER_MIN_RATE: '3' })).toMatchObject({
      apiRate: 30,
      apiMinRate: 3,
      registryRate: 1000,
      registryMinRate: 10,
    });
    // Both names with the same value are no contradiction.
    expect(loadSettings({ PRUNER_RATE: '30', PRUNER_API_RATE: '30' }).apiRate).toBe(30);
    // A rate below the default floor lowers the floor with it, unless a floor was given.
    expect(loadSettings({ PRUNER_REGISTRY_RATE: '5' })).toMatchObject({
      registryRate: 5,
      registryMinRate: 5,
    });
    expect(loadSettings({ PRUNER_API_RATE: '1' })).toMatchObject({ apiRate: 1, apiMinRate: 1 });
    const refused = (env: Record<string, string>): string => {
      try {
        loadSettings(env);
      } catch (error) {
        expect((error as { code?: string }).code).toBe('PRUNER_SETTING_INVALID');
        return describeError(error);
      }
      throw new Error(`accepted ${JSON.stringify(env)}`);
    };
    expect(refused({ PRUNER_API_RATE: '40', PRUNER_RATE: '30' })).toBe(
      'PRUNER_API_RATE (40) and PRUNER_RATE (30), its old name, disagree. Set only PRUNER_API_RATE (unset PRUNER_RATE). [PRUNER_SETTING_INVALID]',
    );
    expect(refused({ PRUNER_API_MIN_RATE: '4', PRUNER_MIN_RATE: '3' })).toMatch(
      /^PRUNER_API_MIN_RATE \(4\) and PRUNER_MIN_RATE \(3\), its old name, disagree\. Set only PRUNER_API_MIN_RATE/,
    );
    expect(refused({ PRUNER_RATE: '5', PRUNER_MIN_RATE: '10' })).toBe(
      'PRUNER_MIN_RATE (10) must not be above PRUNER_RATE (5). Lower PRUNER_MIN_RATE or raise PRUNER_RATE. [PRUNER_SETTING_INVALID]',
    );
    expect(refused({ PRUNER_API_MIN_RATE: '120' })).toBe(
      'PRUNER_API_MIN_RATE (120) must not be above PRUNER_API_RATE (100, the default). Lower PRUNER_API_MIN_RATE or raise PRUNER_API_RATE. [PRUNER_SETTING_INVALID]',
    );
    expect(refused({ PRUNER_REGISTRY_RATE: '100', PRUNER_REGISTRY_MIN_RATE: '200' })).toMatch(
      /^PRUNER_REGISTRY_MIN_RATE \(200\) must not be above PRUNER_REGISTRY_RATE \(100\)\./,
    );
    expect(refused({ PRUNER_REGISTRY_RATE: '0' })).toMatch(
      /^PRUNER_REGISTRY_RATE must be a whole number of 1 or more/,
    );
  });

  it('explains every error code of the service in its README', () => {
    const readme = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('### Error codes'));
    expect(PRUNER_ERROR_CODES.filter((code) => !table.includes(`| \`${code}\``))).toEqual([]);
  });

  it('never writes credentials to the log', () => {
    const file = join(tmpdir(), `pruner-log-${process.pid}.json`);
    const fd = openSync(file, 'w');
    const logger = createLogger('info', {}, fd);
    logger.info(
      {
        token: 'sha256~secret',
        registry: { credentials: { token: 'x' } },
        request: { headers: { authorization: 'Bearer y' } },
      },
      'hello',
    );
    closeSync(fd);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('"msg":"hello"');
    expect(text).not.toMatch(/secret|Bearer y|"x"/);
  });
});

describe('the command line', () => {
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return {
      out,
      err,
      io: {
        stdout: (t: string) => void out.push(t),
        stderr: (t: string) => err.push(t),
        env: { REDIS_URL: 'redis://127.0.0.1:1' },
      },
    };
  };

  it('answers usage errors with 2 and an unreachable Redis with 1 and its code', async () => {
    const { main } = await import('../src/main.js');
    const unknown = io();
    expect(await main(['prune'], unknown.io)).toBe(2);
    expect(unknown.err.join('\n')).toContain('Unknown command "prune"');
    const badFlag = io();
    expect(await main(['run', '--bogus'], badFlag.io)).toBe(2);
    expect(badFlag.err).toEqual([
      'registry-pruner run: Unknown option "--bogus". See `registry-pruner run --help`. [PRUNER_USAGE]',
    ]);
    const badOutput = io();
    expect(await main(['status', '--output', 'yaml'], badOutput.io)).toBe(2);
    const help = io();
    expect(await main(['--help'], help.io)).toBe(0);
    expect(help.out.join('\n')).toMatch(/run +plan and carry out one prune/);
    const down = io();
    expect(await main(['status'], down.io)).toBe(1);
    expect(down.err.join('\n')).toMatch(
      /Redis \(redis:\/\/127\.0\.0\.1:1\) is not reachable.*\[PRUNER_REDIS_UNREACHABLE\]/,
    );
  });
});
