// The dashboard served by a worker on openshift-sim with a real Redis and the real registry: plain HTTP for
// access (no cookie → the login page and no data, CSRF, a viewer may not approve), the CLI's explain and
// approve, and Debian's chromium (driven by playwright-core) through login, overview, plan explorer,
// explain and an approval whose progress bar reaches its end. Screenshots go to test-artifacts/dashboard/.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Resources, formatBytes, type KubeObject } from '@registry-push/core';
import type { RunRecord } from '../src/store/run-store.js';
import {
  csrfOf,
  launchChromium,
  login as signIn,
  request as requestAt,
  type Answer,
  type Browser,
} from './support/dashboard.js';
import { killAll, runCli, WorkerSet, type WorkerProcess } from './support/processes.js';
import { pushGenerations, root, startWorld, type World } from './support/world.js';

const GROUP = 'imageregistry.operator.openshift.io';
const OVERLAY = join(dirname(fileURLToPath(import.meta.url)), '..', 'deploy-dashboard');

function kubectl(
  args: string[],
  kubeconfig?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(
      'kubectl',
      [...(kubeconfig !== undefined ? ['--kubeconfig', kubeconfig] : []), ...args],
      { maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
    ),
  );
}

let world: World;
let env: Record<string, string>;
let worker: WorkerProcess;
let base: string;
let dryRun: RunRecord;
let images: { digest: string }[];
const workers = new WorkerSet();

const tokenOf = (user: string): string => world.cluster.users[user]?.token ?? '';

function request(
  path: string,
  options: { method?: string; cookie?: string; body?: Record<string, string> } = {},
): Promise<Answer> {
  return requestAt(base, path, options);
}

const login = (user: string): Promise<string> => signIn(base, tokenOf(user));

async function dryRunNow(): Promise<RunRecord> {
  const result = await runCli(['enqueue', '--wait', '--output', 'json'], env, 120_000);
  expect(result.code, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as { run: RunRecord }).run;
}

