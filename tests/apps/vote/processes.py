"""The voting app's services as real processes on loopback, for tests and the bench.

Each helper is a context manager that starts the service from the source tree,
waits until it answers, and terminates it on exit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.support.servers import PostgresServer, RedisServer, free_port, wait_for_port

REPO = Path(__file__).resolve().parents[3]
VOTE_DIR = REPO / "apps" / "vote"
WORKER_DIR = REPO / "apps" / "worker"
RESULT_DIR = REPO / "apps" / "result"
PYTHON = sys.executable


def service_env(
    redis: RedisServer | None = None, postgres: PostgresServer | None = None, **extra: str
) -> dict[str, str]:
    """The environment the three services read, pointing at test servers."""
    env = dict(os.environ)
    if redis is not None:
        env.update(REDIS_HOST="127.0.0.1", REDIS_PORT=str(redis.port))
    if postgres is not None:
        env.update(postgres.env())
    env.update(extra)
    return env


def wait_http(url: str, timeout: float = 30.0, expect: int | None = 200) -> None:
    """Block until url answers (with status expect, or any status if None)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                last = response.status
        except urllib.error.HTTPError as exc:
            last = exc.code
        except OSError as exc:
            last = exc
        if (expect is None and isinstance(last, int)) or last == expect:
            return
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer {expect} in {timeout}s (last: {last})")


def _stop(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def running(
    args: list[str], env: Mapping[str, str], cwd: Path, log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    out = open(log, "ab") if log else subprocess.DEVNULL
    proc = subprocess.Popen(args, env=dict(env), cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        _stop(proc)
        if log:
            out.close()


@contextmanager
def vote_service(env: Mapping[str, str], workers: int = 2, log: Path | None = None) -> Iterator[str]:
    """gunicorn serving the vote app; yields its base URL."""
    port = free_port()
    env = dict(env, PORT=str(port), WEB_CONCURRENCY=str(workers))
    with running([PYTHON, "-m", "gunicorn", "--config", "gunicorn.conf.py"], env, VOTE_DIR, log):
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"


def ensure_result_dependencies() -> None:
    """npm ci once per checkout: the result service runs from the source tree."""
    if not (RESULT_DIR / "node_modules" / "socket.io").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=RESULT_DIR, check=True, stdout=subprocess.DEVNULL)


@contextmanager
def result_service(env: Mapping[str, str], log: Path | None = None) -> Iterator[str]:
    """node serving the result app; yields its base URL."""
    ensure_result_dependencies()
    port = free_port()
    env = dict(env, PORT=str(port))
    env.setdefault("POLL_INTERVAL_MS", "200")
    with running(["node", "server.js"], env, RESULT_DIR, log):
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"


def start_worker(env: Mapping[str, str], log: Path | None = None) -> subprocess.Popen[bytes]:
    """The worker as a real process (the caller stops or kills it)."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    try:
        return subprocess.Popen(
            [PYTHON, "-m", "vote_worker"], env=dict(env), cwd=WORKER_DIR, stdout=out, stderr=subprocess.STDOUT
        )
    finally:
        if log:
            out.close()


@contextmanager
def worker_service(env: Mapping[str, str], log: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    proc = start_worker(env, log)
    try:
        yield proc
    finally:
        _stop(proc)
