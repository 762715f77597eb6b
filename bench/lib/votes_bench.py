"""The measurements behind bench/votes (see its docstring); run through it."""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import psycopg
import redis
from vote_app.queue import VoteQueue as FrontDoorQueue
from vote_worker.queue import PROCESSING_PREFIX
from vote_worker.store import SCHEMA

from bench.lib.original_worker import run_original_loop
from tests.apps.vote.processes import PYTHON, running, service_env, start_worker, vote_service, wait_http
from tests.support.servers import PostgresServer, RedisServer, free_port, wait_for_port

LIB = Path(__file__).resolve().parent
WRK_SCRIPT = LIB / "votes.lua"


def wrk(url: str, args: argparse.Namespace) -> tuple[float, int]:
    """Run wrk against url; return (requests/s, non-2xx responses)."""
    out = subprocess.run(
        ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "-s", str(WRK_SCRIPT), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: .*", out)
    if socket_errors:
        print(f"    wrk: {socket_errors.group(0)}")
    return rate, int(errors.group(1)) if errors else 0


def rpush_calls(client: redis.Redis) -> int:
    return int(client.info("commandstats").get("cmdstat_rpush", {}).get("calls", 0))


def reset(client: redis.Redis, conn: psycopg.Connection) -> None:
    client.flushall()
    client.config_resetstat()
    conn.execute("DROP TABLE IF EXISTS votes")
    conn.execute(SCHEMA)


def is_drained(client: redis.Redis) -> bool:
    return client.llen("votes") == 0 and not client.keys(PROCESSING_PREFIX + "*")


def wait_drained(client: redis.Redis, timeout: float = 600) -> float:
    """Block until no vote is queued or claimed; return the time it happened."""
    deadline = time.monotonic() + timeout
    while not is_drained(client):
        if time.monotonic() > deadline:
            raise TimeoutError("the worker did not drain the queue")
        time.sleep(0.01)
    return time.monotonic()


def wait_settled(client: redis.Redis, quiet: float = 1.0, timeout: float = 600) -> float:
    """Block until every vote is committed and none arrived for `quiet` seconds;
    return when the last one was committed.

    wrk exits with requests still in gunicorn's hands; on a loaded machine one
    can reach Redis well after the queue first looked empty.
    """
    deadline = time.monotonic() + timeout
    drained_since: float | None = None
    drained_count = -1
    while True:
        pushed = rpush_calls(client)
        now = time.monotonic()
        if not is_drained(client):
            drained_since = None
        elif drained_since is None or pushed != drained_count:
            drained_since, drained_count = now, pushed
        elif now - drained_since >= quiet:
            return drained_since
        if now > deadline:
            raise TimeoutError("the worker did not drain the queue")
        time.sleep(0.01)


@contextmanager
def ceiling_service(redis_srv: RedisServer, logdir: Path) -> Iterator[str]:
    """The plain Flask handler under gunicorn, 4 sync workers; yields its URL."""
    port = free_port()
    cmd = [PYTHON, "-m", "gunicorn", "--workers", "4", "--bind", f"127.0.0.1:{port}", "--no-control-socket"]
    with running([*cmd, "ceiling_app:app"], service_env(redis_srv), LIB, logdir / "ceiling.log"):
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}/"


@dataclass
class PipelineRound:
    rate: float  # votes/s from wrk's start until the last one was committed
    front_rate: float  # what wrk saw
    rows: int
    accepted: int  # RPUSHes Redis executed: the votes the front door queued
    errors: int
    drain_seconds: float

    @property
    def lossless(self) -> bool:
        return self.rows == self.accepted and self.errors == 0


def pipeline_round(vote: str, client: redis.Redis, conn: psycopg.Connection, args: argparse.Namespace) -> PipelineRound:
    client.config_resetstat()
    conn.execute("TRUNCATE votes")
    started = time.monotonic()
    front_rate, errors = wrk(vote, args)
    done = wait_settled(client)
    rows = conn.execute("SELECT count(*) FROM votes").fetchone()[0]
    return PipelineRound(
        rows / (done - started), front_rate, rows, rpush_calls(client), errors, done - started - args.duration
    )


