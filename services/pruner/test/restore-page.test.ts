// Restoring a run from its dashboard page, against the simulator, its registry and a real Redis, with the
// worker running as the deploy's ServiceAccount (deploy/rbac.yaml): the page of a confirmed full run in its
// undo window shows until when, and to users with update on the ImagePruner a restore form (whole run, one
// image or one stream, dry run or not) that goes the CLI's restore path; a viewer's POST and one without the
// CSRF token are 403; in Debian's chromium the admin restores the run and every restored image pulls byte for
// byte; once the window closed the page says so and shows no form. The report is capped at 200 objects with
// "and N more". Screenshots go to test-artifacts/restore-page/.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpRequest, type BuiltImage } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RestoreItemResult } from '@registry-push/core';
import type { UndoHead } from '../src/store/undo-store.js';
import { RESTORE_SHOWN, runPage } from '../src/web/pages.js';
import { csrfOf, launchChromium, login, request, type Browser } from './support/dashboard.js';
import { killAll, WorkerSet, type WorkerProcess } from './support/processes.js';
import { eventReasons, prune, pulls } from './support/undo.js';
import { pushGenerations, root, startWorld, type World } from './support/world.js';

const GROUP = 'imageregistry.operator.openshift.io';
const DEPLOY = join(dirname(fileURLToPath(import.meta.url)), '..', 'deploy');

/**
 * Applies the deploy's namespace, ServiceAccount and RBAC, and writes a kubeconfig holding a token of that
 * ServiceAccount: the worker then has exactly the rights a deployed one has.
 */
