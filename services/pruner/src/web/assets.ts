/**
 * The dashboard's two static files, served from the process (no CDN: it must work in a disconnected
 * cluster). The style never relies on colour alone: actions are words, bars carry their numbers, the
 * focused control has a thick outline. The script only makes progress bars live (polling
 * `/progress.json` once a second); every page works without it.
 */

/** `/static/app.css`. */
export const APP_CSS = `
:root { font-family: system-ui, sans-serif; line-height: 1.4; color: #111; background: #fff; }
body { margin: 0 auto; max-width: 72rem; padding: 0 1rem 2rem; }
.skip { position: absolute; left: -10000px; }
.skip:focus { position: static; }
header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: baseline; border-bottom: 2px solid #111; }
header ul { display: flex; gap: 1rem; list-style: none; padding: 0; }
.brand { font-weight: bold; }
.who { margin-left: auto; }
a[aria-current="page"] { font-weight: bold; text-decoration: underline double; }
a:focus, button:focus, input:focus, select:focus { outline: 3px solid #000; outline-offset: 2px; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { border: 1px solid #666; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.action-delete { font-weight: bold; }
.action-delete::before { content: "✗ "; }
.action-keep::before { content: "✓ "; }
.action-update::before { content: "~ "; }
.inline { display: inline; }
button { font: inherit; padding: 0.25rem 0.75rem; border: 2px solid #111; background: #eee; cursor: pointer; }
button.primary { background: #111; color: #fff; }
.chart svg { max-width: 48rem; }
.chart-label, .chart-value { font-size: 13px; fill: #111; }
.chart-bar { fill: #555; stroke: #111; }
progress { width: 100%; max-width: 40rem; height: 1.5rem; }
.error { border: 2px solid #111; padding: 0.5rem; font-weight: bold; }
.error::before { content: "Error: "; }
.notice { border: 2px dashed #111; padding: 0.5rem; }
nav.pages { display: flex; gap: 1rem; }
code { word-break: break-all; }
`;

/** `/static/app.js`. */
export const APP_JS = `
'use strict';
function formatBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? String(n) : n.toFixed(1)) + ' ' + units[i];
}
function follow(box) {
  const run = box.dataset.run;
  const bar = box.querySelector('progress');
  const tick = async () => {
    let data;
    try {
      const response = await fetch('/progress.json?run=' + encodeURIComponent(run), { credentials: 'same-origin' });
      if (!response.ok) return setTimeout(tick, 2000);
      data = await response.json();
    } catch (e) { return setTimeout(tick, 2000); }
    bar.max = Math.max(data.unitsTotal, 1);
    bar.value = Math.min(data.unitsDone, bar.max);
    bar.textContent = data.unitsDone + '/' + data.unitsTotal;
    box.querySelector('[data-field=units]').textContent = data.unitsDone + '/' + data.unitsTotal + ' units';
    box.querySelector('[data-field=bytes]').textContent = formatBytes(data.bytesFreed) + ' freed';
    box.querySelector('[data-field=state]').textContent = data.over ? 'finished (' + data.status + ')' : 'in progress';
    box.dataset.over = data.over ? 'yes' : 'no';
    box.dataset.status = data.status;
    if (!data.over) setTimeout(tick, 1000);
  };
  tick();
}
document.addEventListener('DOMContentLoaded', () => {
  document.querySelectorAll('.progress[data-over=no]').forEach(follow);
});
`;
