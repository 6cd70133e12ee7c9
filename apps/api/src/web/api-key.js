// The user's API key: kept in localStorage, entered in the form at the top right, and
// asked for by a banner when the API answers 401.
import { $, fill, h } from './dom.js';

const KEY_STORAGE = 'sweepApiKey';

export function readKey() {
  try { return localStorage.getItem(KEY_STORAGE) || ''; } catch { return ''; }
}

/** @param {string} v */
function writeKey(v) {
  try { if (v) localStorage.setItem(KEY_STORAGE, v); else localStorage.removeItem(KEY_STORAGE); } catch { /* storage disabled */ }
}

/** @param {string} key the key that was refused ('' when none was sent) */
export function showAuthPrompt(key) {
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

export function hideAuthPrompt() {
  const el = $('#auth-banner');
  if (el && !el.hidden) { el.hidden = true; delete el.dataset.focused; }
}

/**
 * Wires the key form; `onChange` runs after the key is saved or cleared.
 * @param {() => void} onChange
 */
export function setupKeyForm(onChange) {
  const form = $('#apikey-form');
  const input = $('#apikey');
  input.value = readKey();
  input.placeholder = readKey() ? '' : 'not set';
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    writeKey(input.value.trim());
    input.placeholder = input.value ? '' : 'not set';
    flash(form, input.value ? 'saved' : 'cleared');
    onChange();
  });
  $('#apikey-clear').addEventListener('click', () => {
    input.value = '';
    writeKey('');
    input.placeholder = 'not set';
    flash(form, 'cleared');
    onChange();
  });
}

/** @type {ReturnType<typeof setTimeout> | undefined} */
let flashTimer;
/** @param {HTMLElement} form @param {string} text */
function flash(form, text) {
  let note = form.querySelector('.saved');
  if (!note) { note = h('span', { class: 'saved', role: 'status' }); form.append(note); }
  note.textContent = text;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => { note.textContent = ''; }, 2000);
}
