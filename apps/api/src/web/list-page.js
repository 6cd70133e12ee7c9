// The sweeps list (/): every sweep of the team with live progress, and the form that
// submits a new one (JSON or YAML; a refused spec shows each issue with its path).
import { api, apiJson } from './api.js';
import { setupKeyForm } from './api-key.js';
import { $, fill, h } from './dom.js';
import { fmtDuration } from './format.js';
import { ACTIVE, POLL_ACTIVE_MS, POLL_IDLE_MS, badge, poller, progressEl, showError, tagList, timeEl } from './widgets.js';

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

export function listPage() {
  setupKeyForm(() => poll.now());
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
