"""The original worker's loop, reproduced as the baseline the bench compares with.

Every turn sleeps 100 ms, LPOPs one vote and writes it with one statement
(INSERT, or UPDATE when the voter exists), committing each row on its own.
"""

from __future__ import annotations

import json
import time

import psycopg
import redis


def run_original_loop(queue: redis.Redis, conn: psycopg.Connection, seconds: float) -> int:
    """Run the loop for about `seconds`; return how many votes it moved."""
    moved = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.1)
        raw = queue.lpop("votes")
        if raw is None:
            continue
        vote = json.loads(raw)
        try:
            conn.execute("INSERT INTO votes (id, vote) VALUES (%s, %s)", (vote["voter_id"], vote["vote"]))
        except psycopg.errors.UniqueViolation:
            conn.execute("UPDATE votes SET vote = %s WHERE id = %s", (vote["vote"], vote["voter_id"]))
        moved += 1
    return moved
