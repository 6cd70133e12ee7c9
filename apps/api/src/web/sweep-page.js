// The sweep page (/sweeps/:id): header, progress and spec, kept current by polling, and
// the analytics (statistics, phase diagram, runs) refreshed as runs finish.
import { api, apiJson } from './api.js';
import { setupKeyForm } from './api-key.js';
import { $, fill, h } from './dom.js';
import { contractOf, fmtDuration } from './format.js';
import { setupHeatmapPicking, loadHeatmap } from './heatmap.js';
import { showRun } from './run-view.js';
import { loadFailed, loadRunsTable } from './runs-table.js';
import { setupSelectors } from './selectors.js';
import { STATS_PAGE, loadStats } from './stats-table.js';
import { FALLBACK_METRICS, loadFields } from './sweep-fields.js';
import { ACTIVE, POLL_ACTIVE_MS, badge, poller, progressEl, showError, tagList, timeEl } from './widgets.js';

/** While runs finish, the analytics refresh at most this often (and once more at the end). */
const ANALYTICS_EVERY_MS = 4000;

function renderHead(sw) {
  document.title = `${sw.name} · curation-sweeps`;
  $('#sweep-name').textContent = sw.name;
  fill($('#sweep-status'), badge(sw.status));
  fill($('#sweep-tags'), tagList(sw.tags));
  fill($('#sweep-meta'),
    'id ', h('code', null, sw.id),
    sw.coreVersion ? ` · submitted under contract ${contractOf(sw.coreVersion)}, core ${sw.coreVersion}` : '',
    ' · created ', timeEl(sw.createdAt),
    sw.startedAt ? [' · started ', timeEl(sw.startedAt)] : null,
    sw.finishedAt ? [' · finished ', timeEl(sw.finishedAt)] : null);
  $('#sweep-cancel').hidden = !ACTIVE.has(sw.status);
  $('#sweep-retry').hidden = !(sw.counts.failed + sw.counts.cancelled > 0 && !ACTIVE.has(sw.status));
}

function renderProgress(sw) {
  const c = sw.counts;
  fill($('#progress'), progressEl(c));
  const item = (label, value, cls) => h('div', { class: cls }, h('dt', null, label), h('dd', null, value));
  fill($('#counts'),
    item('total', c.total), item('queued', c.queued), item('running', c.running),
    item('succeeded', c.succeeded), item('failed', c.failed), item('cancelled', c.cancelled),
    c.reused ? item('reused', `${c.reused} of ${c.succeeded}`) : null,
    item('ETA', ACTIVE.has(sw.status) ? fmtDuration(sw.etaSeconds) : '—'),
    sw.enqueued != null && sw.enqueued < c.total ? item('enqueued', `${sw.enqueued}/${c.total}`) : null);
}

function renderSpec(sw) {
  const note = $('#spec-note');
  if (sw.spec) {
    note.hidden = true;
    $('#spec').textContent = JSON.stringify(sw.spec, null, 2);
  } else {
    note.hidden = false;
    note.textContent = 'GET /v1/sweeps/:id does not return the specification; this is the sweep record it returns.';
    $('#spec').textContent = JSON.stringify(sw, null, 2);
  }
}

export function sweepPage() {
  setupKeyForm(() => poll.now());
  const errEl = $('#sweep-error');
  /** @type {import('./sweep-fields.js').SweepView} */
  const view = {
    id: decodeURIComponent(location.pathname.split('/')[2] ?? ''),
    sweep: null,
    variables: null,
    axisVariables: [],
    metrics: FALLBACK_METRICS,
    selectedRunId: null,
    runsShown: 100,
    statsShown: STATS_PAGE,
  };
  let lastDone = -1;
  let lastFailed = -1;
  let lastAnalytics = 0;
  /** How long the last refresh took: on a million-run sweep the aggregates take seconds. */
  let analyticsMs = 0;
  let refreshing = false;
  let again = false;

  setupHeatmapPicking(view);
  // The names are asked for with the first poll, not after it: the analytics wait for both.
  /** @type {Promise<boolean> | null} */
  let fields = loadFields(view);
  let selectors = false;

  // One refresh at a time, and the next one only after a pause several times as long as
  // the last took: a large sweep's aggregates never pile up on the server. A refresh asked
  // for meanwhile runs once the current one is done (e.g. the last one, as the sweep finishes).
  const refreshAnalytics = async () => {
    if (refreshing) {
      again = true;
      return;
    }
    refreshing = true;
    const started = Date.now();
    try {
      await Promise.all([loadStats(view), loadHeatmap(view), loadRunsTable(view)]);
    } finally {
      refreshing = false;
      lastAnalytics = Date.now();
      analyticsMs = lastAnalytics - started;
    }
    if (again) {
      again = false;
      refreshAnalytics();
    }
  };

  const poll = poller(async () => {
    try {
      const sw = await apiJson(`/v1/sweeps/${encodeURIComponent(view.id)}`);
      const first = !view.sweep;
      const wasActive = view.sweep ? ACTIVE.has(view.sweep.status) : true;
      view.sweep = sw;
      errEl.hidden = true;
      renderHead(sw);
      renderProgress(sw);
      if (first) renderSpec(sw);
      // A heatmap cell's link (#run=ID) opens the sweep on that run, also in a new tab.
      const linked = first ? /^#run=(\d+)$/.exec(location.hash) : null;
      if (linked) showRun(view, linked[1]);
      if (!selectors) {
        if (await (fields ??= loadFields(view))) {
          selectors = true;
          setupSelectors(view);
        } else {
          fields = null; // asked again on the next poll
        }
      }
      const c = sw.counts;
      const done = c.succeeded + c.failed + c.cancelled;
      const active = ACTIVE.has(sw.status);
      if (c.failed !== lastFailed) { lastFailed = c.failed; loadFailed(view); }
      if (view.variables && (done !== lastDone || (wasActive && !active) || first)) {
        if (!active || first || (!refreshing && Date.now() - lastAnalytics > Math.max(ANALYTICS_EVERY_MS, 3 * analyticsMs))) {
          lastDone = done;
          refreshAnalytics();
        }
      }
      return active || !view.variables ? POLL_ACTIVE_MS : null;
    } catch (err) {
      if (err.status === 404) {
        showError(errEl, err, 'No such sweep');
        $('#sweep-name').textContent = 'Sweep not found';
        return null;
      }
      if (err.status === 401) errEl.hidden = true; // the banner at the top says what to do
      else showError(errEl, err, 'Could not load the sweep');
      return 5000;
    }
  });

  $('#sweep-cancel').addEventListener('click', async () => {
    if (!confirm('Cancel this sweep? Queued runs are cancelled at once; running ones stop soon.')) return;
    try { await api(`/v1/sweeps/${view.id}/cancel`, { method: 'POST' }); } catch (err) { showError(errEl, err, 'Cancel failed'); }
    poll.now();
  });
  $('#sweep-retry').addEventListener('click', async () => {
    try { await api(`/v1/sweeps/${view.id}/retry`, { method: 'POST' }); } catch (err) { showError(errEl, err, 'Retry failed'); }
    lastFailed = -1;
    poll.now();
  });

  poll.now();
}
