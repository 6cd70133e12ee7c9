// Sweep id prefixes: `sweep status 3f0c` means the team's one sweep whose id starts with
// 3f0c. Resolved through the list endpoint (the sweeps the key may see), once per prefix.
// The subpath, not the package root: the root loads pg and Prisma, which every CLI
// command that talks to the API would pay for at start.
import { isUuid } from '@curation/db/uuid';
import { InputError } from './read-input.ts';

/** At least 4 hex digits, dashes where a UUID has them. */
const PREFIX = /^[0-9a-f]{4}[0-9a-f-]{0,31}$/i;
/** Candidates named when a prefix is ambiguous. */
const MAX_CANDIDATES = 5;

interface Lister {
  get<T>(path: string, query?: Record<string, string | number | undefined>): Promise<T>;
}

interface Page { items: { id: string; name: string; createdAt: string }[]; nextCursor: string | null }

/**
 * The whole id of the one sweep whose id starts with `idOrPrefix`. A whole id, anything
 * that is not a prefix of one, and a prefix no sweep has are returned as they are, so
 * the API answers them (404: exit code 3) as it answers any unknown id. Several sweeps
 * with the prefix: InputError naming them.
 */
export async function resolveSweepId(client: Lister, idOrPrefix: string): Promise<string> {
  if (isUuid(idOrPrefix) || !PREFIX.test(idOrPrefix)) return idOrPrefix;
  const prefix = idOrPrefix.toLowerCase();
  const found: Page['items'] = [];
  let cursor: string | undefined;
  do {
    const page = await client.get<Page>('/sweeps', { limit: 100, cursor });
    for (const s of page.items) if (s.id.startsWith(prefix)) found.push(s);
    cursor = page.nextCursor ?? undefined;
  } while (cursor && found.length <= MAX_CANDIDATES);
  if (found.length === 1) return found[0].id;
  if (found.length === 0) return idOrPrefix;
  const shown = found.slice(0, MAX_CANDIDATES).map((s) => `${s.id} (${s.name}, ${s.createdAt})`);
  const count = found.length > MAX_CANDIDATES ? `more than ${MAX_CANDIDATES} sweeps` : `${found.length} sweeps`;
  const more = found.length > MAX_CANDIDATES ? ', ...' : '';
  throw new InputError(`${prefix} is ambiguous: ${count} start with it: ${shown.join(', ')}${more}; give more digits`);
}

/**
 * `/sweeps/<prefix>...` with the prefix resolved to a whole id (cached in `cache`); any
 * other path unchanged.
 */
export async function resolveSweepPath(client: Lister, path: string, cache: Map<string, string>): Promise<string> {
  const m = /^\/sweeps\/([^/?]+)(.*)$/.exec(path);
  if (!m || isUuid(m[1])) return path;
  const given = decodeURIComponent(m[1]);
  let id = cache.get(given);
  if (id === undefined) {
    id = await resolveSweepId(client, given);
    cache.set(given, id);
  }
  return `/sweeps/${id}${m[2]}`;
}
