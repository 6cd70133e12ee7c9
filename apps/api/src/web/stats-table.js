// The statistics of the sweep page: the chosen metric over the succeeded runs, grouped by
// the checked variables, with the contract and core that computed them. A row shows its
// group's run (the first one, when the group holds several seeds).
import { apiJson } from './api.js';
import { $, clickableRows, fill, h } from './dom.js';
import { fmtNum, provenanceText } from './format.js';
import { showRun } from './run-view.js';
import { labelOf } from './sweep-fields.js';

/** @typedef {import('./sweep-fields.js').SweepView} SweepView */

const STAT_COLUMNS = ['mean', 'std', 'min', 'p10', 'median', 'p90', 'max', 'rms'];

/** Groups shown at first and added by "show more": a million-run sweep can have a million groups. */
export const STATS_PAGE = 200;

/** @param {SweepView} view */
export async function loadStats(view) {
  const el = $('#stats');
  const groupBy = [...document.querySelectorAll('#groupby input:checked')].map((i) => /** @type {HTMLInputElement} */ (i).value);
  const metric = $('#stats-metric').value;
  const qs = new URLSearchParams({ metrics: metric, limit: String(view.statsShown) });
  if (groupBy.length) qs.set('groupBy', groupBy.join(','));
  try {
    const st = await apiJson(`/v1/sweeps/${view.id}/stats?${qs}`);
    const groups = st.groups ?? [];
    if (!groups.length) {
      fill(el, h('p', { class: 'muted' }, 'No succeeded runs yet.'));
      return;
    }
    const keys = st.groupBy ?? groupBy;
    const provenance = provenanceText(st);
    const label = labelOf(view, metric);
    const table = h('table', { class: 'data stats' },
      h('caption', { class: 'visually-hidden' }, `Statistics of ${label} (${metric}) grouped by ${keys.join(', ') || 'nothing'}; ${provenance}`),
      h('thead', null, h('tr', null,
        keys.map((k) => h('th', { scope: 'col', class: 'num' }, k)),
        h('th', { scope: 'col', class: 'num', title: 'succeeded runs in the group' }, 'runs'),
        STAT_COLUMNS.map((c) => h('th', { scope: 'col', class: 'num' }, c)),
        h('th', { scope: 'col', class: 'num' }, 'converged'),
        h('th', { scope: 'col', class: 'num' }, 'collapsed'))),
      h('tbody', null, groups.map((g) => {
        const m = g.metrics?.[metric] ?? {};
        return h('tr', {
          class: 'clickable', tabindex: 0,
          // A group of several runs (seeds) shows its first: the server names it, so no
          // lookup through the sweep's runs (which could be 100,000) is needed.
          dataset: { runId: g.runId ?? g.firstRunId ?? undefined },
          title: g.runId ? 'show this run' : 'show the first run of this group',
        },
        keys.map((k) => h('td', { class: 'num' }, fmtNum(g.key?.[k]))),
        h('td', { class: 'num' }, g.n ?? m.count ?? '—'),
        STAT_COLUMNS.map((c) => h('td', { class: 'num' }, fmtNum(m[c]))),
        h('td', { class: 'num' }, g.convergedRate == null ? '—' : `${Math.round(g.convergedRate * 100)}%`),
        h('td', { class: 'num' }, g.collapsedRate == null ? '—' : `${Math.round(g.collapsedRate * 100)}%`));
      })));
    clickableRows(table, (tr) => {
      if (tr.dataset.runId) showRun(view, tr.dataset.runId);
    });
    // Results of one contract only: say which, and what was left out.
    const total = st.groupCount ?? groups.length;
    fill(el, h('p', { class: 'muted provenance', id: 'stats-provenance' }, `${label} (${metric}) · ${provenance}`), table,
      total > groups.length ? h('p', { class: 'more' }, h('button', {
        type: 'button', id: 'stats-more',
        onclick: () => { view.statsShown += STATS_PAGE; loadStats(view); },
      }, `Show more groups (${groups.length} of ${total} shown)`)) : null);
  } catch (err) {
    fill(el, h('p', { class: 'banner banner-error' }, `Could not load the statistics: ${err.message}`));
  }
}
