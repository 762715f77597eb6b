"""Fixtures for the voting app's tests: real Redis and Postgres on loopback."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import psycopg
import pytest
import redis

from tests.apps.vote.processes import VOTE_DIR, WORKER_DIR
from tests.support.servers import PostgresServer, RedisServer

# The services are deployables, not installed packages: import them from the tree.
for path in (str(VOTE_DIR), str(WORKER_DIR)):
    if path not in sys.path:
        sys.path.insert(0, path)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with PostgresServer(dbname="votes_test") as server:
        yield server


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A client on an emptied Redis."""
    client = redis.Redis(port=redis_server.port, decode_responses=True)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def pg(postgres_server: PostgresServer) -> Iterator[psycopg.Connection]:
    """An autocommit connection to a database without a votes table."""
    with psycopg.connect(postgres_server.dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS votes")
        yield conn
