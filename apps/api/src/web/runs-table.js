// The runs of the sweep page: the table of runs (its parameters, status and the chosen
// metric) and the list of failed runs with their errors. A row shows its run.
import { apiJson } from './api.js';
import { $, clickableRows, fill, h } from './dom.js';
import { fmtNum, getPath, paramsText } from './format.js';
import { showRun } from './run-view.js';
import { labelOf } from './sweep-fields.js';
import { badge } from './widgets.js';

/** @typedef {import('./sweep-fields.js').SweepView} SweepView */

/**
 * @param {SweepView} view
 * @param {any[]} items runs as GET /v1/sweeps/:id/runs lists them
 * @param {{ metric?: string, showError?: boolean }} [opts]
 */
function runsTable(view, items, { metric, showError: withError } = {}) {
  const vars = view.variables ?? [];
  const table = h('table', { class: 'data runs' },
    h('thead', null, h('tr', null,
      h('th', { scope: 'col', class: 'num' }, '#'),
      vars.map((v) => h('th', { scope: 'col', class: 'num' }, v)),
      h('th', { scope: 'col' }, 'status'),
      metric ? h('th', { scope: 'col', class: 'num', title: labelOf(view, metric) }, metric) : null,
      withError ? h('th', { scope: 'col' }, 'error') : h('th', { scope: 'col', class: 'num' }, 'attempts'))),
    h('tbody', null, items.map((r) => {
      const tr = h('tr', {
        class: 'clickable', tabindex: 0, dataset: { runId: r.id, index: r.index },
        'aria-label': `run ${r.index}: ${paramsText(r.params, vars)}`,
      },
      h('td', { class: 'num' }, r.index),
      vars.map((v) => h('td', { class: 'num' }, fmtNum(r.params?.[v]))),
      h('td', null, badge(r.status)),
      metric ? h('td', { class: 'num' }, fmtNum(getPath(r.summary, metric.replace(/^summary\./, '')))) : null,
      withError ? h('td', { class: 'error' }, r.error ?? '') : h('td', { class: 'num' }, r.attempts));
      if (r.id === view.selectedRunId) tr.classList.add('selected');
      return tr;
    })));
  clickableRows(table, (tr) => showRun(view, tr.dataset.runId));
  return table;
}

/** @param {SweepView} view */
export async function loadFailed(view) {
  const el = $('#failed');
  try {
    const page = await apiJson(`/v1/sweeps/${view.id}/runs?status=failed&limit=100`);
    if (!page.items.length) {
      fill(el, h('p', { class: 'muted' }, 'No failed runs.'));
      return;
    }
    fill(el, h('div', { class: 'table-wrap' }, runsTable(view, page.items, { showError: true })),
      page.nextCursor ? h('p', { class: 'muted more' }, 'Showing the first 100 failed runs.') : null);
  } catch (err) {
    fill(el, h('p', { class: 'banner banner-error' }, `Could not load the failed runs: ${err.message}`));
  }
}

/** @param {SweepView} view */
export async function loadRunsTable(view) {
  const el = $('#runs');
  try {
    const items = [];
    let cursor = null;
    do {
      const page = await apiJson(`/v1/sweeps/${view.id}/runs?limit=${Math.min(1000, view.runsShown - items.length)}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor && items.length < view.runsShown);
    if (!items.length) {
      fill(el, h('p', { class: 'muted' }, 'No runs yet (they are being enqueued).'));
      return;
    }
    const metric = $('#stats-metric').value || 'summary.basinShare.0';
    fill(el, runsTable(view, items, { metric }),
      cursor ? h('p', { class: 'more' }, h('button', {
        type: 'button',
        onclick: () => { view.runsShown += 100; loadRunsTable(view); },
      }, `Show more runs (${items.length} of ${view.sweep?.counts.total ?? '?'} shown)`)) : null);
  } catch (err) {
    fill(el, h('p', { class: 'banner banner-error' }, `Could not load the runs: ${err.message}`));
  }
}
