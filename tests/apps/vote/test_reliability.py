"""No vote lost, none counted twice: a real worker process under kill -9 and a Postgres restart."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import psycopg
import redis
from vote_app.queue import VoteQueue as FrontDoorQueue
from vote_worker.queue import PROCESSING_PREFIX

from tests.apps.vote.checks import table_votes
from tests.apps.vote.processes import service_env, start_worker
from tests.support.servers import PostgresServer, RedisServer

VOTERS = 5_000
VOTES = 20_000
CHUNK = 500
# Chunks after which the worker is killed (-9) or Postgres restarted.
KILL_AFTER = {6: "same-id", 14: "new-id", 26: "same-id", 34: "same-id"}
RESTART_POSTGRES_AFTER = 20


def ballot(seed: int = 4) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """Every voter votes once, then 15,000 random changes; and the expected final map."""
    rng = random.Random(seed)
    voters = [f"voter{n:05d}" for n in range(VOTERS)]
    order = voters[:]
    rng.shuffle(order)
    order += [rng.choice(voters) for _change in range(VOTES - VOTERS)]
    votes = [(voter, rng.choice("ab")) for voter in order]
    return votes, dict(votes)


def test_kill_9_and_a_postgres_restart_lose_no_vote_and_count_none_twice(tmp_path: Path) -> None:
    votes, expected = ballot()
    log = tmp_path / "worker.log"
    kills = 0
    with RedisServer() as redis_srv, PostgresServer(dbname="votes_reliability") as postgres:
        client = redis.Redis(port=redis_srv.port, decode_responses=True)
        env = service_env(
            redis_srv,
            postgres,
            WORKER_BATCH_SIZE="100",
            WORKER_HEARTBEAT_TTL="2",
            WORKER_ID="reliability-1",
            WORKER_HEALTH_FILE=str(tmp_path / "alive"),
        )
        worker = start_worker(env, log)
        rng = random.Random(9)
        try:
            for chunk, start in enumerate(range(0, VOTES, CHUNK)):
                pipe = client.pipeline(transaction=False)
                front_door = FrontDoorQueue(pipe)
                for voter, choice in votes[start : start + CHUNK]:
                    front_door.push(voter, choice)
                pipe.execute()
                time.sleep(0.15)
                if chunk in KILL_AFTER:
                    time.sleep(rng.uniform(0, 0.05))
                    worker.send_signal(signal.SIGKILL)
                    assert worker.wait(timeout=10) == -signal.SIGKILL
                    kills += 1
                    if KILL_AFTER[chunk] == "new-id":
                        # As a pod replaced under a new name: its list is an orphan.
                        env["WORKER_ID"] = f"reliability-{kills + 1}"
                    worker = start_worker(env, log)
                if chunk == RESTART_POSTGRES_AFTER:
                    postgres.stop()
                    time.sleep(1.0)
                    postgres.start()

            deadline = time.monotonic() + 60
            with psycopg.connect(postgres.dsn, autocommit=True) as conn:
                while True:
                    settled = client.llen("votes") == 0 and not client.keys(PROCESSING_PREFIX + "*")
                    if settled or time.monotonic() > deadline:
                        break
                    time.sleep(0.2)
                assert settled, (
                    f"queue not drained: {client.llen('votes')} queued, {client.keys(PROCESSING_PREFIX + '*')}"
                )
                assert worker.poll() is None, log.read_text()[-2000:]
                got = table_votes(conn)
                rows = conn.execute("SELECT count(*) FROM votes").fetchone()
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=15)
    assert kills >= 3
    assert rows == (VOTERS,)
    missing = expected.keys() - got.keys()
    wrong = {voter for voter in expected.keys() & got.keys() if got[voter] != expected[voter]}
    assert not missing and not wrong, f"{len(missing)} voters missing, {len(wrong)} with a stale vote"
    assert got == expected
