"""Real Redis, PostgreSQL and RabbitMQ servers for tests, on loopback.

Each server runs from Debian's packages in its own temporary directory on a
free port, so tests never touch a system instance and can run in parallel
with a developer's own services.  The servers are started and stopped by the
test harness itself (there is no systemd on CI machines).

Usage from pytest::

    from tests.support.servers import RedisServer
    with RedisServer() as redis_srv:
        redis_srv.port ...

Each class also offers ``stop()``/``start()`` so reliability tests can take a
server down and bring it back on the same port with the same data.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

PG_BIN = Path("/usr/lib/postgresql/15/bin")
# PostgreSQL refuses to run as root; tests run as root on CI.
SERVICE_USER = "postgres"


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    """Block until something accepts TCP connections on host:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


def _require(binary: str | Path, package: str) -> None:
    if not (Path(binary).exists() or shutil.which(str(binary))):
        raise RuntimeError(
            f"{binary} not found: install Debian's {package} package "
            "(make test does this through scripts/bootstrap.sh)"
        )


def _as_service_user() -> list[str]:
    """Prefix that runs a command as the unprivileged service user when root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", SERVICE_USER, "--"]
    return []


def _chown_for_service(path: Path, service_user: str = SERVICE_USER) -> None:
    if os.geteuid() == 0:
        user = pwd.getpwnam(service_user)
        for root, dirs, files in os.walk(path):
            os.chown(root, user.pw_uid, user.pw_gid)
            for name in dirs + files:
                os.chown(os.path.join(root, name), user.pw_uid, user.pw_gid)


class _Server:
    """Common lifecycle: a temp dir, a port, start/stop, context manager."""

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix=f"orch-{type(self).__name__.lower()}-"))
        self.port = free_port()
        self.running = False

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> _Server:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self.running:
                self.stop()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)


class RedisServer(_Server):
    """redis-server with append-only persistence, so a restart keeps the queue."""

    password: str | None = None

    def start(self) -> None:
        _require("redis-server", "redis-server")
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.workdir),
                "--appendonly", "yes",
                "--save", "",
                "--daemonize", "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        self.running = True

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.running = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class PostgresServer(_Server):
    """A throw-away PostgreSQL 15 cluster; user/password/db are settable."""

    def __init__(self, user: str = "postgres", password: str = "test-only-password", dbname: str = "postgres") -> None:
        super().__init__()
        self.user = user
        self.password = password
        self.dbname = dbname
        self.datadir = self.workdir / "data"
        self._initialised = False

    def _initdb(self) -> None:
        _require(PG_BIN / "initdb", "postgresql-15")
        pwfile = self.workdir / "pwfile"
        pwfile.write_text(self.password + "\n")
        _chown_for_service(self.workdir)
        subprocess.run(
            [*_as_service_user(), str(PG_BIN / "initdb"), "-D", str(self.datadir),
             "-U", self.user, "--pwfile", str(pwfile), "-A", "scram-sha-256",
             "--no-sync", "-E", "UTF8", "--locale", "C.UTF-8"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        pwfile.unlink()
        self._initialised = True

    def start(self) -> None:
        if not self._initialised:
            self._initdb()
        log = self.workdir / "postgres.log"
        subprocess.run(
            [*_as_service_user(), str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), "-l", str(log),
             "-w", "-t", "60", "-o",
             f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.workdir} "
             "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
             "start"],
            check=True, stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        self.running = True
        if self.dbname != "postgres":
            self.psql(f"CREATE DATABASE \"{self.dbname}\"", dbname="postgres", ignore_exists=True)

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            [*_as_service_user(), str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"],
            check=True, stdout=subprocess.DEVNULL,
        )
        self.running = False

    def psql(self, sql: str, dbname: str | None = None, ignore_exists: bool = False) -> str:
        """Run SQL through psql and return its unaligned, tuples-only output."""
        env = dict(os.environ, PGPASSWORD=self.password)
        result = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
             "-d", dbname or self.dbname, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
            env=env, capture_output=True, text=True, check=False,
        )
        if result.returncode != 0 and not (ignore_exists and "already exists" in result.stderr):
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return result.stdout

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.dbname}"

    def env(self, prefix: str = "POSTGRES_") -> dict[str, str]:
        """Environment variables in the apps' spelling, e.g. POSTGRES_HOST."""
        return {
            f"{prefix}HOST": "127.0.0.1",
            f"{prefix}PORT": str(self.port),
            f"{prefix}USER": self.user,
            f"{prefix}PASSWORD": self.password,
            f"{prefix}DB" if prefix == "POSTGRES_" else f"{prefix}NAME": self.dbname,
        }


class RabbitMQServer(_Server):
    """rabbitmq-server as a detached node with its own name, port and data."""

    def __init__(self, user: str = "orchestrator", password: str = "test-only-password") -> None:
        super().__init__()
        self.user = user
        self.password = password
        self.dist_port = free_port()
        self.nodename = f"orchtest{self.port}@localhost"

    def _env(self) -> dict[str, str]:
        return dict(
            os.environ,
            RABBITMQ_NODENAME=self.nodename,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(self.workdir / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.workdir / "log"),
            RABBITMQ_PID_FILE=str(self.workdir / "rabbit.pid"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.workdir / "enabled_plugins"),
            RABBITMQ_CONFIG_FILE=str(self.workdir / "rabbitmq"),
            HOME=str(self.workdir),
        )

    def _ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["rabbitmqctl", "-n", self.nodename, *args], env=self._env(),
                              capture_output=True, text=True, check=check, timeout=120)

    def start(self) -> None:
        _require("/usr/sbin/rabbitmq-server", "rabbitmq-server")
        (self.workdir / "enabled_plugins").write_text("[].\n")
        (self.workdir / "rabbitmq.conf").write_text("loopback_users = none\n")
        # Debian's wrapper scripts switch to the rabbitmq user when run as root.
        _chown_for_service(self.workdir, "rabbitmq")
        # The Erlang cookie lives in $HOME; rabbitmqctl reads the same one.
        subprocess.Popen(["rabbitmq-server"], env=self._env(), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
        self._ctl("wait", "--timeout", "120", str(self.workdir / "rabbit.pid"))
        wait_for_port(self.port, timeout=60)
        if not self.running and self._ctl("list_users", check=False).stdout.find(self.user) < 0:
            self._ctl("add_user", self.user, self.password)
            self._ctl("set_permissions", "-p", "/", self.user, ".*", ".*", ".*")
        self.running = True

    def stop(self) -> None:
        self._ctl("stop", str(self.workdir / "rabbit.pid"), check=False)
        self.running = False

    def env(self) -> dict[str, str]:
        return {
            "RABBITMQ_HOST": "127.0.0.1",
            "RABBITMQ_PORT": str(self.port),
            "RABBITMQ_USER": self.user,
            "RABBITMQ_PASSWORD": self.password,
        }
