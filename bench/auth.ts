// Benchmarks talk to the API like any client: with a key of a team of their own.
import { createKey, createPool, createTeam } from '@curation/db';

export async function benchAuthHeaders(databaseUrl: string, o: { admin?: boolean } = {}): Promise<Record<string, string>> {
  const pool = createPool(databaseUrl, 1);
  try {
    const team = await createTeam(pool, `bench-${Date.now()}`);
    const { key } = await createKey(pool, team.id, { name: 'bench', role: o.admin ? 'admin' : 'member' });
    return { authorization: `Bearer ${key}` };
  } finally {
    await pool.end();
  }
}
