// One run of the sweep page: its trajectory plot and its summary, shown when a row of a
// table or a cell of the phase diagram is picked.
import { apiJson, apiSvg } from './api.js';
import { $, fill, h } from './dom.js';
import { contractOf, fmtNum, paramsText } from './format.js';
import { badge } from './widgets.js';

/** @typedef {import('./sweep-fields.js').SweepView} SweepView */

let runToken = 0;

/**
 * Shows a run's trajectory and summary; `cell` is the heatmap cell it was picked from, if any.
 * @param {SweepView} view
 * @param {string} runId
 * @param {Element} [cell]
 */
export async function showRun(view, runId, cell) {
  const token = ++runToken;
  view.selectedRunId = runId;
  document.querySelectorAll('tr.selected, .cell.selected').forEach((el) => el.classList.remove('selected'));
  document.querySelectorAll(`tr[data-run-id="${CSS.escape(runId)}"], .cell[data-run-id="${CSS.escape(runId)}"]`)
    .forEach((el) => el.classList.add('selected'));
  cell?.classList.add('selected');
  const head = $('#trajectory-head');
  const plot = $('#trajectory');
  fill(head, 'Loading the run…');
  $('#trajectory-section').scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  // The plot asked for at once with the run, not after it: a run shown from a table or
  // the diagram has mostly succeeded (if not, the plot's 404 is not used).
  const svgReq = apiSvg(`/v1/runs/${encodeURIComponent(runId)}/plot.svg`);
  svgReq.catch(() => {});
  try {
    const run = await apiJson(`/v1/runs/${encodeURIComponent(runId)}`);
    if (token !== runToken) return;
    fill(head,
      h('strong', { class: 'run-title' }, `Run #${run.index}`), ' · ',
      h('span', { class: 'params run-params' }, paramsText(run.params, view.variables ?? []) || 'no axis variables'), ' · ', badge(run.status),
      run.durationMs != null ? ` · ${fmtNum(run.durationMs)} ms` : null,
      run.coreVersion ? ` · contract ${run.contract ?? contractOf(run.coreVersion)}, core ${run.coreVersion}` : null,
      ' · ', h('a', { href: `/v1/runs/${encodeURIComponent(run.id)}`, target: '_blank', rel: 'noopener' }, 'JSON'));
    head.classList.remove('muted');
    renderSummary(run);
    if (run.status !== 'succeeded') {
      fill(plot, h('p', { class: 'muted' }, run.error ? 'This run failed: no trajectory.' : `No trajectory (the run is ${run.status}).`));
      return;
    }
    const svg = await svgReq;
    if (token !== runToken) return;
    plot.innerHTML = svg; // SVG from our own API
  } catch (err) {
    if (token === runToken) fill(plot, h('p', { class: 'banner banner-error' }, `Could not load the run: ${err.message}`));
  }
}

function renderSummary(run) {
  const el = $('#run-summary');
  const sm = run.summary;
  const rows = [];
  const add = (k, v) => rows.push(h('dt', null, k), h('dd', null, v));
  if (run.error) add('error', h('span', { class: 'error' }, run.error));
  if (sm) {
    // Per-reward values name their reward: index 0 is reward 1.
    const perReward = (v) => (v ?? []).map((x, i) => `reward ${i + 1}: ${fmtNum(x)}`).join(', ') || '—';
    const interval = (v) => (v ? `[${v.map(fmtNum).join(', ')}]` : '—');
    if (run.coreVersion) add('computed by', `contract ${run.contract ?? contractOf(run.coreVersion)}, core ${run.coreVersion}`);
    add('converged', sm.converged == null ? '—' : `${sm.converged}${sm.convergedAt != null ? ` (generation ${sm.convergedAt})` : ''}`);
    add('basin shares', perReward(sm.basinShare));
    add('Nash gap', fmtNum(sm.nashGap));
    add('collapsed', fmtNum(sm.collapsed));
    add('surviving basins', fmtNum(sm.survivingBasins));
    if ('outsideDecayRate' in sm) add('outside mass decay rate', fmtNum(sm.outsideDecayRate));
    if (sm.final) {
      add('final generation', fmtNum(sm.final.t));
      add('final entropy', fmtNum(sm.final.entropy));
      add('final effective support', fmtNum(sm.final.effectiveSupport));
      add('final basin mass', perReward(sm.final.mass));
      add('final mass outside every basin', fmtNum(sm.final.outside));
    }
    if (sm.audit) {
      const a = sm.audit;
      if ('applies' in a) add('audit: lemma applies', fmtNum(a.applies));
      add('audit: q in window', fmtNum(a.inWindow));
      add('audit: Lemma 3.5 interval (reward 1 share)', `${interval(a.interval)}, in it: ${fmtNum(a.inInterval)}`);
      if ('intervalB5' in a) add('audit: B.5 interval', `${interval(a.intervalB5)}, in it: ${fmtNum(a.inIntervalB5)}`);
      if ('intervalCorrected' in a) add('audit: corrected interval', `${interval(a.intervalCorrected)}, in it: ${fmtNum(a.inIntervalCorrected)}`);
      if ('outsideDomination' in a) add('audit: outside domination (B.4)', fmtNum(a.outsideDomination));
    }
  }
  if (run.configHash) add('config hash', h('code', null, run.configHash.slice(0, 16)));
  fill(el, rows.length ? h('dl', { class: 'kv' }, rows) : '');
}