describe.runIf(root)('the dashboard', () => {
  beforeAll(async () => {
    world = await startWorld(['web', 'web2'], {
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
        { name: 'nobody', roles: [] },
      ],
    });
    await world.setPruner({ keepTagRevisions: 1, keepYoungerThanDuration: '0s' });
    images = await pushGenerations(world, 'web', 'web');
    env = world.env();
    worker = workers.start('web-1', env);
    base = `http://127.0.0.1:${await worker.port()}`;
    dryRun = await dryRunNow();
    expect(dryRun.status).toBe('succeeded');
  }, 180_000);

  afterAll(async () => {
    await workers.stopAll('SIGTERM');
    killAll();
    await world?.stop();
  });

  describe('over plain HTTP', () => {
    it('answers the login page, never data, without a session', async () => {
      for (const path of ['/', `/plans/${dryRun.runId}`, `/runs/${dryRun.runId}`, '/progress.json?run=x']) {
        const answer = await request(path);
        expect(answer.status, path).toBe(401);
        expect(answer.text).toContain('<h1>Sign in</h1>');
        expect(answer.text).not.toContain(dryRun.runId);
      }
      // An unknown cookie is no session either; the health endpoints stay open.
      expect((await request('/', { cookie: 'pruner_session=forged' })).status).toBe(401);
      expect((await request('/healthz')).status).toBe(200);
      expect((await request('/nothing-here')).status).toBe(404);
    });

    it('refuses a token the cluster does not accept, and a user without get on the ImagePruner', async () => {
      const bad = await request('/login', { method: 'POST', body: { token: 'not-a-token' } });
      expect(bad.status).toBe(401);
      expect(bad.text).toContain('PRUNER_TOKEN_INVALID');
      expect(bad.headers.get('set-cookie')).toBeNull();
      const nobody = await request('/login', { method: 'POST', body: { token: tokenOf('nobody') } });
      expect(nobody.status).toBe(403);
      expect(nobody.text).toContain('may not read the pruner dashboard');
    });

    it('signs out: the session ends and its cookie is cleared', async () => {
      const viewer = await login('pruner-viewer');
      const overview = await request('/', { cookie: viewer });
      expect(overview.status).toBe(200);
      expect((await request('/logout', { method: 'POST', cookie: viewer, body: {} })).status).toBe(403);
      const out = await request('/logout', {
        method: 'POST',
        cookie: viewer,
        body: { csrf: csrfOf(overview.text) },
      });
      expect(out.status).toBe(303);
      expect(out.headers.get('set-cookie')).toBe(
        'pruner_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0',
      );
      expect((await request('/', { cookie: viewer })).status).toBe(401);
    });

    it('takes the token from a header too (oauth-proxy passes it), and still wants the CSRF token on forms', async () => {
      for (const header of [
        { authorization: `Bearer ${tokenOf('pruner-admin')}` },
        { 'x-forwarded-access-token': tokenOf('pruner-admin') },
      ]) {
        const overview = await fetch(`${base}/`, { headers: header });
        expect(overview.status).toBe(200);
        const text = await overview.text();
        expect(text).toMatch(/Signed in as\s+<strong>pruner-admin<\/strong>/);
        expect(text).toContain(dryRun.runId);
        const refused = await fetch(`${base}/plans/${dryRun.runId}/approve`, {
          method: 'POST',
          headers: { ...header, 'content-type': 'application/x-www-form-urlencoded' },
          body: '',
          redirect: 'manual',
        });
        expect(refused.status).toBe(403);
      }
      const forged = await fetch(`${base}/`, { headers: { authorization: 'Bearer forged' } });
      expect(forged.status).toBe(401);
    });

    it('lets a viewer read but not approve, and refuses a form without its CSRF token', async () => {
      const viewer = await login('pruner-viewer');
      const plan = await request(`/plans/${dryRun.runId}`, { cookie: viewer });
      expect(plan.status).toBe(200);
      expect(plan.text).toContain(dryRun.planId!);
      expect(plan.text).not.toContain('id="approve"');
      expect(plan.text).toContain('Approving it needs <code>update</code>');
      const viewerPost = await request(`/plans/${dryRun.runId}/approve`, {
        method: 'POST',
        cookie: viewer,
        body: { csrf: csrfOf(plan.text) },
      });
      expect(viewerPost.status).toBe(403);
      expect(viewerPost.text).toContain('may not approve plans');

      const admin = await login('pruner-admin');
      const adminPlan = await request(`/plans/${dryRun.runId}`, { cookie: admin });
      expect(adminPlan.text).toContain('id="approve"');
      const forms: Record<string, string>[] = [{}, { csrf: 'wrong' }, { csrf: csrfOf(plan.text) }];
      for (const body of forms) {
        const refused = await request(`/plans/${dryRun.runId}/approve`, {
          method: 'POST',
          cookie: admin,
          body,
        });
        expect(refused.status).toBe(403);
        expect(refused.text).toContain('CSRF');
      }
      // Nothing was triggered by the refused forms.
      const runs = await runCli(['status', '--output', 'json'], env);
      expect((JSON.parse(runs.stdout) as { runs: RunRecord[] }).runs).toHaveLength(1);
      // No token in any log line of the worker.
      const logs = JSON.stringify(worker.logs);
      for (const user of ['pruner-viewer', 'pruner-admin', 'nobody'])
        expect(logs).not.toContain(tokenOf(user));
    });
  });

  describe('the CLI', () => {
    it('explains why an image is kept and why one would be deleted', async () => {
      const kept = await runCli(['explain', images[2]!.digest], env);
      expect(kept.code, kept.stderr).toBe(0);
      expect(kept.stdout).toContain(`in the plan of dry run ${dryRun.runId}`);
      expect(kept.stdout).toMatch(
        /keep\s+image sha256:\w+\n\s+kept: still in the history of web\/app:latest#0/,
      );
      const tag = await runCli(['explain', 'web/app:latest', '--output', 'json'], env);
      const answer = JSON.parse(tag.stdout) as { lines: { action: string; rule: string; subject: string }[] };
      expect(answer.lines.filter((line) => line.rule === 'beyond-tag-revisions')).toHaveLength(2);
      expect(answer.lines.find((line) => line.rule === 'within-tag-revisions')?.subject).toContain('#0');
      const bad = await runCli(['explain', 'not a ref'], env);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('[PRUNER_USAGE]');
    });

    it('approves only a dry run, and only with --confirm', async () => {
      const noConfirm = await runCli(['enqueue', '--plan', dryRun.runId], env);
      expect(noConfirm.code).toBe(2);
      expect(noConfirm.stderr).toContain('add --confirm');
      const unknown = await runCli(['enqueue', '--confirm', '--plan', 'no-such-run'], env);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain('[PRUNER_PLAN_NOT_APPROVABLE]');
    });
  });

  describe('in chromium', () => {
    let browser: Browser;
    let page: Page;
    const shot = (name: string): Promise<Buffer> => browser.shot(name);

    beforeAll(async () => {
      browser = await launchChromium('dashboard');
      page = browser.page;
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
    });

    it('shows a viewer the plan without an approve button', async () => {
      await page.goto(`${base}/`);
      expect(await page.locator('h1').textContent()).toBe('Sign in');
      await shot('01-login');
      // Keyboard only: the token field has focus, Enter submits.
      await page.keyboard.type(tokenOf('pruner-viewer'));
      await page.keyboard.press('Enter');
      await page.locator('.who').waitFor();
      expect(await page.locator('h1').textContent()).toBe('Overview');
      expect(await page.locator('.who').textContent()).toContain('read only');
      await page.goto(`${base}/plans/${dryRun.runId}`);
      expect(await page.locator('#approve').count()).toBe(0);
      expect(await page.locator('.notice').textContent()).toContain('Approving it needs update');
      await browser.context.clearCookies();
    });

    it('lets an admin explore the plan, explain a digest, approve, and watch the run to its end', async () => {
      await page.goto(`${base}/login`);
      await page.fill('#token', tokenOf('pruner-admin'));
      await page.click('#sign-in');
      await page.waitForURL(`${base}/`);
      expect(await page.locator('.who').textContent()).toContain('may approve');

      // The plan explorer: namespace → stream → tag → decisions.
      await page.goto(`${base}/plans`);
      await page.click(`a[href="/plans/${dryRun.runId}"]`);
      await page.getByRole('link', { name: 'web', exact: true }).first().click();
      await page.getByRole('link', { name: 'app', exact: true }).first().click();
      await page.getByRole('link', { name: 'latest', exact: true }).first().click();
      const rows = page.locator('table tbody tr');
      expect(await rows.count()).toBeGreaterThanOrEqual(3);
      const text = await page.locator('main').textContent();
      expect(text).toContain('beyond the 1 revisions kept per tag');
      expect(text).toContain('within the 1 revisions kept per tag');
      await shot('02-plan-explorer');

      // Explain: why the newest image is kept.
      await page.goto(`${base}/explain`);
      await page.fill('#ref', images[2]!.digest);
      await page.click('#explain-button');
      const why = await page.locator('ul.explain').textContent();
      expect(why).toContain('kept: still in the history of web/app:latest#0');
      await shot('03-explain');

      // Approve the plan and follow the run on its page until the bar is full.
      await page.goto(`${base}/plans/${dryRun.runId}`);
      await page.click('#approve');
      await page.waitForURL(/\/runs\/manual-/);
      const runId = decodeURIComponent(new URL(page.url()).pathname.slice('/runs/'.length));
      // The script follows the run in the page: wait for it to mark the run over, then the bar is full.
      // (The page's CSP allows no evaluated strings, so the test reads attributes, as a user would see.)
      await page.locator('.progress[data-over="yes"]').waitFor({ timeout: 120_000 });
      const progress = page.locator('.progress progress');
      const max = Number(await progress.getAttribute('max'));
      expect(max).toBeGreaterThan(1);
      expect(Number(await progress.getAttribute('value'))).toBe(max);
      expect(await page.locator('.progress [data-field=units]').textContent()).toBe(`${max}/${max} units`);
      expect(await page.locator('.progress [data-field=state]').textContent()).toBe('finished (succeeded)');
      await page.reload();
      expect(await page.locator('#run-status').textContent()).toBe('succeeded');
      expect(await page.locator('main').textContent()).toContain(`Approved plan ${dryRun.planId}`);
      await shot('04-run');

      // The cluster: the two old generations are gone, the newest still there.
      expect(await world.imageExists(images[0]!.digest)).toBe(false);
      expect(await world.imageExists(images[1]!.digest)).toBe(false);
      expect(await world.imageExists(images[2]!.digest)).toBe(true);

      // The overview's chart shows the run's freed bytes.
      const status = JSON.parse((await runCli(['status', '--output', 'json'], env)).stdout) as {
        runs: RunRecord[];
      };
      const approved = status.runs.find((run) => run.runId === runId)!;
      expect(approved.approvedFrom).toBe(dryRun.runId);
      const freed = approved.progress?.bytesFreed ?? 0;
      expect(freed).toBeGreaterThan(0);
      await page.goto(`${base}/`);
      const chart = page.locator('figure.chart svg');
      const bar = chart.locator('g.bar', { hasText: runId });
      expect(await bar.count()).toBe(1);
      expect(await bar.locator('text.chart-value').textContent()).toBe(formatBytes(freed));
      await shot('05-overview');
    }, 180_000);
  });

  describe('an approval after the cluster changed', () => {
    it('carries out only what both plans hold and reports what changed since', async () => {
      const [g1, g2, g3] = await pushGenerations(world, 'web2', 'web2');
      const dry = await dryRunNow();
      // Since the dry run: a pod starts using g1 by digest, and a new build pushes g3 down to revision 1.
      await world.admin.create<KubeObject & { spec: unknown }>(Resources.pod, {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'uses-g1', namespace: 'web2' },
        spec: { containers: [{ name: 'app', image: `${world.host}/web2/app@${g1!.digest}` }] },
      });
      const g4 = await world.build('web2-web2-4', 'web2', 4);
      await world.push(g4, 'web2/app:latest');

      const run = await runCli(
        ['enqueue', '--confirm', '--plan', dry.planId!, '--wait', '--output', 'json'],
        env,
        120_000,
      );
      expect(run.code, run.stderr).toBe(0);
      const record = (JSON.parse(run.stdout) as { run: RunRecord }).run;
      expect(record.approvedFrom).toBe(dry.runId);
      expect(record.planId).toBe(dry.planId);
      // g2 was approved and is still unused: gone. g1 is used now: kept with its history item. g3 would be
      // deleted by a fresh plan, but the approved plan did not hold it: kept.
      expect(await world.imageExists(g2!.digest)).toBe(false);
      expect(await world.imageExists(g1!.digest)).toBe(true);
      expect(await world.imageExists(g3!.digest)).toBe(true);
      expect(await world.pullDiff(`web2/app@${g3!.digest}`, g3!)).toEqual([]);
      expect((await world.history('web2', 'app')).latest).toEqual([g4.digest, g3!.digest, g1!.digest]);
      const notes = (record.notes ?? []).join('\n');
      expect(notes).toMatch(
        new RegExp(
          `Approved plan ${dry.planId}: \\d+ of its \\d+ changes carried out after a fresh check; [1-9]\\d* changed since and left alone; [1-9]\\d* new change\\(s\\) not in it were not carried out`,
        ),
      );
      expect(notes).toContain(`no longer planned, left alone: history item latest → ${g1!.digest}`);
      // The run page pages the result log from Redis and shows the approval's report.
      const viewer = await login('pruner-viewer');
      const runPageText = (await request(`/runs/${record.runId}`, { cookie: viewer })).text;
      expect(runPageText).toMatch(new RegExp(`Unit results, ${record.units} in all`));
      expect(runPageText).toContain(`Carries out the approved plan of dry run`);
      expect(runPageText).toContain('stream/web2/app');
      expect(notes).toContain(`newly planned, not carried out: history item latest → ${g3!.digest}`);
    }, 180_000);
  });

  describe('the oauth-proxy overlay', () => {
    it('renders the deploy with the proxy in front of the worker and applies as written', async () => {
      const rendered = await kubectl(['kustomize', OVERLAY]);
      expect(rendered.code, rendered.stderr).toBe(0);
      const text = rendered.stdout;
      // Both containers in the one Deployment; the proxy sends to the worker's port and passes the token.
      expect(text.match(/^kind: Deployment$/gm)).toHaveLength(1);
      expect(text).toMatch(/name: oauth-proxy/);
      expect(text).toMatch(/name: worker/);
      expect(text).toContain('--upstream=http://127.0.0.1:8080');
      expect(text).toContain('--pass-access-token');
      expect(text).toContain('"resource":"imagepruners","name":"cluster","verb":"get"');
      expect(text).toContain('serviceaccounts.openshift.io/oauth-redirectreference.dashboard');
      expect(text).toMatch(/kind: Route[\s\S]*termination: reencrypt/);
      const applied = await kubectl(['apply', '-k', OVERLAY], world.cluster.kubeconfig);
      expect(applied.code, applied.stderr).toBe(0);
      expect(applied.stdout).toContain('route.route.openshift.io/registry-pruner-dashboard created');
      const deployment = await kubectl(
        [
          'get',
          'deployment',
          'registry-pruner',
          '-n',
          'registry-pruner',
          '-o',
          'jsonpath={.spec.template.spec.containers[*].name}',
        ],
        world.cluster.kubeconfig,
      );
      expect(deployment.stdout.split(' ').sort()).toEqual(['oauth-proxy', 'worker']);
    });
  });

  describe('PRUNER_PLAN_EXPLORER=false', () => {
    it('lets dry runs plan with counts only: no plan to explore or explain', async () => {
      await workers.stopAll('SIGTERM');
      const lean = workers.start('web-lean', { ...env, PRUNER_PLAN_EXPLORER: 'false' });
      base = `http://127.0.0.1:${await lean.port()}`;
      const dry = await dryRunNow();
      expect(dry.status).toBe('succeeded');
      const asked = await runCli(['explain', '--run', dry.runId, images[2]!.digest], env);
      expect(asked.code).toBe(1);
      expect(asked.stderr).toContain('[PRUNER_RUN_NOT_FOUND]');
      const viewer = await login('pruner-viewer');
      const page = await request(`/plans/${dry.runId}`, { cookie: viewer });
      expect(page.status).toBe(404);
      expect(page.text).toContain('has no plan to explore');
    }, 120_000);
  });
});
