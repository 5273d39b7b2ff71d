/**
 * The dashboard's pages, rendered from data the server has read: login, overview, the plans, the plan
 * explorer, explain, a run, and the error page. Pure functions of their inputs.
 */
import { formatBytes, type ItemResult, type PruneMode, type RestoreReport } from '@registry-push/core';
import type { StatusReport } from '../client.js';
import { runIsOver, type RunProgress, type RunRecord } from '../store/run-store.js';
import type { ModeSetting } from '../settings.js';
import type { UndoHead } from '../store/undo-store.js';
import type { Explanation } from './explain.js';
import { reasonOf, subjectOf } from './explain.js';
import type { ExplorerHead, ExplorerItem, ExplorerRow } from './explorer.js';
import { Html, barChart, html, page, progressBar, type Frame } from './html.js';

/** Rows shown per page in every table. */
export const PAGE_SIZE = 50;

/** The login form, with what went wrong last time. */
export function loginPage(message?: string): string {
  return page(
    { title: 'Sign in' },
    html`${message !== undefined ? html`<p class="error" role="alert">${message}</p>` : ''}
      <p>
        Sign in with your OpenShift token (<code>oc whoami -t</code>). Reading needs <code>get</code> on the
        ImagePruner <code>cluster</code>; approving a plan needs <code>update</code> on it.
      </p>
      <form method="post" action="/login">
        <p>
          <label for="token">Token</label><br />
          <input id="token" name="token" type="password" autocomplete="off" required size="60" autofocus />
        </p>
        <p><button type="submit" class="primary" id="sign-in">Sign in</button></p>
      </form>`,
  );
}

/** An error page: what happened and what to do. */
export function errorPage(frame: Frame, message: string, hint?: string): string {
  return page(
    frame,
    html`<p class="error" role="alert">${message}</p>
      ${hint !== undefined && hint !== '' ? html`<p>${hint}</p>` : ''}
      <p><a href="/">Back to the overview</a></p>`,
  );
}

/** What the overview shows. */
export interface OverviewData {
  status: StatusReport;
  confirm: boolean;
  mode: { setting: ModeSetting; effective?: PruneMode; managementState?: string; error?: string };
}

function modeText(mode: OverviewData['mode']): string {
  if (mode.setting !== 'auto')
    return `${mode.setting}: forced by PRUNER_MODE (or --mode); the registry's managementState is not consulted.`;
  if (mode.error !== undefined)
    return `auto: the registry operator config cannot be read now (${mode.error}).`;
  const what =
    mode.effective === 'full'
      ? 'runs prune Images, ImageStreams and registry storage'
      : 'runs prune Images and ImageStreams only; registry storage is left alone';
  return `auto → ${mode.effective ?? 'unknown'}: the registry's managementState is ${mode.managementState ?? 'unset (Managed)'}, so ${what}.`;
}

function runLink(run: RunRecord): Html {
  return html`<a href="/runs/${encodeURIComponent(run.runId)}">${run.runId}</a>`;
}

function bytesOf(run: RunRecord): number {
  return run.progress?.bytesFreed ?? run.summary?.bytesFreed ?? 0;
}

