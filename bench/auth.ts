// Benchmarks talk to the API like any client: with a key of a team of their own.
import pg from 'pg';
import { createKey, createTeam } from '@curation/db';

export async function benchAuthHeaders(databaseUrl: string, o: { admin?: boolean } = {}): Promise<Record<string, string>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const team = await createTeam(client, `bench-${Date.now()}`);
    const { key } = await createKey(client, team.id, { name: 'bench', role: o.admin ? 'admin' : 'member' });
    return { authorization: `Bearer ${key}` };
  } finally {
    await client.end();
  }
}
