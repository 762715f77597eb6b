"""The Postgres side: the `votes` table and one multi-row upsert per batch."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import psycopg

from .config import Settings
from .votes import Vote

log = logging.getLogger(__name__)

# `id` and `vote` are the table every consumer knows (result counts `vote`).
# `seq` is ours: the queue order of the vote a row holds, so a late commit of
# an older vote (a recovered batch, a slower worker) never overwrites a newer
# one.  The ALTER upgrades a table created by an older worker.  The advisory
# lock serialises workers starting together: concurrent CREATE TABLE IF NOT
# EXISTS can still collide in the catalog.
SCHEMA = """
SELECT pg_advisory_xact_lock(hashtext('vote-worker-schema'));
CREATE TABLE IF NOT EXISTS votes (
    id VARCHAR(255) NOT NULL UNIQUE,
    vote VARCHAR(255) NOT NULL
);
ALTER TABLE votes ADD COLUMN IF NOT EXISTS seq BIGINT NOT NULL DEFAULT 0;
"""

UPSERT = """
INSERT INTO votes (id, vote, seq)
SELECT * FROM unnest(%s::varchar[], %s::varchar[], %s::bigint[])
ON CONFLICT (id) DO UPDATE SET vote = EXCLUDED.vote, seq = EXCLUDED.seq
WHERE votes.seq < EXCLUDED.seq
"""


def is_data_error(exc: psycopg.Error) -> bool:
    """Postgres refused the data itself (SQLSTATE classes 22 and 23: a value it
    cannot hold, a constraint): the same votes would fail every retry.

    Anything else is the state of the server, the link or the schema (down,
    restarting, the table dropped under us): the batch stays claimed and is
    retried on a fresh connection, which recreates the table.
    """
    return isinstance(exc, (psycopg.DataError, psycopg.IntegrityError))


class VoteStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._conn: psycopg.Connection | None = None

    def _connect(self) -> psycopg.Connection:
        s = self.settings
        conn = psycopg.connect(
            host=s.postgres_host,
            port=s.postgres_port,
            user=s.postgres_user,
            password=s.postgres_password,
            dbname=s.postgres_db,
            connect_timeout=5,
            autocommit=True,
            application_name=f"vote-worker-{s.worker_id}",
            # Notice a dead server in seconds instead of the kernel's hours.
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
        )
        try:
            with conn.transaction():
                conn.execute(SCHEMA)
        except psycopg.Error:
            conn.close()
            raise
        log.info("connected to postgres at %s:%s", s.postgres_host, s.postgres_port)
        return conn

    def upsert(self, votes: Sequence[Vote]) -> None:
        """Write votes in one statement and commit; raises psycopg.Error."""
        if not votes:
            return
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
        try:
            with self._conn.transaction():
                self._conn.execute(
                    UPSERT,
                    (
                        [v.voter_id for v in votes],
                        [v.choice for v in votes],
                        [v.seq for v in votes],
                    ),
                )
        except psycopg.Error:
            # Whatever broke, the next batch starts on a fresh connection.
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
