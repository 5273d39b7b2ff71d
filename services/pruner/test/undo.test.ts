// The undo window against the simulator, its registry and a real Redis: a confirmed full run with a window
// removes metadata only and records it; `restore` puts back a whole run, one image or one tag, merging with
// what was pushed since, and every restored image pulls byte for byte; when the window ends the registry
// phase deletes what a one-phase run deletes; a kill -9 in the registry phase or in a restore resumes.
import { spawn } from 'node:child_process';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BuiltImage } from '@registry-push/testkit';
import type { RestoreReport } from '@registry-push/core';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { StatusReport } from '../src/client.js';
import { jobIds } from '../src/jobs.js';
import { createStreams } from './support/objects.js';
import { killAll, runCli, WorkerSet, type WorkerProcess } from './support/processes.js';
import { eventReasons, prune, pulls } from './support/undo.js';
import { pushGenerations, root, startWorld, type World } from './support/world.js';

let world: World;
/** What the one-phase run deleted of its namespace's images, by kind. */
let zeroDeleted: Record<string, number> = {};
const workers = new WorkerSet();
const worker = (name: string, env: Record<string, string>): WorkerProcess => workers.start(name, env);
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');

interface Restored extends RestoreReport {
  code: number;
}

async function restore(env: Record<string, string>, args: string[]): Promise<Restored> {
  const result = await runCli(['restore', ...args, '--output', 'json'], env);
  expect(result.stderr).not.toContain('Error:');
  return { ...(JSON.parse(result.stdout) as RestoreReport), code: result.code };
}

/** Storage files of one repository and of the blobs, relative, with the namespace made generic. */
async function files(): Promise<Set<string>> {
  return new Set(
    (await world.storageFiles()).map((file) => relative(world.cluster.registryStorageDir, file)),
  );
}

/** What kind of storage file a path is, for comparing two runs on different images. */
function kindOf(path: string): string {
  if (path.includes('/_layers/')) return 'layer-link';
  if (path.includes('/_manifests/revisions/')) return 'manifest-link';
  if (path.includes('/_manifests/tags/')) return 'tag';
  if (path.includes('/blobs/')) return 'blob';
  return 'other';
}

/**
 * What a run deleted of one namespace's images, by kind: their blobs, and the links of its repository. (The
 * tests share one cluster, and every run prunes all of it.)
 */
function deletedKinds(
  before: Set<string>,
  after: Set<string>,
  namespace: string,
  images: readonly BuiltImage[],
): Record<string, number> {
  const digests = new Set(
    images.flatMap((image) => {
      const manifest = image.manifests[0]!;
      return [image.digest, manifest.config.digest, ...manifest.layers.map((layer) => layer.digest)];
    }),
  );
  const counts: Record<string, number> = {};
  for (const path of before) {
    if (after.has(path)) continue;
    if (path.includes('/repositories/') && !path.includes(`/repositories/${namespace}/`)) continue;
    const blob = /\/blobs\/sha256\/[0-9a-f]{2}\/([0-9a-f]{64})\//.exec(path);
    if (blob !== null && !digests.has(`sha256:${blob[1]}`)) continue;
    counts[kindOf(path)] = (counts[kindOf(path)] ?? 0) + 1;
  }
  return counts;
}

function added(before: Set<string>, after: Set<string>): string[] {
  return [...after].filter((path) => !before.has(path));
}

