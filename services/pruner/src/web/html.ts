/**
 * Server-rendered HTML for the dashboard: a tagged template that escapes every value it is given (only
 * {@link Html} values, made by the template itself, pass through), the page layout, and the SVG bar chart
 * (drawn on the server, so it needs no script and no library; every bar carries its number as text, so it
 * reads without colour).
 */
import { formatBytes } from '@registry-push/core';

/** Markup that is already safe. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;',
  );
}

type Value = Html | string | number | boolean | undefined | null | readonly Value[];

function render(value: Value): string {
  if (value === undefined || value === null || value === false) return '';
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map((v: Value) => render(v)).join('');
  return escapeHtml(String(value));
}

/** The template: `html\`<p>${text}</p>\`` escapes `text`. */
export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

/** What every page shows in its frame. */
export interface Frame {
  title: string;
  /** The signed-in user, with what they may do. */
  user?: { name: string; canApprove: boolean; csrf?: string };
  /** The navigation entry that is current. */
  current?: 'overview' | 'plans' | 'explain';
}

/** A whole page. */
export function page(frame: Frame, body: Html): string {
  const nav = (key: Frame['current'], href: string, label: string): Html =>
    html`<li>
      <a href="${href}" ${frame.current === key ? new Html(' aria-current="page"') : ''}>${label}</a>
    </li>`;
  const user =
    frame.user === undefined
      ? ''
      : html`<p class="who">
          Signed in as
          <strong>${frame.user.name}</strong> (${frame.user.canApprove ? 'may approve' : 'read only'})
          ${frame.user.csrf !== undefined ? html`<form method="post" action="/logout" class="inline"><input type="hidden" name="csrf" value="${frame.user.csrf}" /><button type="submit">Sign out</button></form>` : ''}
        </p>`;
  return `<!doctype html>
${
  html`<html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>${frame.title} · registry-pruner</title>
      <link rel="stylesheet" href="/static/app.css" />
      <script src="/static/app.js" defer></script>
    </head>
    <body>
      <a class="skip" href="#main">Skip to content</a>
      <header>
        <p class="brand">registry-pruner</p>
        ${
          frame.user === undefined
            ? ''
            : html`<nav aria-label="Main">
                <ul>
                  ${nav('overview', '/', 'Overview')}${nav('plans', '/plans', 'Plans')}${nav('explain', '/explain', 'Explain')}
                </ul>
              </nav>`
        }${user}
      </header>
      <main id="main">
        <h1>${frame.title}</h1>
        ${body}
      </main>
    </body>
  </html>`.text
}`;
}

/** One bar of {@link barChart}. */
export interface Bar {
  label: string;
  value: number;
  /** Where the bar leads (its run, its namespace). */
  href?: string;
}

/**
 * A horizontal bar chart of byte values as inline SVG: one row per bar with its label, the bar and its
 * value as text. `title` names it for screen readers.
 */
export function barChart(title: string, bars: readonly Bar[]): Html {
  if (bars.length === 0) return html`<p>No data for the chart yet.</p>`;
  const rowHeight = 24;
  const labelWidth = 360;
  const barWidth = 360;
  const max = Math.max(1, ...bars.map((bar) => bar.value));
  const height = bars.length * rowHeight + 8;
  const rows = bars.map((bar, i) => {
    const y = i * rowHeight + 4;
    const width = bar.value > 0 ? Math.max(2, Math.round((bar.value / max) * barWidth)) : 0;
    const label = bar.label.length > 46 ? `${bar.label.slice(0, 45)}…` : bar.label;
    const text = html`<text x="0" y="${y + 16}" class="chart-label">${label}</text>`;
    return html`<g class="bar"
      ><title>${bar.label}: ${formatBytes(bar.value)}</title>${
        bar.href === undefined ? text : html`<a href="${bar.href}">${text}</a>`
      }<rect
        x="${labelWidth}"
        y="${y + 3}"
        width="${width}"
        height="${rowHeight - 8}"
        class="chart-bar"
      ></rect
      ><text x="${labelWidth + width + 6}" y="${y + 16}" class="chart-value"
        >${formatBytes(bar.value)}</text
      ></g
    >`;
  });
  return html`<figure class="chart">
    <svg
      role="img"
      aria-label="${title}"
      viewBox="0 0 ${labelWidth + barWidth + 110} ${height}"
      width="100%"
      preserveAspectRatio="xMinYMin meet"
      xmlns="http://www.w3.org/2000/svg"
    >
      ${rows}
    </svg>
    <figcaption>${title}</figcaption>
  </figure>`;
}

/** A progress bar with its numbers as text (the script updates both while a run goes on). */
export function progressBar(runId: string, done: number, total: number, bytes: number, over: boolean): Html {
  return html`<div class="progress" data-run="${runId}" data-over="${over ? 'yes' : 'no'}">
    <label for="progress-${runId}">Units done</label>
    <progress
      id="progress-${runId}"
      max="${Math.max(total, 1)}"
      value="${Math.min(done, Math.max(total, 1))}"
    >
      ${done}/${total}
    </progress>
    <p>
      <span class="units" data-field="units">${done}/${total} units</span> ·
      <span data-field="bytes">${formatBytes(bytes)} freed</span> ·
      <span data-field="state">${over ? 'finished' : 'in progress'}</span>
    </p>
  </div>`;
}
