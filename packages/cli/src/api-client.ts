// A small client of the sweep service's REST API (/v1). Every failure becomes either an
// ApiHttpError (the API answered with an error status) or an ApiUnreachableError (no
// answer at all); reportError() turns both into one clear stderr line and an exit code.
import type { Command } from 'commander';
import {
  EXIT_FAILURE, EXIT_UNREACHABLE, EXIT_USAGE, exitCodeForStatus,
} from './exit-codes.ts';
import { InputError } from './read-input.ts';
import { resolveSweepPath } from './resolve-id.ts';

export const DEFAULT_API = 'http://127.0.0.1:3000';
/** Ordinary requests give up after this long without a complete answer. */
const REQUEST_TIMEOUT_MS = 30_000;

export interface ApiIssue { path: string; message: string; index?: number }

export interface ApiErrorBody { statusCode?: number; error?: string; message?: string; issues?: ApiIssue[] }

export class ApiHttpError extends Error {
  readonly status: number;
  readonly body: ApiErrorBody;
  constructor(status: number, body: ApiErrorBody) {
    super(body.message || body.error || `HTTP ${status}`);
    this.name = 'ApiHttpError';
    this.status = status;
    this.body = body;
  }
}

export class ApiUnreachableError extends Error {
  readonly base: string;
  readonly reason: string;
  constructor(base: string, reason: string) {
    super(`cannot reach the API at ${base}: ${reason}`);
    this.name = 'ApiUnreachableError';
    this.base = base;
    this.reason = reason;
  }
}

export interface ApiFlags { api?: string; apiKey?: string }

type Query = Record<string, string | number | boolean | string[] | undefined | null>;

export interface RequestOptions {
  query?: Query;
  /** A string is sent as is (give contentType); anything else as JSON. */
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
  /** No overall time limit (streamed downloads). */
  stream?: boolean;
  /** Aborts the request (e.g. Ctrl-C while following). */
  signal?: AbortSignal;
}

/** The reason a fetch failed, as short as possible: an errno code (ECONNREFUSED) when there is one. */
function networkReason(err: unknown): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: unknown; errors?: unknown[] };
  if (e?.name === 'TimeoutError') return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  const cause = e?.cause as { code?: string; message?: string; errors?: { code?: string }[] } | undefined;
  if (cause?.code) return cause.code;
  const inner = cause?.errors?.find((x) => x?.code)?.code;
  if (inner) return inner;
  if (e?.code) return e.code;
  return cause?.message || e?.message || String(err);
}

function signalFor(o: RequestOptions): AbortSignal | undefined {
  const signals = [o.signal, o.stream ? undefined : AbortSignal.timeout(REQUEST_TIMEOUT_MS)].filter((x): x is AbortSignal => !!x);
  return signals.length > 1 ? AbortSignal.any(signals) : signals[0];
}

export class ApiClient {
  readonly base: string;
  private readonly key?: string;
  /** Sweep id prefixes already resolved (`sweep status 3f0c -f` polls the same one). */
  private readonly ids = new Map<string, string>();

