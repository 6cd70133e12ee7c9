// The web dashboard: two HTML pages, plain ES modules (app.js, the entry, and the modules
// it imports) and one stylesheet from apps/api/src/web/, read once at start-up. Everything
// else the pages show comes from the JSON API under /v1 (fetched by the browser with the
// user's API key, when one is set).
//
// Registered at the root (not under /v1):  await app.register(dashboardRoutes);
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { ApiError } from '../errors.ts';

const WEB_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'web');

interface Asset { body: string; type: string; etag: string }

const etagOf = (body: string) => `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`;

function load(name: string, type: string, replace: Record<string, string> = {}): Asset {
  let body = readFileSync(join(WEB_DIR, name), 'utf8');
  for (const [k, v] of Object.entries(replace)) body = body.split(`{{${k}}}`).join(v);
  return { body, type, etag: etagOf(body) };
}

// Our pages only ever load our own script, style and fetch our own API. Inline style
// attributes are allowed because the plot SVGs inserted from the API may use them.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const JS_TYPE = 'text/javascript; charset=utf-8';

export const dashboardRoutes: FastifyPluginAsync = async (app) => {
  // Every module of the web directory, by file name; app.js is the entry the pages load.
  const modules = new Map(readdirSync(WEB_DIR).filter((f) => f.endsWith('.js')).sort().map((f) => [f, load(f, JS_TYPE)] as const));
  const css = load('app.css', 'text/css; charset=utf-8');
  // The pages name the entry and the stylesheet with a content hash, so both can be cached
  // for long and still change on deploy. The entry's hash covers every module: a change in
  // any of them gives the pages a new entry URL.
  const version = {
    js: etagOf([...modules.values()].map((m) => m.etag).join()).slice(1, 9),
    css: css.etag.slice(1, 9),
  };
  // Every module named up front: the browser fetches them at once instead of one level of
  // imports after another (each a revalidation round trip before the page can ask the API).
  const preload = [...modules.keys()].filter((f) => f !== 'app.js').map((f) => `<link rel="modulepreload" href="/assets/${f}">`).join('\n');
  const pages = {
    list: load('index.html', 'text/html; charset=utf-8', { ...version, preload }),
    sweep: load('sweep.html', 'text/html; charset=utf-8', { ...version, preload }),
  };

  const send = (reply: FastifyReply, asset: Asset, cacheControl: string, ifNoneMatch: string | undefined) => {
    reply
      .header('content-type', asset.type)
      .header('cache-control', cacheControl)
      .header('etag', asset.etag)
      .header('x-content-type-options', 'nosniff');
    if (ifNoneMatch === asset.etag) return reply.code(304).send();
    return reply.send(asset.body);
  };
  const page = (reply: FastifyReply, asset: Asset, inm: string | undefined) => {
    reply.header('content-security-policy', CSP).header('referrer-policy', 'same-origin');
    return send(reply, asset, 'no-cache', inm);
  };
  const hide = { schema: { hide: true } };
  // ?v=<hash> (from the pages) changes whenever a file does: cache for a day, revalidate by ETag after.
  const LONG = 'public, max-age=86400';

  app.get('/', hide, async (request, reply) => page(reply, pages.list, request.headers['if-none-match']));
  app.get<{ Params: { id: string } }>('/sweeps/:id', hide, async (request, reply) =>
    page(reply, pages.sweep, request.headers['if-none-match']));
  app.get('/assets/app.css', hide, async (request, reply) => send(reply, css, LONG, request.headers['if-none-match']));
  // The entry under its versioned URL; the modules it imports are fetched by plain relative
  // URLs (no version), so they are revalidated by ETag on every load (a 304 when unchanged).
  app.get<{ Params: { name: string } }>('/assets/:name', hide, async (request, reply) => {
    const asset = modules.get(request.params.name);
    if (!asset) throw new ApiError(404, `no asset ${request.params.name}`);
    return send(reply, asset, request.params.name === 'app.js' ? LONG : 'no-cache', request.headers['if-none-match']);
  });
};
