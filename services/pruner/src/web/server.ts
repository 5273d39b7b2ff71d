/**
 * The dashboard, served by every worker on its HTTP port next to `/healthz` and `/metrics`: login, overview,
 * plans, plan explorer, explain, approve and run pages (a run in its undo window is restored from its page).
 * Every request but the login form and the static files needs a bearer token the cluster accepts and `get`
 * on the ImagePruner `cluster` (approving and restoring need `update`), from the session cookie or an
 * `Authorization: Bearer` header (as oauth-proxy passes it); without one the answer is the login page, never
 * data. Forms that change something carry the session's CSRF token.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Queue } from 'bullmq';
import { pruneModeFor, type ClusterApi } from '@registry-push/core';
import { AccessChecker, type AccessDecision } from '../access.js';
import { readStatus } from '../client.js';
import { readManagementState, type EventRecorder } from '../cluster.js';
import { PrunerError, describeError } from '../errors.js';
import { JobNames, newManualRunId, planJobOptions, type PlanJobData } from '../jobs.js';
import type { Logger } from '../logger.js';
import type { Settings } from '../settings.js';
import { restoreFrom, restoreTarget } from '../restore.js';
import { runIsOver, type RunStore } from '../store/run-store.js';
import type { UndoStore } from '../store/undo-store.js';
import { approvableRun } from './approve.js';
import { APP_CSS, APP_JS } from './assets.js';
import { explain, noIndex } from './explain.js';
import { NO_STREAM, type ExplorerStore } from './explorer.js';
import type { Frame } from './html.js';
import {
  errorPage,
  explainPage,
  explorerHref,
  explorerPage,
  loginPage,
  overviewPage,
  plansPage,
  runPage,
  sortRows,
  type ExplorerLevel,
  type ExplorerView,
  type OverviewData,
  type RestoreView,
  PAGE_SIZE,
} from './pages.js';
import { SESSION_COOKIE, SessionStore, cookieOf, csrfMatches, type Session } from './session.js';

/** What the dashboard reads and writes. */
export interface DashboardParts {
  settings: Settings;
  /** The worker's own client: it asks the reviews and reads the registry operator config. */
  client: ClusterApi;
  store: RunStore;
  /** The undo records (the overview lists the runs still in their window). */
  undo: UndoStore;
  explorer: ExplorerStore;
  queue: Queue;
  logger: Logger;
  /** The worker's Event recorder (a restore records `PruneRunRestored`). */
  events: EventRecorder;
  /** Decides access (default: an {@link AccessChecker} on `client`). */
  access?: (token: string) => Promise<AccessDecision>;
}

/** Whom a request is from, and how it authenticated. */
interface Caller {
  decision: AccessDecision;
  session?: Session;
  /** The CSRF value its forms carry. */
  csrf: string;
}

/** The largest form body read (a token is a few KiB). */
const MAX_BODY = 64 * 1024;
/** How many runs the overview and the plan list show. */
const RUNS_SHOWN = 30;

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
} as const;

function send(
  response: ServerResponse,
  status: number,
  type: string,
  body: string,
  extra: Record<string, string> = {},
): void {
  response.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, ...extra }).end(body);
}

function redirect(response: ServerResponse, to: string, extra: Record<string, string> = {}): void {
  response.writeHead(303, { ...SECURITY_HEADERS, location: to, ...extra }).end();
}

async function readForm(request: IncomingMessage): Promise<URLSearchParams> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new PrunerError('PRUNER_USAGE', 'The form is too large.');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function bearerOf(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string' && /^bearer /i.test(header)) return header.slice(7).trim();
  const forwarded = request.headers['x-forwarded-access-token'];
  return typeof forwarded === 'string' && forwarded !== '' ? forwarded : undefined;
}