  constructor(base: string, key?: string) {
    let url: URL;
    try {
      url = new URL(base);
    } catch {
      throw new InputError(`--api ${JSON.stringify(base)} is not a URL (e.g. http://127.0.0.1:3000)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new InputError(`--api ${JSON.stringify(base)} must be an http:// or https:// URL`);
    }
    this.base = base.replace(/\/+$/, '');
    this.key = key || undefined;
  }

  /** From --api/--api-key, else SWEEP_API/SWEEP_API_KEY, else the local default. */
  static fromFlags(flags: ApiFlags): ApiClient {
    return new ApiClient(flags.api || process.env.SWEEP_API || DEFAULT_API, flags.apiKey || process.env.SWEEP_API_KEY);
  }

  url(path: string, query?: Query): string {
    const u = new URL(`${this.base}/v1${path}`);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v === undefined || v === null) continue;
      if (Array.isArray(v)) v.forEach((x) => u.searchParams.append(k, x));
      else u.searchParams.set(k, String(v));
    }
    return u.toString();
  }

  /** The raw response of a successful request; error statuses throw ApiHttpError. */
  async fetch(method: string, path: string, o: RequestOptions = {}): Promise<Response> {
    path = await resolveSweepPath(this, path, this.ids);
    const headers: Record<string, string> = { accept: 'application/json', ...o.headers };
    if (this.key) headers.authorization = `Bearer ${this.key}`;
    let body: string | undefined;
    if (o.body !== undefined) {
      body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
      headers['content-type'] = o.contentType ?? 'application/json';
    }
    let res: Response;
    try {
      res = await fetch(this.url(path, o.query), {
        method, headers, body,
        signal: signalFor(o),
      });
    } catch (err) {
      throw new ApiUnreachableError(this.base, networkReason(err));
    }
    if (!res.ok) {
      let text = '';
      try {
        text = await res.text();
      } catch {
        // the body is lost; the status still says what happened
      }
      let parsed: ApiErrorBody;
      try {
        parsed = JSON.parse(text) as ApiErrorBody;
        if (typeof parsed !== 'object' || parsed === null) throw new Error('not an object');
      } catch {
        const line = text.trim().split('\n')[0]?.slice(0, 200);
        parsed = { statusCode: res.status, message: line || `HTTP ${res.status} ${res.statusText}` };
      }
      // Without a key the API's "missing or malformed header" says less than this.
      throw new ApiHttpError(res.status, res.status === 401 && !this.key ? { ...parsed, message: 'no API key' } : parsed);
    }
    return res;
  }

  async json<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const res = await this.fetch(method, path, o);
    try {
      return (await res.json()) as T;
    } catch (err) {
      if ((err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError') {
        throw new ApiUnreachableError(this.base, networkReason(err));
      }
      throw new Error(`the API at ${this.base} answered ${method} ${path} with something that is not JSON`);
    }
  }

  get<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
    return this.json<T>('GET', path, { query, signal });
  }

  post<T>(path: string, o: RequestOptions = {}): Promise<T> {
    return this.json<T>('POST', path, o);
  }
}

/** Pauses before the second and later attempts of a retried request (SWEEP_RETRY_DELAYS_MS overrides, comma-separated). */
export const RETRY_DELAYS_MS = [500, 2000];

function retryDelays(): number[] {
  const raw = process.env.SWEEP_RETRY_DELAYS_MS;
  if (raw === undefined || raw.trim() === '') return RETRY_DELAYS_MS;
  const v = raw.split(',').map((x) => Number(x.trim()));
  return v.every((x) => Number.isFinite(x) && x >= 0) ? v : RETRY_DELAYS_MS;
}

/**
 * Runs a request again when no answer came back (connection refused, reset or closed
 * before the response, time-out) or the API said 503 (a backing service is down), after
 * each pause of RETRY_DELAYS_MS. Only for requests that are safe to repeat: a submission
 * is, because it carries the same Idempotency-Key every time, so a request that did reach
 * the API returns the sweep it created instead of creating a second.
 */
export async function withRetries<T>(attempt: () => Promise<T>, what: string): Promise<T> {
  const delays = retryDelays();
  for (let i = 0; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      const retryable = err instanceof ApiUnreachableError || (err instanceof ApiHttpError && err.status === 503);
      if (!retryable || i >= delays.length) throw err;
      const reason = err instanceof ApiUnreachableError ? err.reason : `HTTP 503: ${err.message}`;
      process.stderr.write(`warning: ${what}: ${reason}; trying again in ${delays[i] / 1000} s (attempt ${i + 2} of ${delays.length + 1})\n`);
      await new Promise((r) => setTimeout(r, delays[i]));
    }
  }
}

// ------------------------------------------------------------------ API shapes

