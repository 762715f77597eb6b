"""The result service as a real node process against a real Postgres."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.apps.vote.processes import result_service, service_env, wait_http
from tests.support.servers import PostgresServer


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_for_scores(base: str, expected: dict[str, int], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while (last := get(f"{base}/api/scores")) != (200, json.dumps(expected, separators=(",", ":"))):
        if time.monotonic() > deadline:
            raise AssertionError(f"/api/scores is {last}, expected {expected}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with PostgresServer(dbname="votes_result") as server:
        yield server


@pytest.fixture(scope="module")
def result(postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = service_env(postgres=postgres, OPTION_A="Tea & <b>", OPTION_B="Coffee", APP_VERSION="2.0.1")
    with result_service(env, tmp_path_factory.mktemp("result") / "result.log") as base:
        wait_http(f"{base}/healthz")
        yield base


@pytest.fixture
def db(postgres: PostgresServer) -> Iterator[psycopg.Connection]:
    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS votes")
        yield conn


def test_no_table_yet_means_no_votes(result: str, db: psycopg.Connection) -> None:
    wait_for_scores(result, {"a": 0, "b": 0})
    status, body = get(f"{result}/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok", "db": "up", "version": "2.0.1"}


def test_scores_follow_the_table(result: str, db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE votes (id VARCHAR(255) NOT NULL UNIQUE, vote VARCHAR(255) NOT NULL)")
    db.execute("INSERT INTO votes VALUES ('v1', 'a'), ('v2', 'b'), ('v3', 'a')")
    wait_for_scores(result, {"a": 2, "b": 1})
    db.execute("UPDATE votes SET vote = 'b' WHERE id = 'v1'")
    wait_for_scores(result, {"a": 1, "b": 2})


def test_the_page_has_the_configured_labels_and_a_local_socket_io_client(result: str) -> None:
    status, html = get(f"{result}/")
    assert status == 200
    assert "Tea &amp; &lt;b&gt;" in html and "Coffee" in html
    assert "Cats" not in html
    assert '<script src="/socket.io/socket.io.js"></script>' in html
    status, script = get(f"{result}/socket.io/socket.io.js")
    assert status == 200 and "io" in script
    assert get(f"{result}/app.js")[0] == 200


def test_postgres_down_is_503_and_the_service_recovers(
    result: str, postgres: PostgresServer, db: psycopg.Connection
) -> None:
    db.execute("CREATE TABLE votes (id VARCHAR(255) NOT NULL UNIQUE, vote VARCHAR(255) NOT NULL)")
    db.execute("INSERT INTO votes VALUES ('v1', 'b')")
    wait_for_scores(result, {"a": 0, "b": 1})
    postgres.stop()
    try:
        wait_http(f"{result}/healthz", timeout=15, expect=503)
        status, body = get(f"{result}/api/scores")
        assert status == 503 and json.loads(body) == {"error": "database unavailable"}
        # No internal host, port or user name in the error body.
        assert "127.0.0.1" not in body and str(postgres.port) not in body and postgres.user not in body
        assert get(f"{result}/")[0] == 200
        # What the probes ask: the process serves, so it stays in its Service.
        assert get(f"{result}/livez")[0] == 200
    finally:
        postgres.start()
    wait_http(f"{result}/healthz", timeout=20)
    wait_for_scores(result, {"a": 0, "b": 1})


def test_the_node_process_logged_no_crash(result: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    logs = "".join(p.read_text() for p in Path(tmp_path_factory.getbasetemp()).glob("result*/result.log"))
    assert "result listening" in logs
    assert "Uncaught" not in logs and "UnhandledPromiseRejection" not in logs
