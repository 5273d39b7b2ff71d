// The API server and the registry are paced apart: a 429 storm on one side halves (and, with Retry-After,
// pauses) that side only, while the other goes on at full speed. The storms come from TLS proxies in front
// of the simulator's API server and its registry route, so the pruner's real clients meet real answers.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ClusterClient,
  RegistryPushError,
  createPruneRegistry,
  pruneClusterOf,
  type ClientPruneRegistry,
} from '@registry-push/core';
import { createRateLimiters, throttledCluster, throttledRegistry } from '../src/limiter.js';
import { loadSettings } from '../src/settings.js';
import type { RunRecord } from '../src/store/run-store.js';
import { digest } from './support/objects.js';
import { killAll, runCli, startWorkerProcess, type WorkerProcess } from './support/processes.js';
import { startTlsFaultProxy, type InjectedAnswer, type TlsFaultProxy } from './support/tls-fault-proxy.js';
import { pushGenerations, root, startWorld, type World } from './support/world.js';

let world: World;
let apiProxy: TlsFaultProxy;
let registryProxy: TlsFaultProxy;
let registryClient: ClientPruneRegistry | undefined;
const workers: WorkerProcess[] = [];

/** What the proxies refuse now. */
const storm = { api: false, registry: false, registryDeletes: 0 };

const REGISTRY_429: InjectedAnswer = {
  status: 429,
  headers: { 'retry-after': '5' },
  body: JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] }),
};

const API_429: InjectedAnswer = {
  status: 429,
  body: JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Failure',
    reason: 'TooManyRequests',
    message: 'Too many requests, please try again later.',
    code: 429,
  }),
};

const kubeadminToken = (): string => world.cluster.users.kubeadmin!.token;

