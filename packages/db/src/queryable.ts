// What the repositories need of a connection.
import type pg from 'pg';

/** A pool, a checked-out client or a transaction's client: anything that runs a query. */
export type Queryable = Pick<pg.Pool, 'query'>;