async function serviceAccountKubeconfig(world: World): Promise<string> {
  for (const file of ['namespace.yaml', 'serviceaccount.yaml', 'rbac.yaml'])
    await new Promise<void>((resolve, reject) =>
      execFile(
        'kubectl',
        ['--kubeconfig', world.cluster.kubeconfig, 'apply', '-f', join(DEPLOY, file)],
        (error, _stdout, stderr) => (error ? reject(new Error(stderr)) : resolve()),
      ),
    );
  const answer = await httpRequest(
    `${world.cluster.apiServer}/api/v1/namespaces/registry-pruner/serviceaccounts/registry-pruner/token`,
    {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${world.cluster.users.kubeadmin!.token}`,
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} }),
      caPem: world.cluster.apiCaPem,
    },
  );
  expect(answer.status, answer.body.toString()).toBe(201);
  const token = (JSON.parse(answer.body.toString()) as { status: { token: string } }).status.token;
  const path = join(world.work, 'registry-pruner.kubeconfig');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'sim',
        cluster: {
          server: world.cluster.apiServer,
          'certificate-authority-data': Buffer.from(world.cluster.apiCaPem).toString('base64'),
        },
      },
    ],
    users: [{ name: 'registry-pruner', user: { token } }],
    contexts: [{ name: 'registry-pruner', context: { cluster: 'sim', user: 'registry-pruner' } }],
    'current-context': 'registry-pruner',
  };
  await writeFile(path, JSON.stringify(config), { mode: 0o600 });
  return path;
}

describe('the run page rendered', () => {
  const head: UndoHead = {
    runId: 'r1',
    mode: 'full',
    state: 'open',
    windowMs: 3_600_000,
    protectAnnotation: '',
    createdAt: '2026-12-03T10:00:00.000Z',
    registryAt: '2026-12-03T11:00:00.000Z',
    recorded: 4,
    bytesPending: 100,
    cursor: 0,
    storedBytes: 50,
  };
  const frame = { title: 'Run r1' };
  const base = { runId: 'r1', units: [], total: 0, page: 1 };

  it('lists at most 200 restored objects and counts the rest', () => {
    const items: RestoreItemResult[] = Array.from({ length: RESTORE_SHOWN + 7 }, (_, i) => ({
      kind: 'image',
      target: `sha256:${i.toString(16).padStart(64, '0')}`,
      outcome: 'restored',
    }));
    const text = runPage(frame, {
      ...base,
      undo: head,
      restoreAccess: { allowed: true, csrf: 'c' },
      restored: { dryRun: false, target: '', report: { items, counts: { restored: items.length } } },
    });
    expect(text).toContain(`id="restore-counts">${RESTORE_SHOWN + 7} restored<`);
    expect(text.match(/<td>restored<\/td>/g)).toHaveLength(RESTORE_SHOWN);
    expect(text).toContain('id="restore-more">and 7 more<');
  });

  it('shows the form only in an open window and only to those who may restore', () => {
    const form = 'id="restore-form"';
    expect(runPage(frame, { ...base, undo: head, restoreAccess: { allowed: true, csrf: 'c' } })).toContain(
      form,
    );
    const viewer = runPage(frame, { ...base, undo: head, restoreAccess: { allowed: false, csrf: 'c' } });
    expect(viewer).not.toContain(form);
    expect(viewer).toContain('Restoring needs <code>update</code>');
    for (const state of ['registry-running', 'closed', 'refused'] as const) {
      const text = runPage(frame, {
        ...base,
        undo: { ...head, state },
        restoreAccess: { allowed: true, csrf: 'c' },
      });
      expect(text, state).not.toContain(form);
      expect(text, state).toMatch(state === 'refused' ? /cannot be restored/ : /Too late to restore/);
    }
  });
});

describe.runIf(root)('restoring a run from its page', () => {
  let world: World;
  let env: Record<string, string>;
  let worker: WorkerProcess;
  let base: string;
  let runId: string;
  let generations: BuiltImage[];
  const workers = new WorkerSet();
  const tokenOf = (user: string): string => world.cluster.users[user]?.token ?? '';

  beforeAll(async () => {
    world = await startWorld(['rp'], {
      users: [
        {
          name: 'pruner-viewer',
          roles: [],
          customRoles: [{ rules: [{ apiGroups: [GROUP], resources: ['imagepruners'], verbs: ['get'] }] }],
        },
        {
          name: 'pruner-admin',
          roles: [],
          customRoles: [
            {
              rules: [
                {
                  apiGroups: [GROUP],
                  resources: ['imagepruners'],
                  resourceNames: ['cluster'],
                  verbs: ['get', 'update'],
                },
              ],
            },
          ],
        },
      ],
    });
    await world.setPruner({ keepTagRevisions: 1, keepYoungerThanDuration: '0s' });
    generations = await pushGenerations(world, 'rp', 'rp');
    // The worker runs as the deploy's ServiceAccount: a restore from the page uses the worker's rights.
    env = world.env({ PRUNER_UNDO_WINDOW: '1h', KUBECONFIG: await serviceAccountKubeconfig(world) });
    worker = workers.start('rp-1', env);
    base = `http://127.0.0.1:${await worker.port()}`;
    runId = await prune(env);
    const [g1, g2] = generations;
    for (const gone of [g1!, g2!]) expect(await world.imageExists(gone.digest)).toBe(false);
  }, 180_000);

  afterAll(async () => {
    await workers.stopAll('SIGTERM');
    killAll();
    await world?.stop();
  });

  it('refuses a viewer, a form without its CSRF token and a malformed target; dry runs of one image or tag change nothing', async () => {
    const viewer = await login(base, tokenOf('pruner-viewer'));
    const page = await request(base, `/runs/${runId}`, { cookie: viewer });
    expect(page.status).toBe(200);
    const end = /<time id="undo-end">([^<]+)<\/time>/.exec(page.text)?.[1];
    expect(Date.parse(end ?? '') - Date.now()).toBeGreaterThan(50 * 60_000);
    expect(page.text).not.toContain('id="restore-form"');
    expect(page.text).toContain('Restoring needs <code>update</code>');
    const viewerPost = await request(base, `/runs/${runId}/restore`, {
      method: 'POST',
      cookie: viewer,
      body: { csrf: csrfOf(page.text) },
    });
    expect(viewerPost.status).toBe(403);
    expect(viewerPost.text).toContain('may not restore runs');

    const admin = await login(base, tokenOf('pruner-admin'));
    const adminPage = await request(base, `/runs/${runId}`, { cookie: admin });
    expect(adminPage.text).toContain('id="restore-form"');
    for (const body of [{}, { csrf: 'wrong' }, { csrf: csrfOf(page.text) }] as Record<string, string>[]) {
      const refused = await request(base, `/runs/${runId}/restore`, { method: 'POST', cookie: admin, body });
      expect(refused.status).toBe(403);
      expect(refused.text).toContain('CSRF');
    }
    const malformed = await request(base, `/runs/${runId}/restore`, {
      method: 'POST',
      cookie: admin,
      body: { csrf: csrfOf(adminPage.text), target: 'rp/app:a:b' },
    });
    expect(malformed.status).toBe(400);
    expect(malformed.text).toContain('[PRUNER_USAGE]');
    // Dry runs of one image and of one tag, as --image and --stream take them.
    for (const [target, counts] of [
      [generations[0]!.digest, '2 would-restore'],
      ['rp/app:latest', '4 would-restore'],
      ['rp/other', 'Nothing selected.'],
    ]) {
      const dry = await request(base, `/runs/${runId}/restore`, {
        method: 'POST',
        cookie: admin,
        body: { csrf: csrfOf(adminPage.text), target: target!, dryRun: 'on' },
      });
      expect(dry.status, target).toBe(200);
      expect(dry.text, target).toContain(`id="restore-counts">${counts}<`);
    }
    expect(await world.imageExists(generations[0]!.digest)).toBe(false);
    expect(await world.history('rp', 'app')).toEqual({ latest: [generations[2]!.digest] });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).not.toMatch(/registry_pruner_undo_restored_objects\{/);
  });

  describe('in chromium', () => {
    let browser: Browser;

    beforeAll(async () => {
      browser = await launchChromium('restore-page');
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
    });

    it('lets an admin see what a restore would do, restore the run, and every image pulls byte for byte', async () => {
      const { page, shot } = browser;
      const [g1, g2, g3] = generations;
      await page.goto(`${base}/login`);
      await page.fill('#token', tokenOf('pruner-admin'));
      await page.click('#sign-in');
      await page.waitForURL(`${base}/`);
      await page.goto(`${base}/runs/${runId}`);
      expect(Date.parse((await page.locator('#undo-end').textContent()) ?? '')).toBeGreaterThan(Date.now());

      // The dry run: what would come back, nothing written.
      await page.check('#restore-dry-run');
      await page.click('#restore');
      await page.locator('#restore-report').waitFor();
      expect(await page.locator('#h-restore').textContent()).toBe('Dry run of a restore: the whole run');
      expect(await page.locator('#restore-counts').textContent()).toBe('4 would-restore');
      expect(await world.imageExists(g1!.digest)).toBe(false);
      await shot('01-dry-run');

      // The restore (the answer's form is not a dry run again).
      expect(await page.isChecked('#restore-dry-run')).toBe(false);
      await page.click('#restore');
      await page.locator('#h-restore', { hasText: 'Restored: the whole run' }).waitFor();
      expect(await page.locator('#restore-counts').textContent()).toBe('4 restored');
      const rows = page.locator('#restore-report tbody tr');
      expect(await rows.count()).toBe(4);
      expect(await page.locator('#restore-report').textContent()).toContain(`rp/app:latest@${g1!.digest}`);
      await shot('02-restored');

      expect(await world.history('rp', 'app')).toEqual({
        latest: [g3!.digest, g2!.digest, g1!.digest],
      });
      await pulls(world, 'rp', g1!);
      await pulls(world, 'rp', g2!);
      await pulls(world, 'rp', g3!, 'latest');
      // Counted and reported as a CLI restore is.
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/registry_pruner_undo_restored_objects\{outcome="restored"\} 4/);
      expect(await eventReasons(world, runId)).toContain('PruneRunRestored');
      expect(worker.logs.some((line) => line.msg === 'run restored from the dashboard')).toBe(true);
    }, 120_000);
  });

  it('says when the window has closed, shows no form, and a restore posted anyway is too late', async () => {
    await workers.stopAll('SIGTERM');
    const short = { ...env, PRUNER_UNDO_WINDOW: '2s' };
    const w = workers.start('rp-short', short);
    base = `http://127.0.0.1:${await w.port()}`;
    const late = await prune(short);
    await w.waitForLog((line) => line.msg === 'registry phase done' && line.runId === late, 90_000);
    const admin = await login(base, tokenOf('pruner-admin'));
    const page = await request(base, `/runs/${late}`, { cookie: admin });
    expect(page.text).toContain('Too late to restore');
    expect(page.text).not.toContain('id="restore-form"');
    // The first run's window (same queue, an hour) is still open on this worker.
    expect((await request(base, `/runs/${runId}`, { cookie: admin })).text).toContain('id="restore-form"');
    const posted = await request(base, `/runs/${late}/restore`, {
      method: 'POST',
      cookie: admin,
      body: { csrf: csrfOf(page.text) },
    });
    expect(posted.status).toBe(200);
    expect(posted.text).toMatch(/id="restore-counts">[1-9]\d* too-late</);
    expect(await world.imageExists(generations[0]!.digest)).toBe(false);
  }, 180_000);
});