export type SweepStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export const FINISHED: readonly SweepStatus[] = ['succeeded', 'failed', 'cancelled'];

export interface Counts { total: number; queued: number; running: number; succeeded: number; failed: number; cancelled: number }

export interface Sweep {
  id: string;
  name: string;
  status: SweepStatus;
  tags?: string[];
  counts: Counts;
  enqueued?: number;
  coreVersion?: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  etaSeconds: number | null;
}

export interface SweepPage { items: Sweep[]; nextCursor: string | null }
export interface SubmitReply { id: string; total: number; status: SweepStatus }
export type ActionReply = Sweep & { affected?: number };

export interface MetricStats {
  count: number; mean: number | null; std: number | null; min: number | null;
  p10: number | null; median: number | null; p90: number | null; max: number | null;
  meanSquare?: number | null; rms?: number | null;
}
export interface StatsGroup {
  key: Record<string, unknown>;
  n: number;
  runId?: string | null;
  metrics: Record<string, MetricStats>;
  collapsedRate?: number | null;
  convergedRate?: number | null;
  inIntervalRate?: number | null;
  meanConvergedAt?: number | null;
}
export interface StatsReply {
  sweepId: string;
  groupBy: string[];
  metrics: string[];
  where?: unknown[];
  variables?: string[];
  /** The model contract the groups aggregate, its core versions, and the runs of other contracts left out. */
  contract: number | null;
  coreVersions?: string[];
  otherContracts?: { contract: number; runs: number; coreVersions?: string[] }[];
  groups: StatsGroup[];
}

// ------------------------------------------------------------------ errors -> exit codes

/** One line per issue: `[config 12] /rewards/0/center: reason`. */
export function issueLine(i: ApiIssue): string {
  const at = i.index !== undefined && i.index !== null ? `[config ${i.index}] ` : '';
  return `${at}${i.path || '/'}: ${i.message}`;
}

/** Prints what went wrong on stderr (each line prefixed `error: `) and returns the exit code. */
export function reportError(err: unknown): number {
  const say = (lines: string[]) => process.stderr.write(lines.map((l) => `error: ${l}\n`).join(''));
  if (err instanceof ApiHttpError) {
    if (err.status === 404 && /^no route /.test(err.body.message ?? '')) {
      // The server has no such endpoint (an older API?): not a missing sweep.
      say([`the API does not offer this endpoint: ${err.body.message} (an older API version?)`]);
      return EXIT_FAILURE;
    }
    const issues = err.body.issues ?? [];
    // A lone issue without a path (a body that does not parse) reads better as the message.
    const pathless = issues.length === 1 && !issues[0].path && issues[0].index === undefined;
    if ((err.status === 400 || err.status === 422) && issues.length && !pathless) say(issues.map(issueLine));
    else if (err.status === 401) say([`${err.message} (HTTP 401): set SWEEP_API_KEY or pass --api-key`]);
    else say([`${err.message} (HTTP ${err.status})`]);
    return exitCodeForStatus(err.status);
  }
  if (err instanceof ApiUnreachableError) {
    say([err.message]);
    return EXIT_UNREACHABLE;
  }
  if (err instanceof InputError) {
    say([err.message]);
    return EXIT_USAGE;
  }
  say([err instanceof Error ? err.message : String(err)]);
  return EXIT_FAILURE;
}

/** Runs an API command, turning any failure into its message and exit code. */
export async function runApiCommand(action: () => Promise<number | void>): Promise<void> {
  try {
    process.exitCode = (await action()) ?? 0;
  } catch (err) {
    process.exitCode = reportError(err);
  }
}

/** --api and --api-key, on every command that talks to the API. */
export function addApiOptions(cmd: Command): Command {
  return cmd
    .option('--api <url>', `API base URL (default: $SWEEP_API, else ${DEFAULT_API})`)
    .option('--api-key <key>', 'sent as Authorization: Bearer <key> (default: $SWEEP_API_KEY)');
}
