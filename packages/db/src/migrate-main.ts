// The migration command (`npm run db:migrate`, the compose file's `migrate` service):
// create the database if needed and apply pending migrations. Imports only the applier,
// not the Prisma client, so it starts quickly.
import { migrate } from './migrate.ts';
import { databaseUrl } from './env.ts';

const url = databaseUrl();
const { applied, alreadyApplied } = await migrate(url);
const where = new URL(url);
where.password = where.password ? '***' : '';
console.log(`database ${where.toString()}: applied ${applied.length} migration(s)${applied.length ? ` (${applied.join(', ')})` : ''}, ${alreadyApplied.length} already applied`);
