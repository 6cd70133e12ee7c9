// curation-sweeps dashboard: one vanilla ES module for both pages (body[data-page]).
// Every call to the JSON API goes through api(), which adds the API key (if any) and
// reports a 401 clearly. Plots are fetched as SVG text and inlined, since <img> cannot
// send an Authorization header. Progress is polled (EventSource cannot send headers).

const KEY_STORAGE = 'sweepApiKey';
const POLL_ACTIVE_MS = 1000;
const POLL_IDLE_MS = 10000;
const ACTIVE = new Set(['queued', 'running']);

// The value choices when GET /v1/sweeps/:id/fields cannot be read. Normally the server
// lists every field of the sweep with its label: the same names as stats metrics, plot
// values and CSV columns, and labels that name the reward (index 0 is reward 1).
const FALLBACK_METRICS = [
  ['summary.basinShare.0', 'basin share (reward 1)'],
  ['summary.basinShare.1', 'basin share (reward 2)'],
  ['summary.nashGap', 'Nash gap'],
  ['summary.converged', 'converged'],
  ['summary.convergedAt', 'converged at (generation)'],
  ['summary.collapsed', 'collapsed'],
  ['summary.survivingBasins', 'surviving basins'],
  ['summary.outsideDecayRate', 'outside mass decay rate'],
  ['summary.final.outside', 'final mass outside every basin'],
  ['summary.final.entropy', 'final entropy'],
  ['summary.audit.applies', 'audit: lemma applies'],
  ['summary.audit.inInterval', 'audit: reward 1 share in Lemma 3.5 interval'],
  ['summary.audit.inIntervalB5', 'audit: reward 1 share in B.5 interval'],
  ['summary.audit.inIntervalCorrected', 'audit: reward 1 share in corrected interval'],
  ['summary.audit.outsideDomination', 'audit: outside domination (B.4)'],
];

/** The contract a core version implements: its major number (as the server labels results). */
const contractOf = (coreVersion) => {
  const m = /^([0-9]+)\./.exec(coreVersion ?? '');
  return m ? Number(m[1]) : 1;
};

/** "contract 2, core 2.0.0" and the runs of other contracts left out, from a stats reply. */
function provenanceText(st) {
  if (st?.contract == null) return '';
  const core = st.coreVersions?.length ? `, core ${st.coreVersions.join(' + ')}` : '';
  const left = (st.otherContracts ?? []).map((o) => `${o.runs} run${o.runs === 1 ? '' : 's'} of contract ${o.contract} left out`);
  return `contract ${st.contract}${core}${left.length ? ` (${left.join(', ')})` : ''}`;
}

// ------------------------------------------------------------------ small helpers

const $ = (sel, root = document) => root.querySelector(sel);

/** Escapes text for HTML markup (most code builds nodes with h() and textContent instead). */
export function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