function viewOf(runId: string, query: URLSearchParams): ExplorerView {
  const sort = query.get('sort');
  const page = Number(query.get('page') ?? '1');
  const text = (name: string): string | undefined => {
    const value = query.get(name);
    return value === null || value === '' ? undefined : value;
  };
  const ns = text('ns');
  const stream = ns === undefined ? undefined : text('stream');
  const tag = stream === undefined ? undefined : text('tag');
  return {
    runId,
    ...(ns !== undefined ? { ns } : {}),
    ...(stream !== undefined ? { stream } : {}),
    ...(tag !== undefined ? { tag } : {}),
    sort: sort === 'name' || sort === 'changes' || sort === 'keeps' ? sort : 'bytes',
    dir: query.get('dir') === 'asc' ? 'asc' : 'desc',
    page: Number.isSafeInteger(page) && page > 0 ? page : 1,
  };
}

/** The dashboard's request handler. */
export class Dashboard {
  readonly #parts: DashboardParts;
  readonly #sessions = new SessionStore();
  readonly #access: (token: string) => Promise<AccessDecision>;
  /** Signs the CSRF value of header-authenticated callers (they have no session). */
  readonly #secret = randomBytes(32);

  constructor(parts: DashboardParts) {
    this.#parts = parts;
    const checker = new AccessChecker(parts.client);
    this.#access = parts.access ?? ((token) => checker.check(token));
  }

  /**
   * Answers a request.
   *
   * @returns false when the path is not the dashboard's (the caller answers 404).
   */
  async handle(request: IncomingMessage, response: ServerResponse): Promise<boolean> {
    const url = new URL(request.url ?? '/', 'http://dashboard');
    const method = request.method ?? 'GET';
    const path = url.pathname;
    if (path === '/static/app.css') send(response, 200, 'text/css; charset=utf-8', APP_CSS);
    else if (path === '/static/app.js') send(response, 200, 'text/javascript; charset=utf-8', APP_JS);
    else if (path === '/login' && method === 'POST') await this.#login(request, response);
    else if (path === '/login') send(response, 200, 'text/html; charset=utf-8', loginPage());
    else if (!this.#known(path)) return false;
    else await this.#authorized(request, response, url, method);
    return true;
  }

  #known(path: string): boolean {
    return (
      path === '/' ||
      path === '/logout' ||
      path === '/progress.json' ||
      path === '/plans' ||
      path === '/explain' ||
      path.startsWith('/plans/') ||
      path.startsWith('/runs/')
    );
  }

