"""The worker's loop against a real Redis and a real Postgres."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from vote_app.queue import VoteQueue as FrontDoorQueue
from vote_worker.config import Settings
from vote_worker.queue import DEAD_LETTER_KEY, PROCESSING_PREFIX
from vote_worker.worker import Worker

from tests.apps.vote.checks import table_votes
from tests.apps.vote.processes import WORKER_DIR, service_env, worker_service
from tests.support.servers import PostgresServer, RedisServer


@pytest.fixture
def make_worker(redis_server: RedisServer, postgres_server: PostgresServer, tmp_path: Path) -> Iterator[object]:
    workers: list[Worker] = []

    def make(postgres: PostgresServer = postgres_server, **overrides: object) -> Worker:
        defaults: dict[str, object] = {
            "redis_host": "127.0.0.1",
            "redis_port": redis_server.port,
            "postgres_host": "127.0.0.1",
            "postgres_port": postgres.port,
            "postgres_user": postgres.user,
            "postgres_password": postgres.password,
            "postgres_db": postgres.dbname,
            "worker_id": "test-worker",
            "block_timeout": 0.2,
            "health_file": str(tmp_path / "alive"),
        }
        settings = Settings(**{**defaults, **overrides})  # type: ignore[arg-type]
        worker = Worker.from_settings(settings)
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.store.close()


@pytest.fixture
def front_door(redis_server: RedisServer, redis_client: redis.Redis) -> FrontDoorQueue:
    """The vote app's own queue writer, so the wire format is tested end to end."""
    return FrontDoorQueue.connect("127.0.0.1", redis_server.port, None)


def drain(worker: Worker) -> int:
    moved = 0
    while n := worker.process_batch():
        moved += n
    return moved


def test_votes_move_to_postgres_and_leave_redis(make_worker, front_door, redis_client, pg) -> None:
    front_door.push("v1", "a")
    front_door.push("v2", "b")
    front_door.push("v3", "a")
    worker = make_worker()
    assert worker.process_batch() == 3
    assert table_votes(pg) == {"v1": "a", "v2": "b", "v3": "a"}
    assert redis_client.llen("votes") == 0
    assert redis_client.llen(PROCESSING_PREFIX + "test-worker") == 0


def test_the_table_is_created_with_the_spec_columns(make_worker, front_door, redis_client, pg) -> None:
    front_door.push("v1", "a")
    make_worker().process_batch()
    columns = pg.execute(
        "SELECT column_name, data_type, character_maximum_length, is_nullable FROM information_schema.columns "
        "WHERE table_name = 'votes' ORDER BY ordinal_position"
    ).fetchall()
    assert columns[:2] == [("id", "character varying", 255, "NO"), ("vote", "character varying", 255, "NO")]
    assert pg.execute(
        "SELECT count(*) FROM pg_indexes WHERE tablename = 'votes' AND indexdef LIKE '%UNIQUE%(id)'"
    ).fetchone() == (1,)


def test_a_table_made_by_the_original_worker_is_upgraded_and_updated(make_worker, front_door, redis_client, pg) -> None:
    pg.execute("CREATE TABLE votes (id VARCHAR(255) NOT NULL UNIQUE, vote VARCHAR(255) NOT NULL)")
    pg.execute("INSERT INTO votes VALUES ('old', 'a'), ('kept', 'b')")
    front_door.push("old", "b")
    make_worker().process_batch()
    assert table_votes(pg) == {"old": "b", "kept": "b"}


def test_within_a_batch_the_latest_vote_of_a_voter_wins(make_worker, front_door, redis_client, pg) -> None:
    for choice in "abab":
        front_door.push("v1", choice)
    front_door.push("v2", "b")
    front_door.push("v2", "a")
    assert make_worker().process_batch() == 6
    assert table_votes(pg) == {"v1": "b", "v2": "a"}


def test_across_batches_the_latest_vote_wins(make_worker, front_door, redis_client, pg) -> None:
    for choice in "abbab":
        front_door.push("v1", choice)
    worker = make_worker(batch_size=2)
    assert drain(worker) == 5
    assert table_votes(pg) == {"v1": "b"}


def test_an_empty_queue_blocks_for_the_timeout_and_moves_nothing(make_worker, redis_client, pg) -> None:
    worker = make_worker(block_timeout=0.5)
    started = time.monotonic()
    assert worker.process_batch() == 0
    assert 0.4 < time.monotonic() - started < 3


def test_a_blocked_worker_wakes_up_as_soon_as_a_vote_arrives(make_worker, front_door, redis_client, pg) -> None:
    worker = make_worker(block_timeout=10)
    timer = threading.Timer(0.3, front_door.push, ("v1", "a"))
    timer.start()
    started = time.monotonic()
    assert worker.process_batch() == 1
    assert time.monotonic() - started < 3
    assert table_votes(pg) == {"v1": "a"}


