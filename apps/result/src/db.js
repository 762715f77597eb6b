// Postgres access: one pool, one query that returns both counts.

import pg from 'pg';

// One row, both counts: the poll costs a single round trip and a single scan.
export const SCORES_SQL = `SELECT COUNT(*) FILTER (WHERE vote = 'a')::int AS a,
       COUNT(*) FILTER (WHERE vote = 'b')::int AS b
FROM votes`;

const UNDEFINED_TABLE = '42P01';

export function createPool(settings) {
  const pool = new pg.Pool({
    ...settings,
    max: 2,
    connectionTimeoutMillis: 3000,
    idleTimeoutMillis: 30000,
    statement_timeout: 5000,
    query_timeout: 6000,
    application_name: 'vote-result',
  });
  // An idle client whose server went away emits here; without a listener
  // that would crash the process instead of just dropping the client.
  pool.on('error', (err) => console.warn(`postgres client error: ${err.message}`));
  return pool;
}

// Until the worker has created the table there are no votes, not an outage.
export async function fetchScores(pool) {
  try {
    const { rows } = await pool.query(SCORES_SQL);
    return { a: rows[0].a, b: rows[0].b };
  } catch (err) {
    if (err.code === UNDEFINED_TABLE) return { a: 0, b: 0 };
    throw err;
  }
}