describe.runIf(root)('API and registry rates', () => {
  beforeAll(async () => {
    world = await startWorld(['storm']);
    await world.setPruner({ keepTagRevisions: 1, keepYoungerThanDuration: '0s' });
    const api = new URL(world.cluster.apiServer);
    apiProxy = await startTlsFaultProxy({
      names: ['127.0.0.1'],
      target: api.host,
      targetCaPem: world.cluster.apiCaPem,
      plan: ({ method, path }) =>
        storm.api && method === 'GET' && path.startsWith('/apis/image.openshift.io/v1/images/')
          ? API_429
          : undefined,
    });
    registryProxy = await startTlsFaultProxy({
      names: [world.host],
      target: world.cluster.routerAddress,
      targetCaPem: world.cluster.ingressCaPem,
      targetServername: world.host,
      plan: ({ method }) => {
        if (method !== 'DELETE') return undefined;
        if (storm.registry) return REGISTRY_429;
        if (storm.registryDeletes > 0) {
          storm.registryDeletes--;
          return { ...REGISTRY_429, headers: { 'retry-after': '1' } };
        }
        return undefined;
      },
    });
  }, 120_000);

  afterEach(async () => {
    storm.api = false;
    storm.registry = false;
    storm.registryDeletes = 0;
    for (const w of workers.splice(0)) {
      w.kill('SIGTERM');
      await w.exited;
    }
  });

  afterAll(async () => {
    killAll();
    await registryClient?.close();
    await Promise.allSettled([apiProxy?.stop(), registryProxy?.stop()]);
    await world?.stop();
  });

  it('keeps API calls at full speed through a registry 429 storm, and registry calls through an API one', async () => {
    const limiters = createRateLimiters(loadSettings({}));
    expect([limiters.api.rate, limiters.registry.rate]).toEqual([100, 1000]);
    registryClient = createPruneRegistry({
      host: world.host,
      caPem: registryProxy.caPem,
      connectTo: registryProxy.address,
      credentials: { kind: 'bearer', token: kubeadminToken() },
    });
    const registry = throttledRegistry(registryClient, limiters.registry);
    const cluster = throttledCluster(
      pruneClusterOf(
        ClusterClient.fromOptions({
          server: `https://${apiProxy.address}`,
          token: kubeadminToken(),
          caPem: apiProxy.caPem,
        }),
      ),
      limiters.api,
    );
    const missing = digest('never-pushed');

    // The registry answers 429 with Retry-After: 5 s.
    storm.registry = true;
    const refused = await registry.deleteBlob(missing).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RegistryPushError);
    expect((refused as RegistryPushError).code).toBe('REGISTRY_RATE_LIMITED');
    expect((refused as RegistryPushError).details['retryAfterMs']).toBe(5000);
    const refusedAt = registryProxy.log.filter((r) => r.injected === 429).at(-1)!.at;
    expect(limiters.registry.rate).toBe(500);
    expect(limiters.registry.pausedUntil).toBeGreaterThan(Date.now() + 2000);
    expect(limiters.api.rate).toBe(100);

    // API calls go on at once while registry calls wait out the Retry-After.
    for (let i = 0; i < 5; i++) expect(await cluster.getImage(missing)).toBeUndefined();
    expect(Date.now()).toBeLessThan(limiters.registry.pausedUntil);
    storm.registry = false;
    // The registry answers a blob delete with 204 whether or not the blob exists, as OpenShift's does.
    expect(await registry.deleteBlob(missing)).toBe('deleted');
    const next = registryProxy.log.filter((r) => r.method === 'DELETE' && r.injected === undefined).at(-1)!;
    // Timers may fire a millisecond early; the pause itself is 5 s.
    expect(next.at - refusedAt).toBeGreaterThanOrEqual(4900);
    expect(limiters.api.rate).toBe(100);

    // The API answers 429 until its pace is at the floor (2/s); the registry keeps its own pace.
    storm.api = true;
    const registryRate = limiters.registry.rate;
    for (let i = 0; i < 6; i++) {
      const error = await cluster.getImage(missing).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RegistryPushError);
      expect((error as RegistryPushError).details['status']).toBe(429);
    }
    expect(limiters.api.rate).toBe(2);
    expect(limiters.registry.rate).toBe(registryRate);
    // 20 registry calls: well under a second at the registry's pace, ten seconds at the API's floor.
    const start = Date.now();
    for (let i = 0; i < 20; i++) expect(await registry.deleteBlob(missing)).toBe('deleted');
    expect(Date.now() - start).toBeLessThan(6000);
    expect(limiters.api.rate).toBe(2);
  }, 120_000);

  it('a worker backs off the registry alone on its 429s, waits out Retry-After, and shows both rates', async () => {
    const images = await pushGenerations(world, 'storm', 'storm');
    // The first three registry deletes are refused with Retry-After: 1.
    storm.registryDeletes = 3;
    const env = world.env({
      PRUNER_REGISTRY_CONNECT_TO: registryProxy.address,
      PRUNER_REGISTRY_CA_FILE: join(world.work, 'registry-proxy-ca.crt'),
    });
    await writeFile(env.PRUNER_REGISTRY_CA_FILE!, registryProxy.caPem);
    const w1 = startWorkerProcess('w1', env);
    workers.push(w1);
    const port = await w1.port();
    const run = await runCli(['enqueue', '--confirm', '--wait', '--output', 'json'], env, 120_000);
    expect(run.code, run.stderr + run.stdout).toBe(0);
    const { run: record } = JSON.parse(run.stdout) as { run: RunRecord };
    expect(record.status).toBe('succeeded');
    expect(await world.imageExists(images[0]!.digest)).toBe(false);
    expect(registryProxy.log.filter((r) => r.injected === 429).length).toBeGreaterThanOrEqual(3);

    const rateChanges = w1.logs.filter((line) => line.msg === 'call rate changed');
    expect(rateChanges.some((line) => line.side === 'registry' && line.reason === 'throttled')).toBe(true);
    expect(rateChanges.filter((line) => line.side !== 'registry')).toEqual([]);
    expect(
      w1.logs.some(
        (line) => line.msg === 'calls paused (Retry-After)' && line.side === 'registry' && line.ms === 1000,
      ),
    ).toBe(true);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/registry_pruner_call_rate_limit\{side="api"\} 100\n/);
    const registryRate = Number(
      /registry_pruner_call_rate_limit\{side="registry"\} (\S+)/.exec(metrics)?.[1],
    );
    expect(registryRate).toBeGreaterThanOrEqual(10);
    expect(registryRate).toBeLessThan(1000);

    // The run record keeps the run's progress.
    expect(record.progress).toMatchObject({
      unitsTotal: record.units,
      unitsDone: record.units,
      unitsFailed: 0,
      itemsFailed: 0,
    });
    expect(record.progress!.itemsDeleted).toBeGreaterThan(0);
    expect(record.progress!.bytesFreed).toBe(record.summary!.bytesFreed);
  }, 180_000);
});