POISON = [
    "not json",
    '{"voter_id": "x"}',
    '{"voter_id": "v9", "vote": "z"}',
    '{"voter_id": "v8", "vote": ["a"]}',
    '{"voter_id": "v7", "vote": {"a": 1}}',
    '{"voter_id": "nul\\u0000id", "vote": "a"}',
    '{"voter_id": "lone\\ud800surrogate", "vote": "b"}',
]


def test_poison_items_go_to_the_dead_letter_list_and_the_rest_is_committed(
    make_worker, front_door, redis_client, pg
) -> None:
    redis_client.rpush("votes", *POISON)
    redis_client.rpush("votes", b"\xff\xfe not utf-8")
    front_door.push("v1", "b")
    worker = make_worker()
    assert worker.process_batch() == len(POISON) + 2
    assert table_votes(pg) == {"v1": "b"}
    assert redis_client.llen(PROCESSING_PREFIX + "test-worker") == 0
    dead = redis.Redis(port=redis_client.connection_pool.connection_kwargs["port"]).lrange(DEAD_LETTER_KEY, 0, -1)
    # Each item as claimed ("<seq> <item>"), byte for byte, in queue order.
    assert [item.split(b" ", 1)[1] for item in dead] == [p.encode() for p in POISON] + [b"\xff\xfe not utf-8"]
    assert worker.dead_letters == len(POISON) + 1
    # The queue flows on: the next vote is committed at once.
    front_door.push("v2", "a")
    assert worker.process_batch() == 1
    assert table_votes(pg) == {"v1": "b", "v2": "a"}


def test_a_vote_postgres_refuses_is_dead_lettered_alone(make_worker, front_door, redis_client, pg) -> None:
    worker = make_worker()
    front_door.push("v0", "a")
    worker.process_batch()  # the table exists
    # A rule of this database the worker cannot know in advance.
    pg.execute("ALTER TABLE votes ADD CONSTRAINT no_mallory CHECK (id <> 'mallory')")
    for voter in ("v1", "mallory", "v2"):
        front_door.push(voter, "a")
    assert worker.process_batch() == 3
    assert table_votes(pg) == {"v0": "a", "v1": "a", "v2": "a"}
    assert [item.split(" ", 1)[1] for item in redis_client.lrange(DEAD_LETTER_KEY, 0, -1)] == [
        '{"voter_id": "mallory", "vote": "a"}'
    ]


def test_the_worker_process_survives_poison_and_reports_dead_letters_in_its_health_check(
    redis_server, postgres_server, redis_client, pg, front_door, tmp_path
) -> None:
    health_file = tmp_path / "alive"
    env = service_env(redis_server, postgres_server, WORKER_HEALTH_FILE=str(health_file), WORKER_ID="poisoned")
    redis_client.rpush("votes", *POISON)
    front_door.push("v1", "a")
    with worker_service(env, log=tmp_path / "worker.log") as proc:
        wait_for(lambda: table_votes(pg) == {"v1": "a"})
        front_door.push("v2", "b")
        wait_for(lambda: table_votes(pg) == {"v1": "a", "v2": "b"})
        assert proc.poll() is None, (tmp_path / "worker.log").read_text()
        check = subprocess.run(
            [sys.executable, "-m", "vote_worker.healthcheck"],
            cwd=WORKER_DIR, env=env, capture_output=True, text=True, check=False,
        )
    assert check.returncode == 0
    assert f"dead-lettered votes: {len(POISON)}" in check.stdout
    assert redis_client.llen(DEAD_LETTER_KEY) == len(POISON)


def test_a_batch_claimed_by_a_killed_worker_is_committed_at_its_restart(
    make_worker, front_door, redis_client, pg
) -> None:
    front_door.push("v1", "a")
    front_door.push("v2", "b")
    # What a kill -9 between claim and commit leaves: votes in the processing list only.
    make_worker().queue.claim(10)
    assert redis_client.llen("votes") == 0
    front_door.push("v3", "a")
    restarted = make_worker()
    assert restarted.process_batch() == 2
    assert table_votes(pg) == {"v1": "a", "v2": "b"}
    assert restarted.process_batch() == 1
    assert table_votes(pg) == {"v1": "a", "v2": "b", "v3": "a"}


