// Every call to the JSON API goes through api(), which adds the API key (if any) and
// reports a 401 clearly. Plots are fetched as SVG text and inlined, since <img> cannot
// send an Authorization header.
import { hideAuthPrompt, readKey, showAuthPrompt } from './api-key.js';

/** A request the API refused (or that never reached it: status 0). */
export class ApiError extends Error {
  /** @param {number} status @param {any} body @param {string} message */
  constructor(status, body, message) {
    super(message);
    this.status = status;
    this.body = body;
    /** @type {{ path: string, message: string, index?: number }[]} */
    this.issues = Array.isArray(body?.issues) ? body.issues : [];
  }
}

/**
 * Every request to the API: adds `Authorization: Bearer <key>` when a key is set. Throws ApiError when not ok.
 * @param {string} path
 * @param {RequestInit} [init]
 */
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

/** @param {string} path @param {RequestInit} [init] @returns {Promise<any>} */
export const apiJson = async (path, init) => (await api(path, init)).json();

/** @param {string} path */
export const apiSvg = async (path) => (await api(path, { headers: { accept: 'image/svg+xml' } })).text();