function removed(before: Set<string>, after: Set<string>): string[] {
  return [...before].filter((path) => !after.has(path));
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Ends a run's undo window now, as its end does: the registry phase is the run's job delayed by the window,
 * and it reads nothing of the clock, so promoting it is the window running out. A test that checks what
 * happens during the window then needs no window long enough for a loaded machine, and no wait for it
 * (the SIGKILL test below keeps a window that ends by itself).
 */
async function endWindow(env: Record<string, string>, runId: string): Promise<void> {
  const connection = new Redis(world.redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue(env['PRUNER_QUEUE']!, { connection, prefix: '{registry-pruner}' });
  try {
    // Finalize opens the window just after it records the run as succeeded.
    const job = await until(
      'the registry phase job',
      async () => (await queue.getJob(jobIds.registry(runId))) ?? undefined,
    );
    expect(await job.getState()).toBe('delayed');
    await job.promote();
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

describe.runIf(root)('the undo window', () => {
  beforeAll(async () => {
    world = await startWorld(['undo', 'moved', 'zero', 'late', 'kept', 'lost', 'killed', 'rkill', 'meta']);
    await world.setPruner({ keepTagRevisions: 1, keepYoungerThanDuration: '0s' });
  }, 120_000);

  afterEach(() => workers.stopAll('SIGTERM'));

  afterAll(async () => {
    killAll();
    await world?.stop();
  });

  it('removes metadata only, then restores one image, one tag and the whole run; each pulls byte for byte', async () => {
    const [g1, g2, g3] = await pushGenerations(world, 'undo', 'undo');
    const o1 = await world.build('undo-o1', 'undo-o1', 1);
    const o2 = await world.build('undo-o2', 'undo-o2', 1);
    await world.push(o1, 'undo/app:other');
    await world.push(o2, 'undo/app:other');
    const env = world.env({ PRUNER_UNDO_WINDOW: '1h' });
    const w = worker('undo', env);
    const port = await w.port();
    const before = await files();
    const runId = await prune(env);
    // The metadata went; every byte of the registry is still there.
    expect(await world.history('undo', 'app')).toEqual({ latest: [g3!.digest], other: [o2.digest] });
    for (const gone of [g1!, g2!, o1]) expect(await world.imageExists(gone.digest)).toBe(false);
    expect(removed(before, await files())).toEqual([]);
    const report = JSON.parse((await runCli(['status', '--output', 'json'], env)).stdout) as StatusReport;
    expect(report.undoWindows.map((head) => [head.runId, head.state])).toEqual([[runId, 'open']]);
    expect(Date.parse(report.undoWindows[0]!.registryAt!) - Date.now()).toBeGreaterThan(50 * 60_000);
    expect(report.undoWindows[0]!.bytesPending).toBeGreaterThan(0);
    expect((await runCli(['status'], env)).stdout).toContain(
      `in undo window (registry-pruner restore RUN):\n  ${runId} full`,
    );

    // A dry run changes nothing.
    const dry = await restore(env, [runId, '--dry-run']);
    expect(dry.counts).toEqual({ 'would-restore': 6 });
    expect(await world.imageExists(g1!.digest)).toBe(false);

    // One image: the Image and its history item, at its old place.
    const one = await restore(env, [runId, '--image', g1!.digest]);
    expect(one.code).toBe(0);
    expect(one.items.map((item) => [item.kind, item.outcome])).toEqual([
      ['image', 'restored'],
      ['tag-history', 'restored'],
    ]);
    expect(await world.history('undo', 'app')).toEqual({
      latest: [g3!.digest, g1!.digest],
      other: [o2.digest],
    });
    await pulls(world, 'undo', g1!);

    // One tag: its items and their Images.
    const tag = await restore(env, [runId, '--stream', 'undo/app:other']);
    expect(tag.items.map((item) => [item.kind, item.target, item.outcome])).toEqual([
      ['image', o1.digest, 'restored'],
      ['tag-history', `undo/app:other@${o1.digest}`, 'restored'],
    ]);
    expect(await world.history('undo', 'app')).toEqual({
      latest: [g3!.digest, g1!.digest],
      other: [o2.digest, o1.digest],
    });
    await pulls(world, 'undo', o1);

    // The whole run: the rest comes back, what is back already is reported so.
    const whole = await restore(env, [runId]);
    expect(whole.counts).toEqual({ restored: 2, 'already-there': 4 });
    expect(await world.history('undo', 'app')).toEqual({
      latest: [g3!.digest, g2!.digest, g1!.digest],
      other: [o2.digest, o1.digest],
    });
    await pulls(world, 'undo', g2!);
    await pulls(world, 'undo', g3!, 'latest');
    await pulls(world, 'undo', o2, 'other');
    // Again: nothing to do.
    expect((await restore(env, [runId])).counts).toEqual({ 'already-there': 6 });
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/registry_pruner_undo_runs_in_window 1/);
    expect(metrics).toMatch(/registry_pruner_undo_bytes_pending_deletion [1-9]/);
    expect(metrics).toMatch(/registry_pruner_undo_restored_objects\{outcome="restored"\} 6/);
    expect(await eventReasons(world, runId)).toEqual(
      expect.arrayContaining(['PruneRunSucceeded', 'PruneUndoWindowOpen', 'PruneRunRestored']),
    );
  }, 300_000);

  it('keeps the new head of a tag pushed during the window and puts the old items behind it', async () => {
    const [g1, g2, g3] = await pushGenerations(world, 'moved', 'moved');
    const env = world.env({ PRUNER_UNDO_WINDOW: '1h' });
    worker('moved', env);
    const runId = await prune(env);
    expect(await world.history('moved', 'app')).toEqual({ latest: [g3!.digest] });
    const g4 = await world.build('moved-4', 'moved-4', 2);
    await world.push(g4, 'moved/app:latest');
    const whole = await restore(env, [runId, '--stream', 'moved/app']);
    expect(whole.counts).toEqual({ restored: 4 });
    expect(await world.history('moved', 'app')).toEqual({
      latest: [g4.digest, g3!.digest, g2!.digest, g1!.digest],
    });
    await pulls(world, 'moved', g4, 'latest');
    for (const image of [g1!, g2!, g3!]) await pulls(world, 'moved', image);
  }, 300_000);

  it('deletes from the registry when the window ends exactly what a one-phase run (window 0) deletes; a restore is then too late', async () => {
    // Window 0: today's one-phase run, no record.
    const zeroImages = await pushGenerations(world, 'zero', 'zero');
    const zeroEnv = world.env();
    worker('zero', zeroEnv);
    const beforeZero = await files();
    const zeroRun = await prune(zeroEnv);
    zeroDeleted = deletedKinds(beforeZero, await files(), 'zero', zeroImages);
    expect(zeroDeleted['blob']).toBeGreaterThan(0);
    const none = await runCli(['restore', zeroRun], zeroEnv);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('[PRUNER_UNDO_RECORD_MISSING]');
    await workers.stopAll('SIGTERM');

    // A window: metadata now, the registry when it ends.
    const lateImages = await pushGenerations(world, 'late', 'late');
    const [l1, l2, l3] = lateImages;
    const env = world.env({ PRUNER_UNDO_WINDOW: '1h' });
    const w = worker('late', env);
    const before = await files();
    const runId = await prune(env);
    expect(removed(before, await files())).toEqual([]);
    await endWindow(env, runId);
    await w.waitForLog((line) => line.msg === 'registry phase done' && line.runId === runId, 90_000);
    const after = await files();
    expect(deletedKinds(before, after, 'late', lateImages)).toEqual(zeroDeleted);
    expect(added(before, after)).toEqual([]);
    for (const gone of [l1!, l2!]) {
      expect(await world.imageExists(gone.digest)).toBe(false);
      expect(await world.blobExists(gone.digest)).toBe(false);
    }
    await pulls(world, 'late', l3!, 'latest');
    expect(await eventReasons(world, runId)).toEqual(
      expect.arrayContaining(['PruneUndoWindowOpen', 'PruneRegistryPhaseDone']),
    );
    const late = await restore(env, [runId, '--stream', 'late/app']);
    expect(late.code).toBe(1);
    expect(late.counts).toEqual({ 'too-late': 4 });
    expect(await world.imageExists(l1!.digest)).toBe(false);
  }, 400_000);

  it('records a metadata-mode run too: its window never closes, and restore puts it back', async () => {
    const streams = await createStreams(world.admin, 'meta', 2, 3);
    const env = world.env({ PRUNER_MODE: 'metadata', PRUNER_UNDO_WINDOW: '1s' });
    worker('meta', env);
    const runId = await prune(env);
    for (const [name, images] of Object.entries(streams)) {
      expect(await world.history('meta', name)).toEqual({ latest: [images[0]] });
      expect(await world.imageExists(images[2]!)).toBe(false);
    }
    // Well past its "window": nothing is ever deleted from the registry in metadata mode.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const report = JSON.parse((await runCli(['status', '--output', 'json'], env)).stdout) as StatusReport;
    expect(report.undoWindows.map((head) => [head.runId, head.mode, head.state])).toEqual([
      [runId, 'metadata', 'open'],
    ]);
    const restored = await restore(env, [runId, '--stream', 'meta/app0']);
    expect(restored.counts).toEqual({ restored: 4 });
    expect(await world.history('meta', 'app0')).toEqual({ latest: streams['app0'] });
    expect(await world.history('meta', 'app1')).toEqual({ latest: [streams['app1']![0]] });
  }, 300_000);

  it('keeps what was restored during the window when the registry phase runs', async () => {
    const [k1, k2, k3] = await pushGenerations(world, 'kept', 'kept');
    const env = world.env({ PRUNER_UNDO_WINDOW: '1h' });
    const w = worker('kept', env);
    const runId = await prune(env);
    expect((await restore(env, [runId, '--image', k1!.digest])).counts).toEqual({ restored: 2 });
    await endWindow(env, runId);
    await w.waitForLog((line) => line.msg === 'registry phase done' && line.runId === runId, 90_000);
    expect(await world.history('kept', 'app')).toEqual({ latest: [k3!.digest, k1!.digest] });
    await pulls(world, 'kept', k1!);
    for (const blob of [k1!.manifests[0]!.config.digest, ...k1!.manifests[0]!.layers.map((l) => l.digest)]) {
      expect(await world.blobExists(blob)).toBe(true);
      expect(await world.linkExists('kept', 'app', blob)).toBe(true);
    }
    expect(await world.imageExists(k2!.digest)).toBe(false);
    expect(await world.blobExists(k2!.digest)).toBe(false);
  }, 300_000);

  it('refuses the registry phase when Redis lost the record, and deletes nothing', async () => {
    const images = await pushGenerations(world, 'lost', 'lost');
    const env = world.env({ PRUNER_UNDO_WINDOW: '1h' });
    const w = worker('lost', env);
    const before = await files();
    const runId = await prune(env);
    // What a Redis restart without persistence does to the record (the queue's delayed job survives here).
    const redis = new Redis(world.redis.url);
    try {
      const keys = await redis.keys(`{registry-pruner}:${env['PRUNER_QUEUE']}:pruner:undo:${runId}:records`);
      expect(keys).toHaveLength(1);
      await redis.del(...keys);
    } finally {
      redis.disconnect();
    }
    await endWindow(env, runId);
    const refused = await w.waitForLog((line) => line.msg === 'registry phase refused', 90_000);
    expect(refused).toMatchObject({ runId, code: 'PRUNER_UNDO_RECORD_MISSING' });
    expect(deletedKinds(before, await files(), 'lost', images)).toEqual({});
    expect(await eventReasons(world, runId)).toContain('PruneRegistryPhaseRefused');
    const restored = await runCli(['restore', runId], env);
    expect(restored.code).toBe(1);
    expect(restored.stderr).toContain('[PRUNER_UNDO_RECORD_MISSING]');
  }, 300_000);

  it('resumes a registry phase killed with SIGKILL and ends as an uninterrupted one', async () => {
    const images = await pushGenerations(world, 'killed', 'killed');
    const env = world.env({ PRUNER_UNDO_WINDOW: '3s' });
    const w1 = worker('killed-1', { ...env, PRUNER_FAILPOINT: 'registry-delete' });
    await w1.port();
    const before = await files();
    const runId = await prune(env);
    await w1.waitForLog((line) => line.failpoint === 'registry-delete', 60_000);
    expect(w1.logs.some((line) => line.msg === 'registry phase started')).toBe(true);
    w1.kill('SIGKILL');
    await w1.exited;
    workers.forget(w1);
    const w2 = worker('killed-2', env);
    await w2.waitForLog((line) => line.msg === 'registry phase done' && line.runId === runId, 90_000);
    expect(w2.logs.some((line) => line.msg === 'registry phase resumed')).toBe(true);
    // The same deletions as the one-phase run of the same shape in the test before.
    expect(zeroDeleted['blob']).toBeGreaterThan(0);
    expect(deletedKinds(before, await files(), 'killed', images)).toEqual(zeroDeleted);
    const report = JSON.parse((await runCli(['status', '--output', 'json'], env)).stdout) as StatusReport;
    expect(report.undoWindows).toEqual([]);
  }, 300_000);

  it('finishes a restore killed with SIGKILL when it is run again', async () => {
    const [g1, g2, g3] = await pushGenerations(world, 'rkill', 'rkill');
    const env = world.env({ PRUNER_UNDO_WINDOW: '1h' });
    worker('rkill', env);
    const runId = await prune(env);
    // Killed after the Images are back, before the history write.
    const child = spawn(process.execPath, [CLI, 'restore', runId, '--stream', 'rkill/app'], {
      env: { PATH: process.env.PATH ?? '', ...env, PRUNER_FAILPOINT: 'restore-history' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await until('the restore failpoint', () =>
      Promise.resolve(stderr.includes('failpoint reached') ? true : undefined),
    );
    process.kill(child.pid!, 'SIGKILL');
    await exited;
    expect(await world.imageExists(g1!.digest)).toBe(true);
    expect(await world.history('rkill', 'app')).toEqual({ latest: [g3!.digest] });
    const again = await restore(env, [runId, '--stream', 'rkill/app']);
    expect(again.counts).toEqual({ 'already-there': 2, restored: 2 });
    expect(await world.history('rkill', 'app')).toEqual({ latest: [g3!.digest, g2!.digest, g1!.digest] });
    for (const image of [g1!, g2!]) await pulls(world, 'rkill', image);
  }, 300_000);
});