def test_a_commit_without_ack_is_not_counted_twice_nor_overrides_a_newer_vote(
    make_worker, front_door, redis_client, pg, monkeypatch
) -> None:
    front_door.push("v1", "a")
    front_door.push("v2", "a")
    crashing = make_worker(worker_id="w-crash")

    def crash_before_ack(*_: object) -> bool:
        raise redis.ConnectionError("killed between commit and ack")

    monkeypatch.setattr(crashing.queue, "ack", crash_before_ack)
    with pytest.raises(redis.ConnectionError):
        crashing.process_batch()
    assert table_votes(pg) == {"v1": "a", "v2": "a"}
    # Meanwhile another worker commits v1's newer vote.
    front_door.push("v1", "b")
    assert make_worker(worker_id="w-other").process_batch() == 1
    # The crashed worker comes back and replays its committed batch.
    assert make_worker(worker_id="w-crash").process_batch() == 2
    assert table_votes(pg) == {"v1": "b", "v2": "a"}
    assert pg.execute("SELECT count(*) FROM votes").fetchone() == (2,)
    assert not redis_client.keys(PROCESSING_PREFIX + "*")


def test_a_dead_workers_batch_is_recovered_by_another_after_its_heartbeat_expires(
    make_worker, front_door, redis_client, pg
) -> None:
    front_door.push("v1", "a")
    dead = make_worker(worker_id="w-dead")
    dead.queue.heartbeat(1)
    dead.queue.claim(10)
    survivor = make_worker(worker_id="w-alive")
    assert survivor.recover_orphans() == 0, "a worker with a live heartbeat must keep its batch"
    time.sleep(1.2)
    assert survivor.recover_orphans() == 1
    assert table_votes(pg) == {"v1": "a"}
    assert redis_client.llen(PROCESSING_PREFIX + "w-dead") == 0


def test_postgres_down_keeps_the_batch_until_it_is_back(make_worker, front_door, redis_client, pg) -> None:
    with PostgresServer(dbname="votes_restart") as postgres:
        worker = make_worker(postgres=postgres)
        front_door.push("v1", "a")
        assert worker.process_batch() == 1
        postgres.stop()
        front_door.push("v1", "b")
        front_door.push("v2", "a")
        with pytest.raises(psycopg.OperationalError):
            worker.process_batch()
        assert redis_client.llen(PROCESSING_PREFIX + "test-worker") == 2
        postgres.start()
        assert worker.process_batch() == 2
        with psycopg.connect(postgres.dsn) as conn:
            assert table_votes(conn) == {"v1": "b", "v2": "a"}


def test_the_loop_rides_out_a_redis_restart_and_stops_on_request(make_worker, pg, tmp_path) -> None:
    with RedisServer() as redis_srv:
        worker = make_worker(redis_port=redis_srv.port, heartbeat_ttl=2)
        front_door = FrontDoorQueue.connect("127.0.0.1", redis_srv.port, None)
        stop = threading.Event()
        loop = threading.Thread(target=worker.run, args=(stop,))
        loop.start()
        try:
            front_door.push("v1", "a")
            wait_for(lambda: table_votes(pg) == {"v1": "a"})
            redis_srv.stop()
            time.sleep(0.5)
            redis_srv.start()
            front_door.push("v2", "b")
            wait_for(lambda: table_votes(pg) == {"v1": "a", "v2": "b"})
            assert (tmp_path / "alive").exists()
        finally:
            stop.set()
            loop.join(timeout=10)
        assert not loop.is_alive()


def wait_for(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.05)


def test_a_slower_worker_does_not_overwrite_a_newer_vote_committed_by_another(
    make_worker, front_door, redis_client, pg
) -> None:
    slow, fast = make_worker(worker_id="w-slow"), make_worker(worker_id="w-fast")
    front_door.push("v1", "a")
    front_door.push("v2", "a")
    slow.queue.claim(10)  # claimed first, committed last
    front_door.push("v1", "b")
    assert fast.process_batch() == 1
    assert slow.process_batch() == 2
    assert table_votes(pg) == {"v1": "b", "v2": "a"}


def test_workers_starting_together_on_an_empty_database_do_not_collide(
    make_worker, front_door, redis_client, pg
) -> None:
    for n in range(300):
        front_door.push(f"v{n}", "a")
    workers = [make_worker(worker_id=f"w{i}", batch_size=10) for i in range(4)]
    start = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def first_batch(worker: Worker) -> None:
        start.wait()
        try:
            drain(worker)
        except (redis.RedisError, psycopg.Error) as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first_batch, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(table_votes(pg)) == 300


def test_a_trickle_of_votes_is_committed_in_few_batches(make_worker, front_door, redis_client, pg) -> None:
    # 400 votes at about 500/s: without the linger nearly every vote would
    # wake the worker and cost a commit of its own.
    def trickle() -> None:
        for n in range(400):
            front_door.push(f"v{n}", "a")
            time.sleep(0.002)

    producer = threading.Thread(target=trickle)
    worker = make_worker(batch_linger=0.05, block_timeout=1)
    producer.start()
    batches = moved = 0
    while moved < 400:
        n = worker.process_batch()
        assert n, "the trickle stopped before all votes were moved"
        moved += n
        batches += 1
    producer.join()
    assert len(table_votes(pg)) == 400
    assert batches <= 40, f"{batches} commits for 400 votes"
