// `npm run db:migrate`: create the database if needed and apply pending migrations.
import { migrate, databaseUrl } from '@curation/db';

const url = databaseUrl();
const { applied, alreadyApplied } = await migrate(url);
const where = new URL(url);
where.password = where.password ? '***' : '';
console.log(`database ${where.toString()}: applied ${applied.length} migration(s)${applied.length ? ` (${applied.join(', ')})` : ''}, ${alreadyApplied.length} already applied`);
