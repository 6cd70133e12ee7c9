// How values read on the page: numbers, durations, times, a run's parameters, and
// which contract and core computed a result.

/** @param {unknown} v */
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

/** @param {number | null | undefined} sec */
export function fmtDuration(sec) {
  if (sec == null || !Number.isFinite(sec)) return '—';
  sec = Math.max(0, Math.round(sec));
  if (sec < 60) return `${sec} s`;
  if (sec < 3600) return `${Math.floor(sec / 60)} min ${sec % 60} s`;
  return `${Math.floor(sec / 3600)} h ${Math.floor((sec % 3600) / 60)} min`;
}

/** @param {string | null | undefined} iso */
export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * `q=0.2, D=2`, in the order of `order` (the sweep's variables) first.
 * @param {Record<string, unknown> | null | undefined} params
 * @param {string[]} [order]
 */
export function paramsText(params, order = []) {
  const keys = Object.keys(params ?? {});
  const sorted = [...order.filter((k) => keys.includes(k)), ...keys.filter((k) => !order.includes(k))];
  return sorted.map((k) => `${k}=${fmtNum(params[k])}`).join(', ');
}

/** The value at a dotted path (`final.mass.0`), or undefined. */
export function getPath(obj, path) {
  let cur = obj;
  for (const part of path.split('.')) {
    if (cur == null) return undefined;
    cur = cur[part];
  }
  return cur;
}

/**
 * The contract a core version implements: its major number (as the server labels results).
 * @param {string | null | undefined} coreVersion
 */
export function contractOf(coreVersion) {
  const m = /^([0-9]+)\./.exec(coreVersion ?? '');
  return m ? Number(m[1]) : 1;
}

/** "contract 2, core 2.0.0" and the runs of other contracts left out, from a stats reply. */
export function provenanceText(st) {
  if (st?.contract == null) return '';
  const core = st.coreVersions?.length ? `, core ${st.coreVersions.join(' + ')}` : '';
  const left = (st.otherContracts ?? []).map((o) => `${o.runs} run${o.runs === 1 ? '' : 's'} of contract ${o.contract} left out`);
  return `contract ${st.contract}${core}${left.length ? ` (${left.join(', ')})` : ''}`;
}
