// The worker against the simulator, its registry and a real Redis: runs through the queue, the schedule
// from the ImagePruner CR, one run at a time, several workers on one run, health and metrics, and clear
// failures.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Resources, type KubeObject } from '@registry-push/core';
import type { StatusReport } from '../src/client.js';
import { SUSPEND_ANNOTATION } from '../src/cluster.js';
import type { RunRecord } from '../src/store/run-store.js';
import { createStreams } from './support/objects.js';
import { killAll, runCli, startWorkerProcess, WorkerSet, type WorkerProcess } from './support/processes.js';
import { pushGenerations, root, startWorld, type World } from './support/world.js';

let world: World;
const workers = new WorkerSet();
const worker = (name: string, env: Record<string, string>): WorkerProcess => workers.start(name, env);

async function status(env: Record<string, string>): Promise<StatusReport> {
  const result = await runCli(['status', '--output', 'json'], env);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as StatusReport;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe.runIf(root)('registry-pruner worker', () => {
  beforeAll(async () => {
    world = await startWorld(['q1', 'sched', 'busy', 'shared', 'fail', 'progress']);
    await world.setPruner({ keepTagRevisions: 1, keepYoungerThanDuration: '0s' });
  });

  afterEach(() => workers.stopAll('SIGTERM'));

  afterAll(async () => {
    killAll();
    await world?.stop();
  });

  it('runs a confirmed full prune through the queue, reports it, and stops on SIGTERM with exit 0', async () => {
    const [g1, g2, g3] = await pushGenerations(world, 'q1', 'q1');
    const env = world.env();
    const w1 = worker('w1', env);
    const port = await w1.port();

    const run = await runCli(['enqueue', '--confirm', '--wait'], env);
    expect(run.code, run.stderr + run.stdout).toBe(0);
    expect(run.stdout).toMatch(/^manual-\S+ succeeded full: \d+ changed/);
    expect(run.stdout).toContain('Registry storage freed');
    expect(await world.history('q1', 'app')).toEqual({ latest: [g3!.digest] });
    for (const gone of [g1!, g2!]) {
      expect(await world.imageExists(gone.digest)).toBe(false);
      expect(await world.blobExists(gone.digest)).toBe(false);
    }
    expect(await world.blobExists(g3!.digest)).toBe(true);

    const report = await status(env);
    expect(report.schedule).toMatchObject({ active: true, pattern: '0 0 * * *', tz: 'UTC' });
    expect(report.runs[0]).toMatchObject({
      status: 'succeeded',
      trigger: 'manual',
      dryRun: false,
      mode: 'full',
    });
    expect(report.activeRun).toBeUndefined();

    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/registry_pruner_runs_total\{result="succeeded",dry_run="false"\} 1/);
    expect(metrics).toMatch(/registry_pruner_items_total\{kind="image",action="deleted",mode="full"\} 2/);
    expect(metrics).toMatch(/registry_pruner_bytes_freed_total\{mode="full"\} [1-9]/);
    expect(metrics).toMatch(/registry_pruner_last_success_timestamp_seconds 1\d{9}/);
    expect(metrics).toMatch(/registry_pruner_queue_jobs\{state="waiting"\} 0/);
    expect(metrics).toMatch(/registry_pruner_run_duration_seconds_count\{result="succeeded"\} 1/);

    // Events about the run, on the cluster-scoped ImagePruner (so in `default`, as kube requires).
    const events = await world.admin.list<
      KubeObject & { reason?: string; involvedObject?: { kind?: string } }
    >({ apiVersion: 'v1', kind: 'Event', plural: 'events', namespaced: true }, { namespace: 'default' });
    const reasons = events.filter((e) => e.involvedObject?.kind === 'ImagePruner').map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['PruneRunStarted', 'PruneRunSucceeded']));
    expect(
      w1.logs.filter((line) => String(line.msg).startsWith('Kubernetes Events cannot be recorded')),
    ).toEqual([]);

    w1.kill('SIGTERM');
    expect(await w1.exited).toBe(0);
    workers.forget(w1);
  });

  it('fires on the CR schedule, follows a changed schedule without a restart, and stops while suspended', async () => {
    // The default poll interval: a change must arrive through the watch, long before a poll would read it.
    const env = world.env({ PRUNER_CONFIG_POLL_MS: '30000' });
    const watched = 15_000;
    await world.setPruner({ schedule: '*/2 * * * * *' });
    try {
      worker('w1', env);
      const fired = await until('a scheduled run', async () =>
        (await status(env)).runs.find((r) => r.trigger === 'schedule' && r.status === 'succeeded'),
      );
      expect(fired).toMatchObject({
        dryRun: true,
        runId: expect.stringMatching(/^scheduled-\d+$/) as string,
      });

      await world.setPruner({ schedule: '30 3 * * *' });
      const moved = await until(
        'the new schedule',
        async () => {
          const report = await status(env);
          return report.schedule.pattern === '30 3 * * *' ? report : undefined;
        },
        watched,
      );
      expect(moved.schedule.next).toMatch(/T03:30:00\.000Z$/);

      await world.setPruner({ suspend: true });
      await until(
        'the suspension',
        async () => ((await status(env)).schedule.active ? undefined : true),
        watched,
      );
      const before = (await status(env)).runs.length;
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect((await status(env)).runs.length).toBe(before);
      expect((await status(env)).schedule.suspended).toBe(true);

      // The operator's CronJob stays suspended while this service runs: the annotation wins for it.
      await world.admin.mergePatch(Resources.imagePruner, 'cluster', {
        metadata: { annotations: { [SUSPEND_ANNOTATION]: 'false' } },
      });
      await until(
        'the schedule back',
        async () => ((await status(env)).schedule.active ? true : undefined),
        watched,
      );
    } finally {
      await world.setPruner({ schedule: null, suspend: null });
      await world.admin.mergePatch(Resources.imagePruner, 'cluster', {
        metadata: { annotations: { [SUSPEND_ANNOTATION]: null } },
      });
    }
    // A scheduled prune, then three watched changes: more than the default minute on a loaded 2-core machine.
  }, 180_000);

  it('starts one run at a time: a trigger while a run is in progress is reported, not started', async () => {
    await createStreams(world.admin, 'busy', 2, 2);
    const env = world.env({ PRUNER_MODE: 'metadata' });
    // The first run is held at its end until the second trigger was answered, however long a loaded
    // machine takes to start a second worker and send it (a fixed pause of 3 s, then 12 s, was too short
    // there); then its worker dies there and the second one finishes it (finalize is repeatable).
    const w1 = worker('w1', { ...env, PRUNER_FAILPOINT: 'finalize' });
    await w1.port();
    const first = await runCli(['enqueue', '--confirm'], env);
    const firstId = /Run (\S+) queued/.exec(first.stdout)?.[1];
    expect(firstId).toBeDefined();
    await w1.waitForLog((line) => line.failpoint === 'finalize');
    // A second replica takes the next trigger while the first one is still busy with the run.
    await worker('w2', env).port();

    const second = await runCli(['enqueue', '--confirm', '--wait'], env);
    expect(second.code).toBe(3);
    expect(second.stdout).toContain(`rejected: run ${firstId!} was in progress`);

    w1.kill('SIGKILL');
    await w1.exited;
    workers.forget(w1);
    const done = await until(
      'the first run',
      async () =>
        (await status(env)).runs.find((r: RunRecord) => r.runId === firstId && r.status === 'succeeded'),
      60_000,
    );
    expect(done.summary?.counts['stream-update']?.updated).toBe(2);
    const report = await status(env);
    expect(report.runs.map((r) => r.status).sort()).toEqual(['rejected', 'succeeded']);
    // A second worker, two CLI calls and a takeover: more than the default minute on a loaded machine.
  }, 180_000);

  it('lets two worker processes share one run', async () => {
    const streams = await createStreams(world.admin, 'shared', 10, 2);
    // Slow calls keep each worker busy long enough for the other to take units too.
    const env = world.env({ PRUNER_MODE: 'metadata', PRUNER_BATCH_SIZE: '2', PRUNER_RATE: '20' });
    const [w1, w2] = [worker('w1', env), worker('w2', env)];
    await Promise.all([w1.port(), w2.port()]);
    const run = await runCli(['enqueue', '--confirm', '--wait', '--output', 'json'], env);
    expect(run.code, run.stderr).toBe(0);
    const { run: record } = JSON.parse(run.stdout) as { run: RunRecord };
    expect(record.summary?.errors).toEqual({});
    const unitsBy = (w: WorkerProcess): number =>
      w.logs.filter((line) => line.msg === 'unit done' && line.runId === record.runId).length;
    expect(unitsBy(w1)).toBeGreaterThan(0);
    expect(unitsBy(w2)).toBeGreaterThan(0);
    expect(unitsBy(w1) + unitsBy(w2)).toBe(20);
    // Both workers added to the run's progress, each unit once.
    expect(record.progress).toMatchObject({
      unitsTotal: 20,
      unitsDone: 20,
      unitsFailed: 0,
      itemsFailed: 0,
    });
    expect(record.progress?.itemsDeleted).toBe(
      Object.values(record.summary!.counts).reduce((sum, by) => sum + (by?.deleted ?? 0), 0),
    );
    for (const [name, images] of Object.entries(streams)) {
      expect(await world.history('shared', name)).toEqual({ latest: [images[0]] });
      expect(await world.imageExists(images[1]!)).toBe(false);
    }
  });

  it('shows the progress of the run in progress in status (JSON and text) and metrics, and keeps it in the record', async () => {
    await createStreams(world.admin, 'progress', 6, 2);
    // One unit at a time: held after the first image unit of a batch is recorded, the streams are through and
    // the images are not. Held until the checks are done, however long a loaded machine takes for them (a
    // fixed pause of 12 s was too short there); then the worker dies there and another finishes the run
    // (a unit recorded already counts once).
    const env = world.env({
      PRUNER_MODE: 'metadata',
      PRUNER_BATCH_SIZE: '2',
      PRUNER_CONCURRENCY: '1',
      PRUNER_UNIT_CONCURRENCY: '1',
    });
    const w1 = worker('w1', { ...env, PRUNER_FAILPOINT: 'batch-unit' });
    await w1.port();
    const queued = await runCli(['enqueue', '--confirm'], env);
    const runId = /Run (\S+) queued/.exec(queued.stdout)?.[1];
    expect(runId, queued.stdout + queued.stderr).toBeDefined();
    await w1.waitForLog((line) => line.failpoint === 'batch-unit', 60_000);

    const report = await status(env);
    expect(report.activeRun).toBe(runId);
    const total = report.runs[0]!.units!;
    const progress = report.activeProgress!;
    expect(progress).toMatchObject({ unitsTotal: total, unitsFailed: 0, itemsFailed: 0, bytesFreed: 0 });
    expect(progress.unitsDone).toBeGreaterThan(6);
    expect(progress.unitsDone).toBeLessThan(total);
    expect(progress.itemsDeleted).toBeGreaterThan(0);
    expect(report.runs[0]).toMatchObject({ runId, status: 'running', progress });

    const text = await runCli(['status'], env);
    expect(text.code, text.stderr).toBe(0);
    const summary = `${progress.unitsDone}/${total} units, ${progress.itemsDeleted} deleted, 0 B freed, no failures`;
    expect(text.stdout).toContain(`run in progress: ${runId!} (${summary})`);
    expect(text.stdout).toMatch(new RegExp(`${runId!} +manual +running .* so far ${summary}`));

    const during = await (await fetch(`http://127.0.0.1:${await w1.port()}/metrics`)).text();
    expect(during).toContain(`registry_pruner_run_units_done ${progress.unitsDone}\n`);
    expect(during).toContain(`registry_pruner_run_units_total ${total}\n`);
    expect(during).toContain(`registry_pruner_run_items_deleted ${progress.itemsDeleted}\n`);
    expect(during).toContain('registry_pruner_run_in_progress 1\n');

    w1.kill('SIGKILL');
    await w1.exited;
    workers.forget(w1);
    const port = await worker('w2', env).port();
    const done = await until(
      'the run',
      async () => (await status(env)).runs.find((r) => r.runId === runId && r.status === 'succeeded'),
      60_000,
    );
    expect(done.progress).toMatchObject({ unitsTotal: total, unitsDone: total, unitsFailed: 0 });
    const deleted = Object.values(done.summary!.counts).reduce((sum, by) => sum + (by?.deleted ?? 0), 0);
    expect(done.progress!.itemsDeleted).toBe(deleted);
    const after = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(after).toContain(`registry_pruner_run_units_done ${total}\n`);
    expect(after).toContain('registry_pruner_run_in_progress 0\n');
    const finished = await runCli(['status'], env);
    expect(finished.stdout).toContain('run in progress: none');
  }, 180_000);

  it('fails clearly: a bad kubeconfig or missing permission stops the worker; an unreachable registry fails the run and changes nothing', async () => {
    const missing = startWorkerProcess('bad', world.env({ KUBECONFIG: `${world.work}/nope` }));
    expect(await missing.exited).toBe(1);
    expect(missing.stderr.join('\n')).toMatch(/kubeconfig file .* does not exist.*\[KUBECONFIG_INVALID\]/);

    const pruner = await world.cluster.addUser({
      name: 'pruner-only',
      roles: [{ role: 'system:image-pruner' }],
    });
    const forbidden = startWorkerProcess('forbidden', world.env({ KUBECONFIG: pruner.kubeconfig }));
    expect(await forbidden.exited).toBe(1);
    expect(forbidden.stderr.join('\n')).toMatch(/may not get imagepruners.*\[FORBIDDEN\]/);

    const [g1, g2, g3] = await pushGenerations(world, 'fail', 'fail');
    const env = world.env({ PRUNER_REGISTRY_HOST: '127.0.0.1:1', PRUNER_ATTEMPTS: '2' });
    worker('w1', env);
    const run = await runCli(['enqueue', '--confirm', '--wait'], env);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/failed .*REGISTRY_UNREACHABLE/);
    expect(await world.history('fail', 'app')).toEqual({ latest: [g3!.digest, g2!.digest, g1!.digest] });
    const report = await status(env);
    expect(report.activeRun).toBeUndefined();
    expect(report.runs[0]?.error?.message).toMatch(/Could not reach|not reachable|REGISTRY_UNREACHABLE/);
    // Three workers, a user, three pushes and a run retried once: more than the default minute on a loaded
    // 2-core machine (60-61 s seen).
  }, 180_000);
});