function runsTable(runs: readonly RunRecord[]): Html {
  if (runs.length === 0) return html`<p>No runs yet.</p>`;
  return html`<table>
    <caption>
      Last runs, newest first
    </caption>
    <thead>
      <tr>
        <th scope="col">Run</th>
        <th scope="col">Kind</th>
        <th scope="col">Status</th>
        <th scope="col">Mode</th>
        <th scope="col">Started</th>
        <th scope="col" class="num">Units</th>
        <th scope="col" class="num">Freed</th>
        <th scope="col">Plan</th>
      </tr>
    </thead>
    <tbody>
      ${runs.map(
        (run) =>
          html`<tr>
            <td>${runLink(run)}</td>
            <td>
              ${run.dryRun ? 'dry run' : run.approvedFrom !== undefined ? `approved (${run.approvedFrom})` : 'confirmed'}
            </td>
            <td>${run.status}</td>
            <td>${run.mode ?? ''}</td>
            <td>${run.createdAt}</td>
            <td class="num">
              ${run.progress !== undefined ? `${run.progress.unitsDone}/${run.progress.unitsTotal}` : (run.units ?? '')}
            </td>
            <td class="num">${run.dryRun ? '—' : formatBytes(bytesOf(run))}</td>
            <td>
              ${run.dryRun && run.status === 'succeeded' ? html`<a href="/plans/${encodeURIComponent(run.runId)}">explore plan</a>` : ''}
            </td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

function scheduleText(data: OverviewData): Html {
  const { schedule } = data.status;
  if (!schedule.active)
    return html`<p>
      No schedule: ${schedule.suspended === true ? 'the ImagePruner is suspended' : 'none is applied yet'}.
      Runs start only when triggered.
    </p>`;
  return html`<p>
    Schedule <code>${schedule.pattern ?? ''}</code> (UTC); next run
    <time>${schedule.next ?? 'unknown'}</time>; scheduled runs are
    ${data.confirm ? 'confirmed (they delete)' : 'dry runs (PRUNER_CONFIRM is not set)'}.
  </p>`;
}

/** The overview: schedule, mode, the run in progress, the last runs and the chart of freed storage. */
export function overviewPage(frame: Frame, data: OverviewData): string {
  const { status } = data;
  const schedule = scheduleText(data);
  const active = status.activeRun;
  const activeRecord = status.runs.find((run) => run.runId === active);
  const progress: RunProgress | undefined = status.activeProgress;
  const confirmed = status.runs.filter((run) => !run.dryRun && run.status === 'succeeded').reverse();
  return page(
    frame,
    html`<section aria-labelledby="h-schedule">
        <h2 id="h-schedule">Schedule and mode</h2>
        ${schedule}
        <p>Mode: ${modeText(data.mode)}</p>
        ${status.lastSuccess !== undefined ? html`<p>Last success: <time>${status.lastSuccess}</time></p>` : ''}
      </section>
      <section aria-labelledby="h-active">
        <h2 id="h-active">Run in progress</h2>
        ${
          active === undefined
            ? html`<p>None.</p>`
            : html`<p>
                  ${activeRecord !== undefined ? runLink(activeRecord) : active}${activeRecord?.dryRun === true ? ' (dry run)' : ''}
                </p>
                ${progressBar(active, progress?.unitsDone ?? 0, progress?.unitsTotal ?? 0, progress?.bytesFreed ?? 0, false)}`
        }
      </section>
      <section aria-labelledby="h-chart">
        <h2 id="h-chart">Registry storage freed per run</h2>
        ${barChart(
          'Registry storage freed per confirmed run, oldest first',
          confirmed.map((run) => ({
            label: `${run.createdAt.slice(0, 16).replace('T', ' ')} ${run.runId}`,
            value: bytesOf(run),
            href: `/runs/${encodeURIComponent(run.runId)}`,
          })),
        )}
      </section>
      <section aria-labelledby="h-runs">
        <h2 id="h-runs">Last runs</h2>
        ${runsTable(status.runs)}
      </section>`,
  );
}

/** The list of dry runs whose plans can be explored. */
export function plansPage(frame: Frame, runs: readonly RunRecord[]): string {
  const dry = runs.filter((run) => run.dryRun);
  return page(
    frame,
    html`<p>Every dry run stores its plan for 24 hours: explore it, ask why an image is kept, approve it.</p>
      ${runsTable(dry)}`,
  );
}

/** Where the explorer is: the level and its sort and page. */
export interface ExplorerView {
  runId: string;
  ns?: string;
  stream?: string;
  tag?: string;
  sort: 'bytes' | 'changes' | 'keeps' | 'name';
  dir: 'asc' | 'desc';
  page: number;
}

/** The explorer's URL for a view. */
export function explorerHref(view: ExplorerView, change: Partial<ExplorerView> = {}): string {
  const next = { ...view, ...change };
  const query = new URLSearchParams();
  if (next.ns !== undefined) query.set('ns', next.ns);
  if (next.stream !== undefined) query.set('stream', next.stream);
  if (next.tag !== undefined) query.set('tag', next.tag);
  query.set('sort', next.sort);
  query.set('dir', next.dir);
  if (next.page > 1) query.set('page', String(next.page));
  return `/plans/${encodeURIComponent(next.runId)}?${query.toString()}`;
}

/** Sorts rows as the view asks (name ties broken by name). */
export function sortRows(rows: ExplorerRow[], view: ExplorerView): ExplorerRow[] {
  const sign = view.dir === 'asc' ? 1 : -1;
  const byName = (a: ExplorerRow, b: ExplorerRow): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return rows.sort((a, b) =>
    view.sort === 'name' ? sign * byName(a, b) : sign * (a[view.sort] - b[view.sort]) || byName(a, b),
  );
}

function pager(view: ExplorerView, total: number): Html {
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  if (pages === 1) return html``;
  return html`<nav class="pages" aria-label="Pages">
    <span>Page ${view.page} of ${pages} (${total} rows)</span>${
      view.page > 1
        ? html`<a href="${explorerHref(view, { page: view.page - 1 })}" rel="prev">Previous page</a>`
        : ''
    }${view.page < pages ? html`<a href="${explorerHref(view, { page: view.page + 1 })}" rel="next">Next page</a>` : ''}
  </nav>`;
}

function sortHeader(view: ExplorerView, key: ExplorerView['sort'], label: string, numeric: boolean): Html {
  const current = view.sort === key;
  const dir = current && view.dir === 'desc' ? 'asc' : 'desc';
  const state = current ? (view.dir === 'desc' ? 'descending' : 'ascending') : 'none';
  return html`<th scope="col" aria-sort="${state}" ${numeric ? new Html(' class="num"') : ''}>
    <a href="${explorerHref(view, { sort: key, dir, page: 1 })}"
      >${label}${current ? (view.dir === 'desc' ? ' ↓' : ' ↑') : ''}</a
    >
  </th>`;
}

function rowsTable(
  view: ExplorerView,
  level: string,
  rows: readonly ExplorerRow[],
  hrefOf: (row: ExplorerRow) => string,
): Html {
  const start = (view.page - 1) * PAGE_SIZE;
  const shown = rows.slice(start, start + PAGE_SIZE);
  return html`${barChart(
      `Reclaimable storage by ${level} (this page)`,
      shown.map((row) => ({ label: row.name, value: row.bytes, href: hrefOf(row) })),
    )}
    <table>
      <caption>
        ${level}s of the plan, ${rows.length} in all
      </caption>
      <thead>
        <tr>
          ${sortHeader(view, 'name', level, false)}${sortHeader(view, 'bytes', 'Reclaimable', true)}${sortHeader(view, 'changes', 'Deletes and updates', true)}${sortHeader(view, 'keeps', 'Kept', true)}
        </tr>
      </thead>
      <tbody>
        ${shown.map(
          (row) =>
            html`<tr>
              <td><a href="${hrefOf(row)}">${row.name}</a></td>
              <td class="num">${formatBytes(row.bytes)}</td>
              <td class="num">${row.changes}</td>
              <td class="num">${row.keeps}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${pager(view, rows.length)}`;
}

function itemsTable(view: ExplorerView, head: ExplorerHead, items: readonly ExplorerItem[]): Html {
  const start = (view.page - 1) * PAGE_SIZE;
  const shown = items.slice(start, start + PAGE_SIZE);
  return html`<table>
      <caption>
        Decisions, ${items.length} in all
      </caption>
      <thead>
        <tr>
          <th scope="col">Action</th>
          <th scope="col">What</th>
          <th scope="col">Why (rule)</th>
          <th scope="col" class="num">Frees</th>
          <th scope="col">Explain</th>
        </tr>
      </thead>
      <tbody>
        ${shown.map(
          (item) =>
            html`<tr>
              <td class="action-${item.action}">${item.action}</td>
              <td><code>${subjectOf(item)}</code></td>
              <td>${reasonOf(item, head)} <small>(${item.rule})</small></td>
              <td class="num">${item.action === 'delete' ? formatBytes(item.bytes) : ''}</td>
              <td>
                ${item.digest !== undefined ? html`<a href="/explain?run=${encodeURIComponent(view.runId)}&amp;ref=${encodeURIComponent(item.digest)}">why</a>` : ''}
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${pager(view, items.length)}`;
}

/** The level's content of the explorer. */
export type ExplorerLevel =
  | { kind: 'rows'; level: string; rows: ExplorerRow[]; hrefOf: (row: ExplorerRow) => string }
  | { kind: 'items'; items: ExplorerItem[] };

/** What the approve control shows. */
export interface ApproveState {
  /** The run may be approved (a dry run that succeeded and still has its plan). */
  approvable: boolean;
  /** The user may approve. */
  allowed: boolean;
  csrf?: string;
}

function approveBlock(view: ExplorerView, state: ApproveState): Html {
  if (!state.approvable)
    return html`<p class="notice">
      This plan cannot be approved (it is not a finished dry run, or its plan is no longer stored).
    </p>`;
  if (!state.allowed)
    return html`<p class="notice">
      You may read this plan. Approving it needs <code>update</code> on the ImagePruner <code>cluster</code>.
    </p>`;
  return html`<form method="post" action="/plans/${encodeURIComponent(view.runId)}/approve">
    <input type="hidden" name="csrf" value="${state.csrf ?? ''}" />
    <p>
      Approving runs this plan confirmed: every change is checked again against the cluster of now, and what
      changed since the dry run is reported, not carried out.
    </p>
    <p><button type="submit" class="primary" id="approve">Approve and run this plan</button></p>
  </form>`;
}

function breadcrumbs(view: ExplorerView): Html {
  const crumbs: Html[] = [
    html`<a href="${explorerHref({ ...view, page: 1 }, { ns: undefined, stream: undefined, tag: undefined })}"
      >all namespaces</a
    >`,
  ];
  if (view.ns !== undefined)
    crumbs.push(
      html`<a href="${explorerHref({ ...view, page: 1 }, { stream: undefined, tag: undefined })}"
        >${view.ns}</a
      >`,
    );
  if (view.stream !== undefined)
    crumbs.push(html`<a href="${explorerHref({ ...view, page: 1 }, { tag: undefined })}">${view.stream}</a>`);
  if (view.tag !== undefined) crumbs.push(html`<span>${view.tag}</span>`);
  return html`<nav aria-label="Breadcrumb">
    <p>${crumbs.map((crumb, i) => html`${i > 0 ? ' › ' : ''}${crumb}`)}</p>
  </nav>`;
}

/** The plan explorer page. */
export function explorerPage(
  frame: Frame,
  view: ExplorerView,
  head: ExplorerHead,
  level: ExplorerLevel,
  approve: ApproveState,
): string {
  const counts = Object.entries(head.counts).map(
    ([kind, byAction]) =>
      html`<tr>
        <th scope="row">${kind}</th>
        <td class="num">${byAction?.delete ?? 0}</td>
        <td class="num">${byAction?.update ?? 0}</td>
        <td class="num">${byAction?.keep ?? 0}</td>
      </tr>`,
  );
  return page(
    frame,
    html`<p>
        Plan <code>${head.planId}</code> of dry run
        <a href="/runs/${encodeURIComponent(head.runId)}">${head.runId}</a> (${head.mode} mode, planned
        <time>${head.now}</time>): <strong>${formatBytes(head.bytesFreed)}</strong> of registry storage
        reclaimable, ${head.items} decisions; ${head.keepTagRevisions} revisions kept per tag, nothing younger
        than ${Math.round(head.keepYoungerThanMs / 60_000)} min.
      </p>
      ${approveBlock(view, approve)}
      <details>
        <summary>Counts by kind</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">Kind</th>
              <th scope="col" class="num">Delete</th>
              <th scope="col" class="num">Update</th>
              <th scope="col" class="num">Keep</th>
            </tr>
          </thead>
          <tbody>
            ${counts}
          </tbody>
        </table>
      </details>
      ${breadcrumbs(view)}
      ${level.kind === 'rows' ? rowsTable(view, level.level, level.rows, level.hrefOf) : itemsTable(view, head, level.items)}`,
  );
}

/** The explain page: the search form and, once asked, the answer. */
export function explainPage(
  frame: Frame,
  runs: readonly RunRecord[],
  asked: { run?: string; ref?: string },
  answer?: Explanation,
  problem?: string,
): string {
  const options = runs.map(
    (run) =>
      html`<option value="${run.runId}" ${asked.run === run.runId ? new Html(' selected') : ''}>
        ${run.runId} (${run.createdAt})
      </option>`,
  );
  return page(
    frame,
    html`<form method="get" action="/explain">
        <p>
          <label for="ref">Image digest or <code>namespace/name:tag</code></label
          ><br />
          <input
            id="ref"
            name="ref"
            size="80"
            value="${asked.ref ?? ''}"
            required
            placeholder="sha256:… or demo/web:latest"
          />
        </p>
        <p>
          <label for="run">Dry run</label><br /><select id="run" name="run">
            ${options}
          </select>
        </p>
        <p><button type="submit" class="primary" id="explain-button">Explain</button></p>
      </form>
      ${problem !== undefined ? html`<p class="error" role="alert">${problem}</p>` : ''}${
        answer === undefined
          ? ''
          : answer.lines.length === 0
            ? html`<p role="status">
                <code>${answer.ref}</code> is not in the plan of dry run ${answer.runId}: the plan has no
                decision about it.
              </p>`
            : html`<section aria-labelledby="h-answer">
                <h2 id="h-answer">Why, for <code>${answer.ref}</code></h2>
                <p>
                  In plan <code>${answer.planId}</code> of dry run
                  <a href="/runs/${encodeURIComponent(answer.runId)}">${answer.runId}</a>:
                </p>
                <ul class="explain">
                  ${answer.lines.map(
                    (line) =>
                      html`<li>
                        <strong class="action-${line.action}">${line.action}</strong>
                        <code>${line.subject}</code>: ${line.reason} <small>(rule ${line.rule})</small>
                      </li>`,
                  )}
                </ul>
              </section>`
      }`,
  );
}

/** The fix shown next to a failure code in a run's results. */
const FIXES: Record<string, string> = {
  FORBIDDEN:
    "Give the worker's ServiceAccount the permission named in the message (deploy/rbac.yaml), then run again.",
  REGISTRY_DENIED:
    "The registry refused the delete: check the role system:image-pruner and the registry's pruning settings.",
  REGISTRY_UNREACHABLE:
    'Check that the registry is up and PRUNER_REGISTRY_HOST / PRUNER_REGISTRY_CA_FILE are right; the next run retries.',
  PRUNE_VIEW_STALE:
    'The worker could not show its view of the cluster is current (a watch stopped); the unit is retried, or the next run picks it up.',
  PRUNER_UNIT_LOST: 'Nobody finished the unit; the next run picks its items up again.',
};

/** What a run page shows. */
export interface RunData {
  runId: string;
  record?: RunRecord;
  progress?: RunProgress;
  /** The units of this page, in plan order. */
  units: { unit: string; status: string; items: ItemResult[] }[];
  /** Units of the run in all. */
  total: number;
  page: number;
  /** The head of the run's undo record, when it has one. */
  undo?: UndoHead;
  /** Whether the caller may restore (`update` on the ImagePruner), and the CSRF value the form carries. */
  restoreAccess?: { allowed: boolean; csrf: string };
  /** What the restore form just did. */
  restored?: RestoreView;
}

/** The answer to the run page's restore form. */
export interface RestoreView {
  dryRun: boolean;
  /** What the form named (empty: the whole run). */
  target: string;
  report?: RestoreReport;
  /** Why nothing was done, in words. */
  error?: string;
}

/** Objects of a restore report listed on the page; the rest are counted. */
export const RESTORE_SHOWN = 200;

function failuresOf(units: RunData['units']): ItemResult[] {
  return units.flatMap((unit) => unit.items.filter((item) => item.outcome === 'failed'));
}

/** A run: its record, progress, notes (an approval's report), failures with fixes and per-unit results. */
export function runPage(frame: Frame, data: RunData): string {
  const { record } = data;
  const over = record !== undefined && runIsOver(record.status);
  const progress = data.progress ?? record?.progress;
  return page(
    frame,
    html`${runHeader(data.runId, record)}
    ${progressBar(data.runId, progress?.unitsDone ?? 0, progress?.unitsTotal ?? 0, progress?.bytesFreed ?? 0, over)}
    ${record !== undefined ? runNotes(record) : ''} ${undoSection(data)} ${errorCodes(record)}
    ${failuresSection(failuresOf(data.units))} ${unitsSection(data)}`,
  );
}

/** The run's undo window: until when it can be restored, the restore form, and the last restore's report. */
function undoSection(data: RunData): Html {
  const { undo, record } = data;
  if (undo === undefined && (record === undefined || record.dryRun || !runIsOver(record.status)))
    return html``;
  return html`<section aria-labelledby="h-undo">
    <h2 id="h-undo">Undo window</h2>
    ${undo === undefined ? html`<p id="undo-state">This run has no undo record (it ran with a window of 0, or its record expired or was lost): it cannot be restored.</p>` : undoState(data, undo)}
    ${data.restored !== undefined ? restoreReport(data.restored) : ''}
  </section>`;
}

function undoState(data: RunData, undo: UndoHead): Html {
  if (undo.state === 'registry-running' || undo.state === 'closed')
    return html`<p class="notice" id="undo-state">
      Too late to restore: the undo window
      closed${undo.registryAt !== undefined ? html` at <time>${undo.registryAt}</time>` : ''} and the registry
      phase ${undo.state === 'closed' ? 'has deleted' : 'is deleting'} the data of what this run removed.
    </p>`;
  if (undo.state === 'refused')
    return html`<p class="notice" id="undo-state">
      The registry phase refused to run: the undo record is
      incomplete${undo.error !== undefined ? ` (${undo.error})` : ''}. Nothing was deleted from the registry,
      and the run cannot be restored.
    </p>`;
  const until =
    undo.mode === 'metadata'
      ? html`Its window never closes: a metadata-mode run deletes nothing from the registry.`
      : undo.registryAt !== undefined
        ? html`Open until <time id="undo-end">${undo.registryAt}</time>, when the registry phase deletes the
            data of what it removed.`
        : html`The run is still removing and recording; the window ends ${Math.round(undo.windowMs / 60_000)}
          min after it ends.`;
  const access = data.restoreAccess;
  const form =
    access === undefined || !access.allowed
      ? html`<p class="notice">
          Restoring needs <code>update</code> on the ImagePruner <code>cluster</code>.
        </p>`
      : html`<form method="post" action="/runs/${encodeURIComponent(data.runId)}/restore" id="restore-form">
          <input type="hidden" name="csrf" value="${access.csrf}" />
          <p>
            <label for="restore-target"
              >Only this image digest or <code>NAMESPACE/NAME[:TAG]</code> (empty: the whole run)</label
            ><br />
            <input
              id="restore-target"
              name="target"
              size="60"
              autocomplete="off"
              value="${data.restored?.target ?? ''}"
            />
          </p>
          <p>
            <input type="checkbox" id="restore-dry-run" name="dryRun" value="on" />
            <label for="restore-dry-run">Dry run: show what would be restored, change nothing</label>
          </p>
          <p><button type="submit" class="primary" id="restore">Restore this run</button></p>
        </form>`;
  return html`<p id="undo-state">
      What this run removed can be restored (${undo.recorded} record entries). ${until}
    </p>
    ${form}`;
}

function restoreReport(view: RestoreView): Html {
  const what = view.target === '' ? 'the whole run' : view.target;
  if (view.error !== undefined || view.report === undefined)
    return html`<p class="error" role="alert" id="restore-error">
      ${view.error ?? 'Nothing was restored.'}
    </p>`;
  const { items, counts } = view.report;
  const line = Object.entries(counts)
    .map(([outcome, n]) => `${n ?? 0} ${outcome}`)
    .join(', ');
  const more = items.length - RESTORE_SHOWN;
  return html`<section aria-labelledby="h-restore" id="restore-report">
    <h3 id="h-restore">${view.dryRun ? 'Dry run of a restore' : 'Restored'}: ${what}</h3>
    <p role="status" id="restore-counts">${line === '' ? 'Nothing selected.' : line}</p>
    ${
      items.length === 0
        ? ''
        : html`<table>
            <thead>
              <tr>
                <th scope="col">Outcome</th>
                <th scope="col">Kind</th>
                <th scope="col">Object</th>
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody>
              ${items.slice(0, RESTORE_SHOWN).map(
                (item) =>
                  html`<tr>
                    <td>${item.outcome}</td>
                    <td>${item.kind}</td>
                    <td><code>${item.target}</code></td>
                    <td>${item.error !== undefined ? `${item.error.message} [${item.error.code}]` : ''}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
    }
    ${more > 0 ? html`<p id="restore-more">and ${more} more</p>` : ''}
  </section>`;
}

function runHeader(runId: string, record: RunRecord | undefined): Html {
  if (record === undefined)
    return html`<p>Status: <strong id="run-status">queued (no worker has taken the trigger yet)</strong></p>`;
  const finished = record.finishedAt !== undefined ? html` · finished <time>${record.finishedAt}</time>` : '';
  const approved =
    record.approvedFrom !== undefined
      ? html`<p>
          Carries out the approved plan of dry run
          <a href="/plans/${encodeURIComponent(record.approvedFrom)}">${record.approvedFrom}</a>.
        </p>`
      : '';
  const explore =
    record.dryRun && record.status === 'succeeded'
      ? html`<p><a href="/plans/${encodeURIComponent(runId)}">Explore this dry run's plan</a></p>`
      : '';
  return html`<p>
      Status: <strong id="run-status">${record.status}</strong> · ${record.dryRun ? 'dry run' : 'confirmed'} ·
      ${record.mode ?? ''} · started <time>${record.createdAt}</time>${finished}
    </p>
    ${approved}${explore}`;
}

function runNotes(record: RunRecord): Html {
  const error =
    record.error !== undefined
      ? html`<p class="error" role="alert">${record.error.message} [${record.error.code}]</p>`
      : html``;
  const notes = record.notes ?? [];
  if (notes.length === 0) return error;
  return html`${error}
    <section aria-labelledby="h-notes">
      <h2 id="h-notes">Notes</h2>
      <ul>
        ${notes.map((note) => html`<li>${note}</li>`)}
      </ul>
    </section>`;
}

/** A finished run's failed items by code, with the fix for each (the whole run, from its summary). */
function errorCodes(record: RunRecord | undefined): Html {
  const errors = Object.entries(record?.summary?.errors ?? {}).sort((a, b) => b[1] - a[1]);
  if (errors.length === 0) return html``;
  return html`<section aria-labelledby="h-codes">
    <h2 id="h-codes">Failed items by code</h2>
    <table>
      <thead>
        <tr>
          <th scope="col">Code</th>
          <th scope="col" class="num">Items</th>
          <th scope="col">Fix</th>
        </tr>
      </thead>
      <tbody>
        ${errors.map(
          ([code, count]) =>
            html`<tr>
              <td><code>${code}</code></td>
              <td class="num">${count}</td>
              <td>${FIXES[code] ?? 'See the error codes in the README; the next run retries the item.'}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

function failuresSection(failures: readonly ItemResult[]): Html {
  const rows = failures.slice(0, 200).map((item) => {
    const code = item.error?.code ?? '';
    return html`<tr>
      <td><code>${item.kind} ${item.target}</code></td>
      <td><code>${code}</code></td>
      <td>${item.error?.message ?? item.reason ?? ''}</td>
      <td>${FIXES[code] ?? 'See the error codes in the README; the next run retries the item.'}</td>
    </tr>`;
  });
  return html`<section aria-labelledby="h-failures">
    <h2 id="h-failures">Failures</h2>
    ${
      failures.length === 0
        ? html`<p>None.</p>`
        : html`<table>
            <thead>
              <tr>
                <th scope="col">Item</th>
                <th scope="col">Code</th>
                <th scope="col">What happened</th>
                <th scope="col">Fix</th>
              </tr>
            </thead>
            <tbody>
              ${rows}
            </tbody>
          </table>`
    }
  </section>`;
}

function unitsSection(data: RunData): Html {
  if (data.total === 0)
    return html`<section aria-labelledby="h-units">
      <h2 id="h-units">Units</h2>
      <p>No unit results yet.</p>
    </section>`;
  const pages = Math.max(1, Math.ceil(data.total / PAGE_SIZE));
  const href = (p: number): string => `/runs/${encodeURIComponent(data.runId)}?page=${p}`;
  const previous = data.page > 1 ? html`<a href="${href(data.page - 1)}">Previous page</a>` : '';
  const next = data.page < pages ? html`<a href="${href(data.page + 1)}">Next page</a>` : '';
  return html`<section aria-labelledby="h-units">
    <h2 id="h-units">Units</h2>
    <table>
      <caption>
        Unit results, ${data.total} in all
      </caption>
      <thead>
        <tr>
          <th scope="col">Unit</th>
          <th scope="col">Status</th>
          <th scope="col">Items</th>
        </tr>
      </thead>
      <tbody>
        ${data.units.map(
          (unit) =>
            html`<tr>
              <td><code>${unit.unit}</code></td>
              <td>${unit.status}</td>
              <td>${summarizeItems(unit.items)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${
      pages > 1
        ? html`<nav class="pages" aria-label="Pages">
            <span>Page ${data.page} of ${pages}</span>${previous}${next}
          </nav>`
        : ''
    }
  </section>`;
}

function summarizeItems(items: readonly ItemResult[]): string {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item.outcome, (counts.get(item.outcome) ?? 0) + 1);
  return [...counts].map(([outcome, n]) => `${n} ${outcome}`).join(', ') || 'none';
}
