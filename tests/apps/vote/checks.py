"""Reading back what the pipeline wrote."""

from __future__ import annotations

import json

import psycopg
import redis


def table_votes(conn: psycopg.Connection) -> dict[str, str]:
    """The votes table as {voter_id: vote}; empty before the worker created it."""
    try:
        return dict(conn.execute("SELECT id, vote FROM votes").fetchall())
    except psycopg.errors.UndefinedTable:
        return {}


def queued_votes(client: redis.Redis) -> list[dict[str, str]]:
    """The messages waiting in the Redis list `votes`, oldest first."""
    return [json.loads(item) for item in client.lrange("votes", 0, -1)]