  async #login(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const form = await readForm(request);
    const token = (form.get('token') ?? '').trim();
    let decision: AccessDecision;
    try {
      decision = await this.#access(token);
    } catch (error) {
      const status = error instanceof PrunerError && error.code === 'PRUNER_TOKEN_INVALID' ? 401 : 503;
      send(response, status, 'text/html; charset=utf-8', loginPage(describeError(error)));
      return;
    }
    if (!decision.canRead) {
      this.#parts.logger.info(
        { user: decision.user },
        'dashboard sign-in refused: no get on the ImagePruner',
      );
      send(
        response,
        403,
        'text/html; charset=utf-8',
        loginPage(
          `User ${decision.user} may not read the pruner dashboard: it needs get on imagepruners.imageregistry.operator.openshift.io "cluster". Ask a cluster administrator for a role that grants it.`,
        ),
      );
      return;
    }
    const session = this.#sessions.create(token, decision.user);
    this.#parts.logger.info({ user: decision.user, canApprove: decision.canApprove }, 'dashboard sign-in');
    const secure = request.headers['x-forwarded-proto'] === 'https' ? '; Secure' : '';
    redirect(response, '/', {
      'set-cookie': `${SESSION_COOKIE}=${session.id}; Path=/; HttpOnly; SameSite=Strict${secure}`,
    });
  }

  /** The caller, or undefined after answering with the login page. */
  async #caller(request: IncomingMessage, response: ServerResponse): Promise<Caller | undefined> {
    const header = bearerOf(request);
    const session =
      header === undefined ? this.#sessions.get(cookieOf(request.headers.cookie, SESSION_COOKIE)) : undefined;
    const token = header ?? session?.token;
    if (token === undefined) {
      send(response, 401, 'text/html; charset=utf-8', loginPage());
      return undefined;
    }
    let decision: AccessDecision;
    try {
      decision = await this.#access(token);
    } catch (error) {
      if (error instanceof PrunerError && error.code === 'PRUNER_TOKEN_INVALID') {
        if (session !== undefined) this.#sessions.delete(session.id);
        send(response, 401, 'text/html; charset=utf-8', loginPage(describeError(error)));
      } else
        send(
          response,
          503,
          'text/html; charset=utf-8',
          errorPage({ title: 'Cannot check access' }, describeError(error)),
        );
      return undefined;
    }
    if (!decision.canRead) {
      if (session !== undefined) this.#sessions.delete(session.id);
      send(
        response,
        403,
        'text/html; charset=utf-8',
        loginPage(
          `User ${decision.user} may not read the pruner dashboard (no get on the ImagePruner cluster).`,
        ),
      );
      return undefined;
    }
    const csrf = session?.csrf ?? createHmac('sha256', this.#secret).update(token).digest('base64url');
    return { decision, csrf, ...(session !== undefined ? { session } : {}) };
  }

  #frame(caller: Caller, title: string, current?: Frame['current']): Frame {
    return {
      title,
      user: { name: caller.decision.user, canApprove: caller.decision.canApprove, csrf: caller.csrf },
      ...(current !== undefined ? { current } : {}),
    };
  }

  async #authorized(
    request: IncomingMessage,
    response: ServerResponse,
    url: URL,
    method: string,
  ): Promise<void> {
    const caller = await this.#caller(request, response);
    if (caller === undefined) return;
    if (method === 'POST') {
      await this.#post(request, response, url, caller);
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      send(response, 405, 'text/plain', 'method not allowed\n', { allow: 'GET, POST' });
      return;
    }
    const html = (body: string, status = 200): void =>
      send(response, status, 'text/html; charset=utf-8', body);
    const path = url.pathname;
    try {
      if (path === '/')
        html(overviewPage(this.#frame(caller, 'Overview', 'overview'), await this.#overview()));
      else if (path === '/progress.json') await this.#progress(response, url.searchParams.get('run') ?? '');
      else if (path === '/plans')
        html(plansPage(this.#frame(caller, 'Plans', 'plans'), await this.#parts.store.listRuns(RUNS_SHOWN)));
      else if (path === '/explain') html(await this.#explain(caller, url.searchParams));
      else if (path.startsWith('/plans/')) {
        const [status, body] = await this.#explorer(
          caller,
          decodeURIComponent(path.slice(7)),
          url.searchParams,
        );
        html(body, status);
      } else if (path.startsWith('/runs/'))
        html(await this.#run(caller, decodeURIComponent(path.slice(6)), url.searchParams));
      else send(response, 404, 'text/plain', 'not found\n');
    } catch (error) {
      const status = error instanceof PrunerError && error.code === 'PRUNER_RUN_NOT_FOUND' ? 404 : 500;
      html(errorPage(this.#frame(caller, 'Error'), describeError(error)), status);
    }
  }

  async #post(request: IncomingMessage, response: ServerResponse, url: URL, caller: Caller): Promise<void> {
    const form = await readForm(request);
    const given = form.get('csrf') ?? undefined;
    const valid =
      caller.session !== undefined
        ? csrfMatches(caller.session, given)
        : given !== undefined && given === caller.csrf;
    if (!valid) {
      this.#parts.logger.warn(
        { user: caller.decision.user, path: url.pathname },
        'dashboard form without a valid CSRF token refused',
      );
      send(
        response,
        403,
        'text/html; charset=utf-8',
        errorPage(
          this.#frame(caller, 'Refused'),
          'The form is stale or did not come from this dashboard (CSRF token missing or wrong).',
          'Reload the page and try again.',
        ),
      );
      return;
    }
    if (url.pathname === '/logout') {
      if (caller.session !== undefined) this.#sessions.delete(caller.session.id);
      redirect(response, '/login', {
        'set-cookie': `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`,
      });
      return;
    }
    const approve = /^\/plans\/([^/]+)\/approve$/.exec(url.pathname);
    const restore = /^\/runs\/([^/]+)\/restore$/.exec(url.pathname);
    if (approve === null && restore === null) {
      send(response, 404, 'text/plain', 'not found\n');
      return;
    }
    if (!caller.decision.canApprove) {
      this.#parts.logger.warn(
        { user: caller.decision.user, path: url.pathname },
        'dashboard form refused: no update on the ImagePruner',
      );
      send(
        response,
        403,
        'text/html; charset=utf-8',
        errorPage(
          this.#frame(caller, 'Refused'),
          `User ${caller.decision.user} may not ${approve !== null ? 'approve plans' : 'restore runs'}: it needs update on imagepruners.imageregistry.operator.openshift.io "cluster".`,
        ),
      );
      return;
    }
    if (approve !== null) await this.#approve(response, caller, decodeURIComponent(approve[1] ?? ''));
    else await this.#restore(response, caller, decodeURIComponent(restore?.[1] ?? ''), form);
  }

  /** Restores a run (or shows what would be restored) and answers its page with the report. */
  async #restore(
    response: ServerResponse,
    caller: Caller,
    runId: string,
    form: URLSearchParams,
  ): Promise<void> {
    const { undo, client, events, logger } = this.#parts;
    const dryRun = form.get('dryRun') === 'on';
    const target = (form.get('target') ?? '').trim();
    const logged = target.slice(0, 300);
    let view: RestoreView;
    let status = 200;
    try {
      const selection = restoreTarget(target);
      const { report } = await restoreFrom({ undo, cluster: client, events }, { runId, selection, dryRun });
      logger.info(
        { user: caller.decision.user, runId, dryRun, target: logged, counts: report.counts },
        dryRun ? 'restore shown from the dashboard (dry run)' : 'run restored from the dashboard',
      );
      view = { dryRun, target, report };
    } catch (error) {
      const code = error instanceof PrunerError ? error.code : undefined;
      status = code === 'PRUNER_USAGE' ? 400 : code === 'PRUNER_UNDO_RECORD_MISSING' ? 409 : 500;
      logger.warn(
        { user: caller.decision.user, runId, dryRun, target: logged, error: describeError(error) },
        'restore from the dashboard failed',
      );
      view = { dryRun, target, error: describeError(error) };
    }
    try {
      send(
        response,
        status,
        'text/html; charset=utf-8',
        await this.#run(caller, runId, new URLSearchParams(), view),
      );
    } catch (error) {
      send(
        response,
        500,
        'text/html; charset=utf-8',
        errorPage(this.#frame(caller, 'Error'), describeError(error)),
      );
    }
  }

  async #approve(response: ServerResponse, caller: Caller, runId: string): Promise<void> {
    try {
      const dry = await approvableRun(this.#parts.store, runId);
      const next = newManualRunId();
      const data: PlanJobData = { trigger: 'manual', confirm: true, approve: dry.runId };
      await this.#parts.queue.add(JobNames.plan, data, {
        ...planJobOptions(this.#parts.settings),
        jobId: next,
      });
      this.#parts.logger.info(
        { user: caller.decision.user, approved: dry.runId, planId: dry.planId, runId: next },
        'plan approved',
      );
      redirect(response, `/runs/${encodeURIComponent(next)}`);
    } catch (error) {
      send(
        response,
        409,
        'text/html; charset=utf-8',
        errorPage(this.#frame(caller, 'Cannot approve'), describeError(error)),
      );
    }
  }

  async #overview(): Promise<OverviewData> {
    const { settings, client, store, undo, queue } = this.#parts;
    const status = await readStatus(queue, store, undo, RUNS_SHOWN);
    const mode: OverviewData['mode'] = { setting: settings.mode };
    if (settings.mode === 'auto') {
      try {
        const state = await readManagementState(client);
        mode.effective = pruneModeFor(state);
        if (state !== undefined) mode.managementState = state;
      } catch (error) {
        mode.error = describeError(error);
      }
    }
    return { status, confirm: settings.confirm, mode };
  }

  async #progress(response: ServerResponse, runId: string): Promise<void> {
    const { store } = this.#parts;
    const record = await store.getRun(runId);
    const progress =
      (record !== undefined && runIsOver(record.status) ? record.progress : undefined) ??
      (await store.getProgress(runId));
    send(
      response,
      200,
      'application/json',
      JSON.stringify({
        runId,
        status: record?.status ?? 'queued',
        over: record !== undefined && runIsOver(record.status),
        unitsDone: progress?.unitsDone ?? 0,
        unitsTotal: progress?.unitsTotal ?? 0,
        bytesFreed: progress?.bytesFreed ?? 0,
      }),
    );
  }

  async #explain(caller: Caller, query: URLSearchParams): Promise<string> {
    const frame = this.#frame(caller, 'Explain', 'explain');
    const runs = (await this.#parts.store.listRuns(RUNS_SHOWN)).filter(
      (run) => run.dryRun && run.status === 'succeeded',
    );
    const ref = query.get('ref') ?? undefined;
    const run = query.get('run') ?? runs[0]?.runId;
    const asked = { ...(run !== undefined ? { run } : {}), ...(ref !== undefined ? { ref } : {}) };
    if (ref === undefined || ref === '') return explainPage(frame, runs, asked);
    if (run === undefined)
      return explainPage(
        frame,
        runs,
        asked,
        undefined,
        'There is no dry run to explain with: start one first.',
      );
    try {
      return explainPage(frame, runs, asked, await explain(this.#parts.explorer, run, ref));
    } catch (error) {
      return explainPage(frame, runs, asked, undefined, describeError(error));
    }
  }

  async #explorer(caller: Caller, runId: string, query: URLSearchParams): Promise<[number, string]> {
    const { explorer, store } = this.#parts;
    const head = await explorer.head(runId);
    if (head === undefined) throw noIndex(runId);
    const view = viewOf(runId, query);
    let level: ExplorerLevel;
    if (view.tag !== undefined && view.stream !== undefined && view.ns !== undefined)
      level = { kind: 'items', items: await explorer.items(runId, `${view.ns}/${view.stream}`, view.tag) };
    else if (view.stream !== undefined && view.ns !== undefined)
      level = {
        kind: 'rows',
        level: 'tag',
        rows: sortRows(await explorer.tags(runId, `${view.ns}/${view.stream}`), view),
        hrefOf: (row) => explorerHref({ ...view, page: 1 }, { tag: row.name }),
      };
    else if (view.ns !== undefined)
      level = {
        kind: 'rows',
        level: 'stream',
        rows: sortRows(await explorer.streams(runId, view.ns), view),
        hrefOf: (row) => explorerHref({ ...view, page: 1 }, { stream: row.name }),
      };
    else
      level = {
        kind: 'rows',
        level: 'namespace',
        rows: sortRows(await explorer.namespaces(runId), view),
        hrefOf: (row) => explorerHref({ ...view, page: 1 }, { ns: row.name }),
      };
    const record = await store.getRun(runId);
    const approvable =
      record?.dryRun === true &&
      record.status === 'succeeded' &&
      (await store.getPlanHead(runId)) !== undefined;
    const title = `Plan of ${runId}${view.ns !== undefined && view.ns !== NO_STREAM ? ` · ${view.ns}` : ''}`;
    return [
      200,
      explorerPage(this.#frame(caller, title, 'plans'), view, head, level, {
        approvable,
        allowed: caller.decision.canApprove,
        csrf: caller.csrf,
      }),
    ];
  }

  async #run(caller: Caller, runId: string, query: URLSearchParams, restored?: RestoreView): Promise<string> {
    const { store, undo } = this.#parts;
    const record = await store.getRun(runId);
    const over = record !== undefined && runIsOver(record.status);
    const progress = over ? record.progress : await store.getProgress(runId);
    const asked = Number(query.get('page') ?? '1');
    const page = Number.isSafeInteger(asked) && asked > 0 ? asked : 1;
    const { total, units } = await store.unitResultPage(runId, (page - 1) * PAGE_SIZE, PAGE_SIZE);
    const head = await undo.head(runId);
    return runPage(this.#frame(caller, `Run ${runId}`), {
      ...(head !== undefined ? { undo: head } : {}),
      restoreAccess: { allowed: caller.decision.canApprove, csrf: caller.csrf },
      ...(restored !== undefined ? { restored } : {}),
      runId,
      ...(record !== undefined ? { record } : {}),
      ...(progress !== undefined ? { progress } : {}),
      units,
      total,
      page,
    });
  }
}
