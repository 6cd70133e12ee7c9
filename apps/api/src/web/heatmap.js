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
  el.dataset.x = x;
  el.dataset.y = y ?? '';
  grid = null;
  const first = el.querySelector('.cell');
  $('#heatmap-hint').textContent = first
    ? 'Click a cell to see the trajectory of its run (or Tab to the diagram and use the arrow keys).'
    : 'Click a row of the statistics or runs table to see the trajectory of a run.';
  // Nothing is done per cell here: a phase diagram can have tens of thousands. One cell is
  // in the tab order (the arrow keys move it), labelled when it gets there.
  const selected = view.selectedRunId ? el.querySelector(`.cell[data-run-id="${CSS.escape(view.selectedRunId)}"]`) : null;
  selected?.classList.add('selected');
  if (first) makeCurrent(selected ?? first);
}

/** @type {{ cells: Map<string, Element>, xs: string[], ys: string[] } | null} the diagram's cells by position, built on the first arrow key */
let grid = null;

/** @param {Element} cell */
function labelOf(cell) {
  const el = $('#heatmap');
  const d = /** @type {SVGElement} */ (cell).dataset;
  return `${el.dataset.x}=${d.x}${el.dataset.y ? `, ${el.dataset.y}=${d.y}` : ''}: ${d.value ?? 'no value'}${d.count ? ` (n=${d.count})` : ''}`;
}

/** The one cell (or its link) in the tab order, labelled for a screen reader. */
function makeCurrent(cell) {
  const el = $('#heatmap');
  // Not the cell itself: an element that stops being focusable loses the focus.
  el.querySelectorAll('.cell[tabindex]').forEach((c) => {
    if (c === cell) return;
    c.removeAttribute('tabindex');
    c.removeAttribute('role');
  });
  const inLink = cell.closest('a');
  if (!inLink) {
    cell.setAttribute('tabindex', '0');
    cell.setAttribute('role', 'button');
  }
  (inLink ?? cell).setAttribute('aria-label', labelOf(cell));
  return inLink ?? cell;
}

/** The cell next to `cell` in the direction of an arrow key (cells by their drawn position). */
function neighbour(cell, key) {
  const el = $('#heatmap');
  if (!grid) {
    const cells = new Map();
    const xs = new Set();
    const ys = new Set();
    for (const c of el.getElementsByClassName('cell')) {
      const cx = c.getAttribute('x') ?? '';
      const cy = c.getAttribute('y') ?? '';
      cells.set(`${cx} ${cy}`, c);
      xs.add(cx);
      ys.add(cy);
    }
    const byNumber = (a, b) => Number(a) - Number(b);
    grid = { cells, xs: [...xs].sort(byNumber), ys: [...ys].sort(byNumber) };
  }
  const dx = key === 'ArrowRight' ? 1 : key === 'ArrowLeft' ? -1 : 0;
  const dy = key === 'ArrowDown' ? 1 : key === 'ArrowUp' ? -1 : 0;
  let xi = grid.xs.indexOf(cell.getAttribute('x') ?? '');
  let yi = grid.ys.indexOf(cell.getAttribute('y') ?? '');
  // Skip (x, y) combinations without a cell.
  for (;;) {
    xi += dx;
    yi += dy;
    if (xi < 0 || yi < 0 || xi >= grid.xs.length || yi >= grid.ys.length) return null;
    const next = grid.cells.get(`${grid.xs[xi]} ${grid.ys[yi]}`);
    if (next) return next;
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
    const cell = cellFromEvent(ev);
    if (!cell) return;
    if (ev.key.startsWith('Arrow')) {
      const next = neighbour(cell, ev.key);
      ev.preventDefault();
      // Focused first, then the old one leaves the tab order (focusin does it).
      if (next) {
        const target = next.closest('a') ?? next;
        if (target === next) next.setAttribute('tabindex', '0');
        target.setAttribute('aria-label', labelOf(next));
        /** @type {HTMLElement} */ (target).focus();
      }
      return;
    }
    if (ev.key !== 'Enter' && ev.key !== ' ') return;
    ev.preventDefault();
    pick(cell);
  });
  // A large diagram's cells carry no tooltip of their own: one, moved to the cell under the pointer.
  const tip = document.createElementNS('http://www.w3.org/2000/svg', 'title');
  $('#heatmap').addEventListener('pointerover', (ev) => {
    const cell = cellFromEvent(ev);
    if (!cell || (cell.firstElementChild && cell.firstElementChild !== tip)) return;
    tip.textContent = labelOf(cell);
    cell.appendChild(tip);
  });
  // A link cell reached by Tab (each link is in the tab order) is labelled then.
  $('#heatmap').addEventListener('focusin', (ev) => {
    const cell = cellFromEvent(ev);
    if (cell) makeCurrent(cell);
  });
}
