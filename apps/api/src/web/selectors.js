// The choices of the sweep page: variables to group the statistics by, the value shown
// (its label, then the one name the API, CSV and plots use), and the phase diagram's axes.
import { $, fill, h } from './dom.js';
import { loadHeatmap } from './heatmap.js';
import { loadRunsTable } from './runs-table.js';
import { STATS_PAGE, loadStats } from './stats-table.js';

/** @typedef {import('./sweep-fields.js').SweepView} SweepView */

/** @param {SweepView} view */
export function setupSelectors(view) {
  const vars = view.variables ?? [];
  const axes = view.axisVariables;
  const metricOptions = (sel, value) => {
    fill(sel, ...view.metrics.map(([v, label]) => h('option', { value: v, selected: v === value }, `${label} · ${v}`)));
  };
  // Group by: any variable; by default the axis variables except replicate seeds, at most two.
  const defaults = axes.filter((v) => v !== 'seed').slice(0, 2);
  const gb = $('#groupby');
  fill(gb, ...(vars.length ? vars.map((v) => h('label', null,
    h('input', { type: 'checkbox', name: 'groupBy', value: v, checked: defaults.includes(v) }), v))
    : [h('span', { class: 'muted' }, 'no axis variables')]));
  metricOptions($('#stats-metric'), 'summary.basinShare.0');
  metricOptions($('#hm-z'), 'summary.basinShare.0');
  const opts = (sel, value, list) => fill(sel, ...list.map((v) => h('option', { value: v, selected: v === value }, v)));
  opts($('#hm-x'), axes[0] ?? vars[0], vars);
  opts($('#hm-y'), axes[1] ?? vars[1], vars);
  // One axis: a line plot, no second axis to choose.
  $('#hm-y').closest('label').hidden = axes.length < 2;
  $('#stats-form').addEventListener('change', () => {
    view.statsShown = STATS_PAGE;
    loadStats(view);
    loadRunsTable(view);
  });
  $('#heatmap-form').addEventListener('change', (ev) => {
    const x = $('#hm-x');
    const y = $('#hm-y');
    if (x.value === y.value && vars.length > 1) {
      // Keep the two axes distinct: move the other one.
      if (ev.target === x) y.value = vars.find((v) => v !== x.value); else x.value = vars.find((v) => v !== y.value);
    }
    loadHeatmap(view);
  });
}