/** Builds an element; strings become text nodes (never markup). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  appendAll(el, children);
  return el;
}

/** Replaces an element's children (nested arrays flattened, null and false skipped, strings as text). */
function fill(el, ...children) {
  el.replaceChildren();
  appendAll(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') el.setAttribute('class', v);
    else if (k === 'dataset') for (const [dk, dv] of Object.entries(v)) { if (dv != null) el.dataset[dk] = String(dv); }
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function appendAll(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

function readKey() {
  try { return localStorage.getItem(KEY_STORAGE) || ''; } catch { return ''; }
}
function writeKey(v) {
  try { if (v) localStorage.setItem(KEY_STORAGE, v); else localStorage.removeItem(KEY_STORAGE); } catch { /* storage disabled */ }
}

export class ApiError extends Error {
  constructor(status, body, message) {
    super(message);
    this.status = status;
    this.body = body;
    this.issues = Array.isArray(body?.issues) ? body.issues : [];
  }
}

/** Every request to the API: adds `Authorization: Bearer <key>` when a key is set. Throws ApiError when not ok. */
export async function api(path, init = {}) {
  const headers = new Headers(init.headers || {});
  const key = readKey();
  if (key) headers.set('authorization', `Bearer ${key}`);
  if (!headers.has('accept')) headers.set('accept', 'application/json');
  let res;
  try {
    res = await fetch(path, { ...init, headers });
  } catch (err) {
    throw new ApiError(0, null, `the API did not answer (${err.message}); is the server running?`);
  }
  if (res.status === 401) showAuthPrompt(key);
  else if (res.ok) hideAuthPrompt();
  if (!res.ok) {
    let body = null;
    const text = await res.text().catch(() => '');
    try { body = JSON.parse(text); } catch { /* not JSON */ }
    throw new ApiError(res.status, body, body?.message || `${res.status} ${res.statusText}`);
  }
  return res;
}
const apiJson = async (path, init) => (await api(path, init)).json();
const apiSvg = async (path) => (await api(path, { headers: { accept: 'image/svg+xml' } })).text();

let onKeyChange = () => {};

function showAuthPrompt(key) {
  const el = $('#auth-banner');
  if (!el) return;
  fill(el,
    h('strong', null, key ? 'The API refused this API key (401). ' : 'This API needs an API key (401). '),
    key ? 'Check it, enter the right one in the “API key” field at the top right and press Save.'
      : 'Enter your key in the “API key” field at the top right and press Save.',
  );
  el.hidden = false;
  if (!el.dataset.focused) { el.dataset.focused = '1'; $('#apikey')?.focus(); }
}
function hideAuthPrompt() {
  const el = $('#auth-banner');
  if (el && !el.hidden) { el.hidden = true; delete el.dataset.focused; }
}

function setupKeyForm() {
  const form = $('#apikey-form');
  const input = $('#apikey');
  input.value = readKey();
  input.placeholder = readKey() ? '' : 'not set';
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    writeKey(input.value.trim());
    input.placeholder = input.value ? '' : 'not set';
    flash(form, input.value ? 'saved' : 'cleared');
    onKeyChange();
  });
  $('#apikey-clear').addEventListener('click', () => {
    input.value = '';
    writeKey('');
    input.placeholder = 'not set';
    flash(form, 'cleared');
    onKeyChange();
  });
}
/** @type {ReturnType<typeof setTimeout> | undefined} */
let flashTimer;
function flash(form, text) {
  let note = form.querySelector('.saved');
  if (!note) { note = h('span', { class: 'saved', role: 'status' }); form.append(note); }
  note.textContent = text;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => { note.textContent = ''; }, 2000);
}

function showError(el, err, lead) {
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

export function fmtNum(v) {
  if (v == null) return '—';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v !== 'number') return String(v);
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e7) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

export function fmtDuration(sec) {
  if (sec == null || !Number.isFinite(sec)) return '—';
  sec = Math.max(0, Math.round(sec));
  if (sec < 60) return `${sec} s`;
  if (sec < 3600) return `${Math.floor(sec / 60)} min ${sec % 60} s`;
  return `${Math.floor(sec / 3600)} h ${Math.floor((sec % 3600) / 60)} min`;
}

function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
const timeEl = (iso) => h('time', { datetime: iso ?? undefined, title: iso ?? undefined }, fmtTime(iso));

/** `q=0.2, D=2`, in the order of `order` (the sweep's axes) first. */
const paramsText = (params, order = []) => {
  const keys = Object.keys(params ?? {});
  const sorted = [...order.filter((k) => keys.includes(k)), ...keys.filter((k) => !order.includes(k))];
  return sorted.map((k) => `${k}=${fmtNum(params[k])}`).join(', ');
};

function getPath(obj, path) {
  let cur = obj;
  for (const part of path.split('.')) {
    if (cur == null) return undefined;
    cur = cur[part];
  }
  return cur;
}

const badge = (status) => h('span', { class: `badge badge-${status}` }, status);
const tagList = (tags) => h('span', { class: 'tags' }, (tags ?? []).map((t) => h('span', { class: 'tag' }, t)));