def measure_http(
    postgres: PostgresServer, conn: psycopg.Connection, args: argparse.Namespace, logdir: Path
) -> tuple[list[float], list[PipelineRound]]:
    """Ceiling and pipeline in alternating rounds, so that load from anything
    else on the machine weighs on both sides alike; each on its own Redis."""
    ceilings: list[float] = []
    rounds: list[PipelineRound] = []
    with RedisServer() as ceiling_redis, RedisServer() as pipeline_redis:
        client = redis.Redis(port=pipeline_redis.port, decode_responses=True)
        ceiling_client = redis.Redis(port=ceiling_redis.port)
        reset(client, conn)
        env = service_env(pipeline_redis, postgres, WORKER_HEALTH_FILE=str(logdir / "alive"))
        worker = start_worker(env, logdir / "worker.log")
        try:
            with (
                ceiling_service(ceiling_redis, logdir) as ceiling,
                vote_service(env, workers=4, log=logdir / "vote.log") as vote,
            ):
                wait_http(f"{vote}/healthz")
                for n in range(1, args.rounds + 1):
                    rate, errors = wrk(ceiling, args)
                    ceiling_client.flushall()
                    ceilings.append(rate)
                    result = pipeline_round(f"{vote}/", client, conn, args)
                    rounds.append(result)
                    print(
                        f"  round {n}: ceiling {rate:,.0f} req/s ({errors} non-2xx) | pipeline "
                        f"{result.rate:,.0f} votes/s committed (front door {result.front_rate:,.0f} req/s, "
                        f"{result.rows:,} rows for {result.accepted:,} votes queued, {result.errors} non-2xx, "
                        f"drained {result.drain_seconds:.2f}s after wrk) "
                        f"{'zero loss' if result.lossless else 'LOSS'} | ratio {result.rate / rate:.2f}"
                    )
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    return ceilings, rounds


def prefill(client: redis.Redis, votes: int) -> None:
    """Queue votes from votes/4 voters (so there are changes), oldest first."""
    pipe = client.pipeline(transaction=False)
    front_door = FrontDoorQueue(pipe)
    for n in range(votes):
        front_door.push(f"voter{n % max(1, votes // 4):07d}", "ab"[n % 2])
        if n % 5000 == 4999:
            pipe.execute()
    pipe.execute()


def measure_worker(
    redis_srv: RedisServer,
    postgres: PostgresServer,
    client: redis.Redis,
    conn: psycopg.Connection,
    args: argparse.Namespace,
    logdir: Path,
) -> tuple[float, float]:
    reset(client, conn)
    prefill(client, args.worker_votes)
    client.rename("votes", "votes:staged")
    # Our worker, started on an empty queue so its start-up is not timed;
    # RENAME then hands it the whole pre-filled queue at once.
    env = service_env(redis_srv, postgres, WORKER_ID="bench", WORKER_HEALTH_FILE=str(logdir / "alive"))
    worker = start_worker(env, logdir / "worker-only.log")
    try:
        while not client.exists("votes:worker:bench"):
            time.sleep(0.05)
        started = time.monotonic()
        client.rename("votes:staged", "votes")
        done = wait_drained(client)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    ours = args.worker_votes / (done - started)

    reset(client, conn)
    prefill(client, args.worker_votes)
    moved = run_original_loop(client, conn, args.baseline_seconds)
    original = moved / args.baseline_seconds
    print(
        f"worker only, {args.worker_votes:,} queued votes: ours {ours:,.0f} votes/s; original loop "
        f"{original:,.1f} votes/s ({moved} moved in {args.baseline_seconds:.0f}s, extrapolated)"
    )
    return ours, original


def main(description: str) -> int:
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=5, help="wrk seconds per HTTP run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating ceiling/pipeline runs")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker-votes", type=int, default=50_000)
    parser.add_argument("--baseline-seconds", type=float, default=3.0)
    args = parser.parse_args()

    logdir = Path(tempfile.mkdtemp(prefix="bench-votes-"))
    print(
        f"front door ceiling: plain Flask handler (cookie + RPUSH), gunicorn 4 sync workers; pipeline: vote app "
        f"(gunicorn 4 gthread workers, as shipped) -> redis -> worker -> postgres; "
        f"wrk -t{args.threads} -c{args.connections} {args.duration}s per run, each voter new"
    )
    with (
        RedisServer() as redis_srv,
        PostgresServer(dbname="bench_votes") as postgres,
        psycopg.connect(postgres.dsn, autocommit=True) as conn,
    ):
        ceilings, rounds = measure_http(postgres, conn, args, logdir)
        client = redis.Redis(port=redis_srv.port, decode_responses=True)
        ours, original = measure_worker(redis_srv, postgres, client, conn, args, logdir)

    ceiling = median(ceilings)
    pipeline = median(r.rate for r in rounds)
    ratio = median(r.rate / c for r, c in zip(rounds, ceilings, strict=True))
    lossless = all(r.lossless for r in rounds)
    sent = max(r.rows for r in rounds)
    # The original pipeline is worker-bound: the same votes reach Postgres at its loop's pace.
    original_pipeline = sent / max(args.duration, sent / original)
    print()
    print(f"front door ceiling (median):          {ceiling:,.0f} req/s")
    print(f"pipeline end to end (median):         {pipeline:,.0f} votes/s  (target >= 1,000)")
    print(f"ratio pipeline / ceiling (median of paired rounds): {ratio:.2f}  (target >= 0.80)")
    print(
        f"ratio pipeline / original pipeline:   {pipeline / original_pipeline:,.0f}x  "
        f"(original: {original_pipeline:,.1f} votes/s, extrapolated)"
    )
    print(f"ratio worker / original loop:         {ours / original:,.0f}x  (target >= 100x)")
    print(f"zero loss in every round:             {'yes' if lossless else 'NO'}")
    print(f"logs: {logdir}")
    return 0 if lossless else 1
