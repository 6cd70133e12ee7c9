// The phase diagram of the sweep page: a heatmap over two axis variables (a line plot
// with one; an adaptive sweep's boundary plot), drawn by the API as SVG. A cell shows
// its run, by click or by keyboard.
import { apiSvg } from './api.js';
import { $, fill, h } from './dom.js';
import { showRun } from './run-view.js';

/** @typedef {import('./sweep-fields.js').SweepView} SweepView */

let heatmapToken = 0;

/** @param {SweepView} view */
export async function loadHeatmap(view) {
  const el = $('#heatmap');
  if (!(view.variables ?? []).length) {
    fill(el, h('p', { class: 'muted' }, 'A sweep without axes has a single configuration: no phase diagram.'));
    return;
  }
  const token = ++heatmapToken;
  const x = $('#hm-x').value;
  const y = view.axisVariables.length > 1 ? $('#hm-y').value : null;
  const z = $('#hm-z').value;
  const agg = $('#hm-agg').value;
  const qs = new URLSearchParams({ x, z, agg });
  if (y) qs.set('y', y);
  let svgText;
  try {
    // An adaptive sweep: its refined cells and the boundary it found, whatever the selectors say.
    const refined = view.sweep?.refine || view.sweep?.spec?.refine;
    svgText = await apiSvg(refined ? `/v1/sweeps/${view.id}/boundary.svg` : `/v1/sweeps/${view.id}/plot.svg?${qs}`);
  } catch (err) {
    if (token === heatmapToken) fill(el, h('p', { class: 'banner banner-error' }, `Could not draw the plot: ${err.message}`));
    return;
  }
  if (token !== heatmapToken) return;
  el.innerHTML = svgText; // SVG from our own API
  $('#heatmap-hint').textContent = el.querySelector('.cell')
    ? 'Click a cell to see the trajectory of its run.'
    : 'Click a row of the statistics or runs table to see the trajectory of a run.';
  // Cells: focusable, with a label, selectable by keyboard.
  for (const cell of el.querySelectorAll('.cell')) {
    const inLink = cell.closest('a');
    if (!inLink) { cell.setAttribute('tabindex', '0'); cell.setAttribute('role', 'button'); }
    const label = `${x}=${cell.dataset.x}${y ? `, ${y}=${cell.dataset.y}` : ''}: ${cell.dataset.value ?? 'no value'}`;
    (inLink ?? cell).setAttribute('aria-label', label);
    if (cell.dataset.runId && cell.dataset.runId === view.selectedRunId) cell.classList.add('selected');
  }
}

/** The heatmap cell an event is about (a cell may sit in an <a href>). */
function cellFromEvent(ev) {
  const cell = ev.target.closest?.('.cell');
  if (cell) return cell;
  return ev.target.closest?.('a')?.querySelector('.cell') ?? null;
}

/**
 * Picking a cell shows its run (or its group's first run) here instead of following a link.
 * @param {SweepView} view
 */
export function setupHeatmapPicking(view) {
  const pick = (cell) => {
    const runId = cell.dataset.runId ?? cell.dataset.firstRunId;
    if (runId) return showRun(view, runId, cell);
  };
  $('#heatmap').addEventListener('click', (ev) => {
    const cell = cellFromEvent(ev);
    if (!cell) return;
    ev.preventDefault();
    pick(cell);
  });
  $('#heatmap').addEventListener('keydown', (ev) => {
    if (ev.key !== 'Enter' && ev.key !== ' ') return;
    const cell = cellFromEvent(ev);
    if (!cell) return;
    ev.preventDefault();
    pick(cell);
  });
}
