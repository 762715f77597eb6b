"""The crud stack's three services as real processes on loopback, for tests.

Each Service runs from the source tree with the venv's Python, on a free
port, logging to a file the tests print when something goes wrong.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import requests

from tests.support.servers import PostgresServer, RabbitMQServer, free_port

REPO = Path(__file__).resolve().parents[3]
APPS = REPO / "apps"
INVENTORY_DIR = APPS / "inventory-app"
GATEWAY_DIR = APPS / "api-gateway"
BILLING_DIR = APPS / "billing-app"
TEST_VERSION = "0.0.0-test"


def wait_until(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.1) -> None:
    """Poll condition until it is truthy; fail naming what was awaited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached after {timeout}s")


class Service:
    """One service process; start() waits until its /livez answers."""

    def __init__(self, name: str, argv: list[str], cwd: Path, env: dict[str, str], port: int, log: Path) -> None:
        self.name = name
        self.argv = argv
        self.cwd = cwd
        self.env = env
        self.port = port
        self.log_path = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Service:
        with self.log_path.open("ab") as log:
            # A session of its own, so kill() reaches gunicorn's workers too.
            self.proc = subprocess.Popen(
                self.argv, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_until(self._alive, timeout, f"{self.name} answering /livez (log: {self.log_path})")
        return self

    def _alive(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()}")
        try:
            return requests.get(self.url + "/livez", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> None:
        """Graceful stop (SIGTERM), as Kubernetes does when scaling to 0."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """kill -9 of the process and its children: no cleanup at all."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)

    def health(self) -> requests.Response:
        return requests.get(self.url + "/healthz", timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]


def _gunicorn(name: str, cwd: Path, port_variable: str, env: dict[str, str], log_dir: Path) -> Service:
    port = free_port()
    env = {**os.environ, **env, port_variable: str(port), "GUNICORN_WORKERS": "2", "APP_VERSION": TEST_VERSION}
    argv = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"]
    return Service(name, argv, cwd, env, port, log_dir / f"{name}-{port}.log")


def inventory_service(db: PostgresServer, log_dir: Path) -> Service:
    return _gunicorn("inventory-app", INVENTORY_DIR, "INVENTORY_APP_PORT", db.env("INVENTORY_DB_"), log_dir)


def gateway_service(inventory_port: int, rabbitmq: RabbitMQServer, queue: str, log_dir: Path) -> Service:
    env = {
        **rabbitmq.env(),
        "RABBITMQ_QUEUE": queue,
        "INVENTORY_APP_HOST": "127.0.0.1",
        # Gunicorn's config reads APIGATEWAY_PORT; INVENTORY_APP_PORT is where to forward.
        "INVENTORY_APP_PORT": str(inventory_port),
    }
    return _gunicorn("api-gateway", GATEWAY_DIR, "APIGATEWAY_PORT", env, log_dir)


def billing_service(db: PostgresServer, rabbitmq: RabbitMQServer, queue: str, log_dir: Path, **extra: str) -> Service:
    port = free_port()
    env = {
        **os.environ,
        **db.env("BILLING_DB_"),
        **rabbitmq.env(),
        "RABBITMQ_QUEUE": queue,
        "BILLING_APP_PORT": str(port),
        # Short backoff: the tests bring servers back within seconds.
        "BILLING_RETRY_MAX_SECONDS": "1",
        "APP_VERSION": TEST_VERSION,
        **extra,
    }
    return Service(
        "billing-app",
        [sys.executable, "-m", "billing_app"],
        BILLING_DIR,
        env,
        port,
        log_dir / f"billing-app-{port}.log",
    )


class OrdersDatabase:
    """Reads billing-db the way the assertions need it."""

    def __init__(self, server: PostgresServer) -> None:
        self.server = server

    def _query(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            with psycopg.connect(self.server.dsn, connect_timeout=3) as connection:
                return connection.execute(sql).fetchall()
        except psycopg.errors.UndefinedTable:
            return []

    def orders(self) -> list[tuple[int, int, float]]:
        """(user_id, number_of_items, total_amount) of every row, by id."""
        rows = self._query("SELECT user_id, number_of_items, total_amount FROM orders ORDER BY id")
        return list(rows)

    def message_ids(self) -> list[str]:
        return [str(row[0]) for row in self._query("SELECT message_id FROM processed_messages")]

    def clear(self) -> None:
        with psycopg.connect(self.server.dsn, autocommit=True) as connection:
            connection.execute("DROP TABLE IF EXISTS orders, processed_messages")
