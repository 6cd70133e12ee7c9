// Building the page from data: elements are made with h() and text is always text
// (never parsed as markup), so names, tags and errors from the API cannot inject HTML.

/** @param {string} sel @param {ParentNode} [root] */
export const $ = (sel, root = document) => /** @type {any} */ (root.querySelector(sel));

/** Escapes text for HTML markup (most code builds nodes with h() and textContent instead). */
export function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

/**
 * Builds an element; strings become text nodes (never markup).
 * @param {string} tag
 * @param {Record<string, any> | null} attrs
 * @param {...any} children
 * @returns {any}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  appendAll(el, children);
  return el;
}

/**
 * Replaces an element's children (nested arrays flattened, null and false skipped, strings as text).
 * @param {Element} el
 * @param {...any} children
 */
export function fill(el, ...children) {
  el.replaceChildren();
  appendAll(el, children);
  return el;
}

/** @param {HTMLElement} el @param {Record<string, any> | null} attrs */
function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') el.setAttribute('class', v);
    else if (k === 'dataset') for (const [dk, dv] of Object.entries(v)) { if (dv != null) el.dataset[dk] = String(dv); }
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

/** @param {Element} el @param {any[]} children */
function appendAll(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

/**
 * Rows of `table` that show something when clicked or when Enter or Space is pressed.
 * @param {HTMLElement} table
 * @param {(tr: HTMLElement) => void} onPick
 */
export function clickableRows(table, onPick) {
  table.addEventListener('click', (ev) => {
    const target = /** @type {HTMLElement} */ (ev.target);
    const tr = target.closest('tr.clickable');
    if (tr && !target.closest('a')) onPick(/** @type {HTMLElement} */ (tr));
  });
  table.addEventListener('keydown', (ev) => {
    const tr = /** @type {HTMLElement} */ (ev.target).closest('tr.clickable');
    if (tr && (ev.key === 'Enter' || ev.key === ' ')) { ev.preventDefault(); onPick(/** @type {HTMLElement} */ (tr)); }
  });
}
