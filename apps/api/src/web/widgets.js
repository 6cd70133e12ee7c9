// Pieces both pages show: status badges, tags, progress bars, times, error banners, and
// the polling that keeps them current.
import { fill, h } from './dom.js';
import { fmtTime } from './format.js';

/** Sweep statuses that still change: polled often. */
export const ACTIVE = new Set(['queued', 'running']);
export const POLL_ACTIVE_MS = 1000;
export const POLL_IDLE_MS = 10000;

/** @param {string} status */
export const badge = (status) => h('span', { class: `badge badge-${status}` }, status);

/** @param {string[] | null | undefined} tags */
export const tagList = (tags) => h('span', { class: 'tags' }, (tags ?? []).map((t) => h('span', { class: 'tag' }, t)));

/** @param {string | null | undefined} iso */
export const timeEl = (iso) => h('time', { datetime: iso ?? undefined, title: iso ?? undefined }, fmtTime(iso));

/** @param {{ total: number, succeeded: number, failed: number, cancelled: number, running: number }} counts */
export function progressEl(counts) {
  const { total, succeeded, failed, cancelled, running } = counts;
  const done = succeeded + failed + cancelled;
  // Floor, so 100% means every configuration has finished.
  const pct = total ? Math.floor((done / total) * 100) : 100;
  const w = (n) => `${total ? (n / total) * 100 : 0}%`;
  return h('div', { class: 'progress', dataset: { pct, done, total } },
    h('div', {
      class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': total, 'aria-valuenow': done,
      'aria-valuetext': `${done} of ${total} finished (${pct}%)`, 'aria-label': 'progress',
    },
    h('span', { class: 'seg-ok', style: `width:${w(succeeded)}`, title: `${succeeded} succeeded` }),
    h('span', { class: 'seg-bad', style: `width:${w(failed)}`, title: `${failed} failed` }),
    h('span', { class: 'seg-cancel', style: `width:${w(cancelled)}`, title: `${cancelled} cancelled` }),
    h('span', { class: 'seg-run', style: `width:${w(running)}`, title: `${running} running` })),
    h('span', { class: 'label' }, `${done}/${total} · `, h('strong', { class: 'pct' }, `${pct}%`)));
}

/**
 * An error in `el`: the lead, the message, and the issues (path and message) the API listed.
 * @param {HTMLElement} el
 * @param {any} err
 * @param {string} [lead]
 */
export function showError(el, err, lead) {
  fill(el, h('strong', null, lead ? `${lead}: ` : ''), err?.message ?? String(err));
  if (err?.issues?.length) el.append(issueList(err.issues));
  el.hidden = false;
}

function issueList(issues) {
  return h('ul', { class: 'issues' }, issues.slice(0, 50).map((i) => h('li', null,
    h('code', null, i.path || '/'), ': ', i.message,
    i.index != null ? h('span', { class: 'muted' }, ` (configuration ${i.index})`) : null,
  )), issues.length > 50 ? h('li', null, `… and ${issues.length - 50} more`) : null);
}

/**
 * setTimeout-driven polling that pauses while the tab is hidden. `fn` returns the delay
 * to the next call, or null to stop until now() is called again. Progress is polled
 * because EventSource cannot send the Authorization header.
 * @param {() => Promise<number | null>} fn
 */
export function poller(fn) {
  /** @type {ReturnType<typeof setTimeout> | null} */
  let timer = null;
  let stopped = false;
  let running = false;
  const run = async () => {
    if (running) return;
    timer = null;
    if (document.hidden) return;
    running = true;
    let next = null;
    try { next = await fn(); } finally { running = false; }
    if (!stopped && next != null) timer = setTimeout(run, next);
  };
  document.addEventListener('visibilitychange', () => { if (!document.hidden && !timer && !stopped) run(); });
  return {
    now: () => { clearTimeout(timer); timer = null; stopped = false; return run(); },
  };
}