function progressEl(counts) {
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

/** setTimeout-driven polling that pauses while the tab is hidden. */
function poller(fn) {
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

// ------------------------------------------------------------------ sweeps list page

const EXAMPLE_SPEC = {
  name: 'q-vs-D small',
  tags: ['c4', 'dashboard'],
  base: {
    support: { kind: 'grid', min: -12, max: 12, n: 121 },
    rewards: [{ kind: 'quadratic', center: 0 }, { kind: 'quadratic', center: 0 }],
    iterations: 50,
  },
  axes: [{ param: 'q', values: [0.2, 0.5] }, { param: 'D', values: [2, 4] }],
  derive: { 'rewards.0.center': '[-D/2]', 'rewards.1.center': '[D/2]' },
};

function listPage() {
  setupKeyForm();
  const tbody = $('#sweeps tbody');
  const errEl = $('#list-error');
  const statusEl = $('#list-status');
  const rows = new Map();

  const rowFor = (sw) => h('tr', { dataset: { sweepId: sw.id } },
    h('td', null, h('a', { href: `/sweeps/${encodeURIComponent(sw.id)}` }, sw.name)),
    h('td', null, tagList(sw.tags)),
    h('td', null, badge(sw.status)),
    h('td', null, progressEl(sw.counts)),
    h('td', { class: 'num' }, ACTIVE.has(sw.status) ? fmtDuration(sw.etaSeconds) : '—'),
    h('td', null, timeEl(sw.createdAt)));

  function render(items) {
    if (!items.length) {
      rows.clear();
      fill(tbody, h('tr', null, h('td', { colspan: 6, class: 'empty' }, 'No sweeps yet: submit one below.')));
      return;
    }
    const keep = new Set();
    let prev = null;
    for (const sw of items) {
      keep.add(sw.id);
      const sig = JSON.stringify(sw);
      let entry = rows.get(sw.id);
      if (!entry || entry.sig !== sig) {
        const tr = rowFor(sw);
        if (entry) entry.tr.replaceWith(tr);
        entry = { tr, sig };
        rows.set(sw.id, entry);
      }
      // Keep the server's order (newest first).
      const want = prev ? prev.nextSibling : tbody.firstChild;
      if (want !== entry.tr) tbody.insertBefore(entry.tr, want);
      prev = entry.tr;
    }
    for (const [id, entry] of rows) if (!keep.has(id)) { entry.tr.remove(); rows.delete(id); }
    for (const tr of [...tbody.children]) if (!tr.dataset.sweepId) tr.remove();
  }

  const poll = poller(async () => {
    try {
      const page = await apiJson('/v1/sweeps?limit=100');
      render(page.items);
      errEl.hidden = true;
      const active = page.items.filter((sw) => ACTIVE.has(sw.status)).length;
      statusEl.textContent = `${page.items.length}${page.nextCursor ? ' newest' : ''} sweep${page.items.length === 1 ? '' : 's'}` +
        (active ? ` · ${active} in progress (live)` : '');
      return active ? POLL_ACTIVE_MS : POLL_IDLE_MS;
    } catch (err) {
      if (err.status === 401) {
        // The banner at the top says what to do.
        errEl.hidden = true;
        rows.clear();
        fill(tbody, h('tr', null, h('td', { colspan: 6, class: 'empty' }, 'Set an API key to see the sweeps.')));
      } else {
        showError(errEl, err, 'Could not load the sweeps');
      }
      return POLL_IDLE_MS;
    }
  });
  onKeyChange = () => poll.now();
  poll.now();

  // Submitting a sweep
  const form = $('#submit-form');
  const textarea = $('#spec');
  const result = $('#submit-result');
  $('#spec-example').addEventListener('click', () => {
    textarea.value = JSON.stringify(EXAMPLE_SPEC, null, 2);
    textarea.focus();
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const text = textarea.value.trim();
    if (!text) {
      fill(result, h('div', { class: 'banner banner-error', role: 'alert' }, 'Write or paste a sweep specification first.'));
      return;
    }
    let format = $('#spec-format').value;
    if (format === 'auto') format = text.startsWith('{') ? 'json' : 'yaml';
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    fill(result, h('p', { class: 'muted' }, 'Submitting…'));
    try {
      const res = await api('/v1/sweeps', {
        method: 'POST',
        headers: { 'content-type': format === 'json' ? 'application/json' : 'application/yaml' },
        body: text,
      });
      const body = await res.json();
      fill(result, h('div', { class: 'banner banner-ok', role: 'status' },
        h('strong', null, 'Sweep submitted: '), `${body.total} configuration${body.total === 1 ? '' : 's'}, ${body.status}. `,
        h('a', { href: `/sweeps/${encodeURIComponent(body.id)}`, id: 'submitted-link' }, 'Open the sweep')));
      poll.now();
    } catch (err) {
      const box = h('div', { class: 'banner banner-error', role: 'alert' });
      showError(box, err, err.status === 422 ? 'The specification was refused' : 'Submission failed');
      fill(result, box);
    } finally {
      button.disabled = false;
    }
  });
}

// ------------------------------------------------------------------ sweep page

/** Axis variables from a spec's axes (params of plain, zip and random axes). */
function specVariables(spec) {
  const out = [];
  const visit = (axis) => {
    if (!axis || typeof axis !== 'object') return;
    if (typeof axis.param === 'string') out.push(axis.param);
    if (Array.isArray(axis.zip)) axis.zip.forEach(visit);
    if (axis.random?.params) out.push(...Object.keys(axis.random.params));
  };
  (spec?.axes ?? []).forEach(visit);
  return out;
}

function sweepPage() {
  setupKeyForm();
  const id = decodeURIComponent(location.pathname.split('/')[2] ?? '');
  const errEl = $('#sweep-error');
  const state = {
    sweep: null,
    variables: null,
    /** [name, label] of every summary field of the sweep. */
    metrics: FALLBACK_METRICS,
    lastDone: -1,
    lastFailed: -1,
    lastAnalytics: 0,
    selectedRunId: null,
    runsShown: 100,
  };

  // ---- header, progress, spec

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

  // ---- axis variables and selectors

  async function detectVariables() {
    const fromSpec = specVariables(state.sweep?.spec);
    if (fromSpec.length) return fromSpec;
    try {
      const st = await apiJson(`/v1/sweeps/${id}/stats?metrics=summary.nashGap`);
      if (Array.isArray(st.variables)) return st.variables;
    } catch { /* stats unavailable: use the runs' params */ }
    try {
      const page = await apiJson(`/v1/sweeps/${id}/runs?limit=1`);
      if (page.items.length) return Object.keys(page.items[0].params ?? {});
    } catch { /* nothing yet */ }
    return null;
  }

  async function loadFields() {
    try {
      const f = await apiJson(`/v1/sweeps/${id}/fields`);
      const list = (f.fields ?? []).filter((x) => x.kind !== 'variable').map((x) => [x.name, x.label]);
      if (list.length) state.metrics = list;
    } catch { /* keep the fallback list */ }
  }

  /** The label of a field name, for headers and captions. */
  const labelOf = (name) => state.metrics.find(([n]) => n === name)?.[1] ?? name;

  function setupSelectors(vars) {
    // One name per quantity: the option's value is the name the API, the CSV and the
    // plot use; its text is the label, then that name.
    const metricOptions = (sel, value) => {
      fill(sel, ...state.metrics.map(([v, label]) => h('option', { value: v, selected: v === value }, `${label} · ${v}`)));
    };
    // Group by: the axis variables except replicate seeds, at most two by default.
    const defaults = vars.filter((v) => v !== 'seed').slice(0, 2);
    const gb = $('#groupby');
    fill(gb, ...(vars.length ? vars.map((v) => h('label', null,
      h('input', { type: 'checkbox', name: 'groupBy', value: v, checked: defaults.includes(v) }), v))
      : [h('span', { class: 'muted' }, 'no axis variables')]));
    metricOptions($('#stats-metric'), 'summary.basinShare.0');
    metricOptions($('#hm-z'), 'summary.basinShare.0');
    const opts = (sel, value, list) => fill(sel, ...list.map((v) => h('option', { value: v, selected: v === value }, v)));
    opts($('#hm-x'), vars[0], vars);
    opts($('#hm-y'), vars[1], vars);
    $('#hm-y').closest('label').hidden = vars.length < 2;
    $('#stats-form').addEventListener('change', () => { loadStats(); loadRunsTable(); });
    $('#heatmap-form').addEventListener('change', (ev) => {
      const x = $('#hm-x');
      const y = $('#hm-y');
      if (x.value === y.value && vars.length > 1) {
        // Keep the two axes distinct: move the other one.
        const other = vars.find((v) => v !== x.value);
        if (ev.target === x) y.value = other; else x.value = vars.find((v) => v !== y.value);
      }
      loadHeatmap();
    });
  }

  // ---- failed runs, runs table

  /**
   * @param {any[]} items
   * @param {{ metric?: string, showError?: boolean }} [opts]
   */
  function runsTable(items, { metric, showError: withError } = {}) {
    const vars = state.variables ?? [];
    const table = h('table', { class: 'data runs' },
      h('thead', null, h('tr', null,
        h('th', { scope: 'col', class: 'num' }, '#'),
        vars.map((v) => h('th', { scope: 'col', class: 'num' }, v)),
        h('th', { scope: 'col' }, 'status'),
        metric ? h('th', { scope: 'col', class: 'num', title: labelOf(metric) }, metric) : null,
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
        if (r.id === state.selectedRunId) tr.classList.add('selected');
        return tr;
      })));
    clickableRows(table, (tr) => showRun(tr.dataset.runId));
    return table;
  }

  function clickableRows(table, onPick) {
    table.addEventListener('click', (ev) => {
      const tr = ev.target.closest('tr.clickable');
      if (tr && !ev.target.closest('a')) onPick(tr);
    });
    table.addEventListener('keydown', (ev) => {
      const tr = ev.target.closest('tr.clickable');
      if (tr && (ev.key === 'Enter' || ev.key === ' ')) { ev.preventDefault(); onPick(tr); }
    });
  }

  async function loadFailed() {
    const el = $('#failed');
    try {
      const page = await apiJson(`/v1/sweeps/${id}/runs?status=failed&limit=100`);
      if (!page.items.length) {
        fill(el, h('p', { class: 'muted' }, 'No failed runs.'));
        return;
      }
      fill(el, h('div', { class: 'table-wrap' }, runsTable(page.items, { showError: true })),
        page.nextCursor ? h('p', { class: 'muted more' }, 'Showing the first 100 failed runs.') : null);
    } catch (err) {
      fill(el, h('p', { class: 'banner banner-error' }, `Could not load the failed runs: ${err.message}`));
    }
  }

  async function loadRunsTable() {
    const el = $('#runs');
    try {
      const items = [];
      let cursor = null;
      do {
        const page = await apiJson(`/v1/sweeps/${id}/runs?limit=${Math.min(1000, state.runsShown - items.length)}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        items.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor && items.length < state.runsShown);
      if (!items.length) {
        fill(el, h('p', { class: 'muted' }, 'No runs yet (they are being enqueued).'));
        return;
      }
      const metric = $('#stats-metric').value || 'summary.basinShare.0';
      fill(el, runsTable(items, { metric }),
        cursor ? h('p', { class: 'more' }, h('button', {
          type: 'button',
          onclick: () => { state.runsShown += 100; loadRunsTable(); },
        }, `Show more runs (${items.length} of ${state.sweep?.counts.total ?? '?'} shown)`)) : null);
    } catch (err) {
      fill(el, h('p', { class: 'banner banner-error' }, `Could not load the runs: ${err.message}`));
    }
  }

  // ---- stats

  const statColumns = ['mean', 'std', 'min', 'p10', 'median', 'p90', 'max', 'rms'];

  async function loadStats() {
    const el = $('#stats');
    const groupBy = [...document.querySelectorAll('#groupby input:checked')].map((i) => /** @type {HTMLInputElement} */ (i).value);
    const metric = $('#stats-metric').value;
    const qs = new URLSearchParams({ metrics: metric });
    if (groupBy.length) qs.set('groupBy', groupBy.join(','));
    try {
      const st = await apiJson(`/v1/sweeps/${id}/stats?${qs}`);
      const groups = st.groups ?? [];
      if (!groups.length) {
        fill(el, h('p', { class: 'muted' }, 'No succeeded runs yet.'));
        return;
      }
      const keys = st.groupBy ?? groupBy;
      const provenance = provenanceText(st);
      const table = h('table', { class: 'data stats' },
        h('caption', { class: 'visually-hidden' }, `Statistics of ${labelOf(metric)} (${metric}) grouped by ${keys.join(', ') || 'nothing'}; ${provenance}`),
        h('thead', null, h('tr', null,
          keys.map((k) => h('th', { scope: 'col', class: 'num' }, k)),
          h('th', { scope: 'col', class: 'num', title: 'succeeded runs in the group' }, 'runs'),
          statColumns.map((c) => h('th', { scope: 'col', class: 'num' }, c)),
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
          statColumns.map((c) => h('td', { class: 'num' }, fmtNum(m[c]))),
          h('td', { class: 'num' }, g.convergedRate == null ? '—' : `${Math.round(g.convergedRate * 100)}%`),
          h('td', { class: 'num' }, g.collapsedRate == null ? '—' : `${Math.round(g.collapsedRate * 100)}%`));
        })));
      clickableRows(table, (tr) => {
        if (tr.dataset.runId) showRun(tr.dataset.runId);
      });
      // Results of one contract only: say which, and what was left out.
      fill(el, h('p', { class: 'muted provenance', id: 'stats-provenance' }, `${labelOf(metric)} (${metric}) · ${provenance}`), table);
    } catch (err) {
      fill(el, h('p', { class: 'banner banner-error' }, `Could not load the statistics: ${err.message}`));
    }
  }

  // ---- heatmap (or line plot with one variable)

  let heatmapToken = 0;
  async function loadHeatmap() {
    const el = $('#heatmap');
    const vars = state.variables ?? [];
    if (!vars.length) {
      fill(el, h('p', { class: 'muted' }, 'A sweep without axes has a single configuration: no phase diagram.'));
      return;
    }
    const token = ++heatmapToken;
    const x = $('#hm-x').value;
    const y = vars.length > 1 ? $('#hm-y').value : null;
    const z = $('#hm-z').value;
    const agg = $('#hm-agg').value;
    const qs = new URLSearchParams({ x, z, agg });
    if (y) qs.set('y', y);
    let svgText;
    try {
      // An adaptive sweep: its refined cells and the boundary it found, whatever the selectors say.
      const refined = state.sweep?.refine || state.sweep?.spec?.refine;
      svgText = await apiSvg(refined ? `/v1/sweeps/${id}/boundary.svg` : `/v1/sweeps/${id}/plot.svg?${qs}`);
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
      if (cell.dataset.runId && cell.dataset.runId === state.selectedRunId) cell.classList.add('selected');
    }
  }

  function cellFromEvent(ev) {
    const cell = ev.target.closest?.('.cell');
    if (cell) return cell;
    return ev.target.closest?.('a')?.querySelector('.cell') ?? null;
  }
  function pickCell(cell) {
    const runId = cell.dataset.runId ?? cell.dataset.firstRunId;
    if (runId) return showRun(runId, cell);
  }
  $('#heatmap').addEventListener('click', (ev) => {
    const cell = cellFromEvent(ev);
    if (!cell) return;
    ev.preventDefault(); // a cell may sit in an <a href>: show the run here instead
    pickCell(cell);
  });
  $('#heatmap').addEventListener('keydown', (ev) => {
    if (ev.key !== 'Enter' && ev.key !== ' ') return;
    const cell = cellFromEvent(ev);
    if (!cell) return;
    ev.preventDefault();
    pickCell(cell);
  });

  // ---- one run: trajectory plot and summary

  let runToken = 0;
  /** Shows a run's trajectory and summary; `cell` is the heatmap cell it was picked from, if any. */
  async function showRun(runId, cell) {
    const token = ++runToken;
    state.selectedRunId = runId;
    document.querySelectorAll('tr.selected, .cell.selected').forEach((el) => el.classList.remove('selected'));
    document.querySelectorAll(`tr[data-run-id="${CSS.escape(runId)}"], .cell[data-run-id="${CSS.escape(runId)}"]`)
      .forEach((el) => el.classList.add('selected'));
    cell?.classList.add('selected');
    const head = $('#trajectory-head');
    const plot = $('#trajectory');
    fill(head, 'Loading the run…');
    $('#trajectory-section').scrollIntoView({ block: 'nearest', behavior: 'smooth' });
    try {
      const run = await apiJson(`/v1/runs/${encodeURIComponent(runId)}`);
      if (token !== runToken) return;
      fill(head,
        h('strong', { class: 'run-title' }, `Run #${run.index}`), ' · ',
        h('span', { class: 'params run-params' }, paramsText(run.params, state.variables ?? []) || 'no axis variables'), ' · ', badge(run.status),
        run.durationMs != null ? ` · ${fmtNum(run.durationMs)} ms` : null,
        run.coreVersion ? ` · contract ${run.contract ?? contractOf(run.coreVersion)}, core ${run.coreVersion}` : null,
        ' · ', h('a', { href: `/v1/runs/${encodeURIComponent(run.id)}`, target: '_blank', rel: 'noopener' }, 'JSON'));
      head.classList.remove('muted');
      renderSummary(run);
      if (run.status !== 'succeeded') {
        fill(plot, h('p', { class: 'muted' }, run.error ? 'This run failed: no trajectory.' : `No trajectory (the run is ${run.status}).`));
        return;
      }
      const svg = await apiSvg(`/v1/runs/${encodeURIComponent(runId)}/plot.svg`);
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

  // ---- polling

  async function refreshAnalytics() {
    state.lastAnalytics = Date.now();
    await Promise.all([loadStats(), loadHeatmap(), loadRunsTable()]);
  }

  const poll = poller(async () => {
    try {
      const sw = await apiJson(`/v1/sweeps/${encodeURIComponent(id)}`);
      const first = !state.sweep;
      const wasActive = state.sweep ? ACTIVE.has(state.sweep.status) : true;
      state.sweep = sw;
      errEl.hidden = true;
      renderHead(sw);
      renderProgress(sw);
      if (first) renderSpec(sw);
      if (!state.variables) {
        state.variables = await detectVariables();
        if (state.variables) {
          await loadFields();
          setupSelectors(state.variables);
        }
      }
      const c = sw.counts;
      const done = c.succeeded + c.failed + c.cancelled;
      const active = ACTIVE.has(sw.status);
      if (c.failed !== state.lastFailed) { state.lastFailed = c.failed; loadFailed(); }
      if (state.variables && (done !== state.lastDone || (wasActive && !active) || first)) {
        // While running: refresh the tables and plot every few seconds; at the end, once more.
        if (!active || first || Date.now() - state.lastAnalytics > 4000) {
          state.lastDone = done;
          refreshAnalytics();
        }
      }
      return active || !state.variables ? POLL_ACTIVE_MS : null;
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
  onKeyChange = () => poll.now();

  $('#sweep-cancel').addEventListener('click', async () => {
    if (!confirm('Cancel this sweep? Queued runs are cancelled at once; running ones stop soon.')) return;
    try { await api(`/v1/sweeps/${id}/cancel`, { method: 'POST' }); } catch (err) { showError(errEl, err, 'Cancel failed'); }
    poll.now();
  });
  $('#sweep-retry').addEventListener('click', async () => {
    try { await api(`/v1/sweeps/${id}/retry`, { method: 'POST' }); } catch (err) { showError(errEl, err, 'Retry failed'); }
    state.lastFailed = -1;
    poll.now();
  });

  poll.now();
}

// ------------------------------------------------------------------ start

const page = document.body.dataset.page;
if (page === 'list') listPage();
else if (page === 'sweep') sweepPage();
