"""orchestrator-k3s/postgres:15 honours the official image's contract, and the
crud audit's `sudo -i -u postgres` + `psql` works in it without privilege
escalation (the container runs with no-new-privileges, as a pod with
allowPrivilegeEscalation: false does)."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.images.containers import Container, docker, image, running, volume

POSTGRES = image("postgres:15")
PGDATA = "/var/lib/postgresql/data/pgdata"
PASSWORD = secrets.token_hex(16)
AUDIT_SESSION = "psql\n\\l\nTABLE orders;\n"

INIT_SCRIPTS = {
    "01-schema.sql": "CREATE TABLE orders (id serial PRIMARY KEY, user_id int NOT NULL);\n",
    # Not executable: sourced, with the entrypoint's variables in scope.
    "02-seed.sh": (
        'psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" '
        '-c "INSERT INTO orders (user_id) VALUES (20)"\n'
    ),
    # Executable: run on its own.
    "03-marker.sh": '#!/bin/sh\nset -e\ntouch "$PGDATA/../executable-init-ran"\n',
}


@pytest.fixture(scope="module")
def init_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="okimg-test-initdb-"))
    for name, text in INIT_SCRIPTS.items():
        (path / name).write_text(text)
    path.chmod(0o755)
    (path / "03-marker.sh").chmod(0o755)
    yield path
    shutil.rmtree(path)


@pytest.fixture(scope="module")
def billing_db(built_images: str, init_dir: Path) -> Iterator[Container]:
    """The billing database as the crud stack runs it: own user and database,
    PGDATA in a subdirectory of a volume, init scripts, no-new-privileges."""
    with volume("pgdata") as data, running(
        POSTGRES,
        "-e", "POSTGRES_USER=billing", "-e", f"POSTGRES_PASSWORD={PASSWORD}", "-e", "POSTGRES_DB=orders",
        "-e", f"PGDATA={PGDATA}",
        "-v", f"{data}:/var/lib/postgresql/data", "-v", f"{init_dir}:/docker-entrypoint-initdb.d:ro",
        "--security-opt", "no-new-privileges:true",
        role="pg-billing",
    ) as container:  # fmt: skip
        container.wait_healthy()
        yield container


def connect(container: Container, password: str = PASSWORD) -> psycopg.Connection:
    return psycopg.connect(
        host=container.ip, user="billing", password=password, dbname="orders", connect_timeout=5, autocommit=True
    )


def test_user_password_and_database_are_created(billing_db: Container) -> None:
    with connect(billing_db) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == ("billing", "orders")
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = 'billing'").fetchone() == (True,)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(billing_db, password=PASSWORD + "-wrong").close()


def test_tcp_uses_scram_and_the_socket_trusts(billing_db: Container) -> None:
    with connect(billing_db) as conn:
        rules = conn.execute("SELECT type, auth_method FROM pg_hba_file_rules").fetchall()
    assert ("local", "trust") in rules
    assert ("host", "scram-sha-256") in rules
    assert all(method != "trust" for kind, method in rules if kind == "host")


def test_pgdata_is_the_volume_subdirectory(billing_db: Container) -> None:
    with connect(billing_db) as conn:
        assert conn.execute("SHOW data_directory").fetchone() == (PGDATA,)
    billing_db.exec("test", "-s", f"{PGDATA}/PG_VERSION")


def test_init_scripts_ran_sql_sourced_and_executable(billing_db: Container) -> None:
    with connect(billing_db) as conn:
        assert conn.execute("SELECT user_id FROM orders").fetchall() == [(20,)]
    billing_db.exec("test", "-f", "/var/lib/postgresql/data/executable-init-ran")


def test_runs_as_uid_999(billing_db: Container) -> None:
    uids = billing_db.process_uids()
    assert uids["postgres"] == {"999"}
    assert billing_db.exec("id", "-u").stdout.strip() == "999"


def test_pg_isready(billing_db: Container) -> None:
    assert billing_db.exec("pg_isready", "--host=127.0.0.1").returncode == 0


def assert_audit_output(out: str) -> None:
    """What the auditor must see: `orders` among the databases, and user 20's order."""
    rows = [[cell.strip() for cell in line.split("|")] for line in out.splitlines() if "|" in line]
    assert "orders" in [row[0] for row in rows]
    assert "(1 row)" in out
    assert ["20"] in [row[1:2] for row in rows if len(row) == 2]


def test_audit_sudo_then_psql_as_uid_999(billing_db: Container) -> None:
    """The crud audit, typed into an exec session of the pod's user:
    `sudo -i -u postgres`, then `psql`, `\\l` and `TABLE orders;`."""
    assert_audit_output(billing_db.exec("sudo", "-i", "-u", "postgres", user="999", stdin=AUDIT_SESSION).stdout)


def test_sudo_login_passes_a_command_intact(billing_db: Container) -> None:
    out = billing_db.exec("sudo", "-i", "-u", "postgres", "psql", "-tAc", "SELECT current_user || ' ' || 1").stdout
    assert out.strip() == "billing 1"


@pytest.mark.parametrize("command", [["sudo", "id"], ["sudo", "-u", "root", "id"], ["sudo", "-i"]])
def test_sudo_refuses_to_raise_privileges(billing_db: Container, command: list[str]) -> None:
    result = billing_db.exec(*command, user="999", check=False)
    assert result.returncode == 1
    assert "no setuid sudo" in result.stderr
    assert "uid=0" not in result.stdout


def test_sudo_says_why_root_without_setuid_cannot_switch(billing_db: Container) -> None:
    """Root entering a no-new-privileges container started as 999 has no
    capabilities left: sudo says so instead of failing obscurely."""
    result = billing_db.exec("sudo", "-i", "-u", "postgres", user="0", check=False, stdin="")
    assert result.returncode == 1
    assert "no CAP_SETUID" in result.stderr


def test_sigterm_is_a_fast_shutdown_and_data_survives(billing_db: Container) -> None:
    """Kubernetes stops with SIGTERM: PostgreSQL must not wait for clients
    (smart shutdown) but shut down fast; a restart keeps the data and runs
    no init script again."""
    with connect(billing_db) as client:  # a client that would block a smart shutdown
        client.execute("INSERT INTO orders (user_id) VALUES (22)")
        docker("kill", "--signal", "TERM", billing_db.name)
        assert billing_db.wait_exited(timeout=20) == 0
    assert "received fast shutdown request" in billing_db.logs()

    docker("start", billing_db.name)
    billing_db.wait_healthy()
    with connect(billing_db) as conn:
        assert conn.execute("SELECT user_id FROM orders ORDER BY id").fetchall() == [(20,), (22,)]
    assert billing_db.logs().count("initialising") == 1


def test_started_as_root_takes_ownership_and_drops_to_999(built_images: str) -> None:
    """A bind mount owned by root, as on a laptop: the official image's root
    start (chown, then run as postgres) works the same."""
    data = Path(tempfile.mkdtemp(prefix="okimg-test-pgroot-"))
    try:
        with running(
            POSTGRES, "-u", "0", "-e", f"POSTGRES_PASSWORD={PASSWORD}", "-e", "POSTGRES_DB=orders",
            "-v", f"{data}:/var/lib/postgresql/data",
            role="pg-root",
        ) as container:  # fmt: skip
            container.wait_healthy()
            assert container.process_uids()["postgres"] == {"999"}
            assert (data / "PG_VERSION").stat().st_uid == 999
            # The audit entered as root (docker exec's default user) works too.
            table = "CREATE TABLE orders AS SELECT 1 AS id, 20 AS user_id"
            container.exec("psql", "-U", "postgres", "-d", "orders", "-c", table)
            assert_audit_output(container.exec("sudo", "-i", "-u", "postgres", user="0", stdin=AUDIT_SESSION).stdout)
    finally:
        shutil.rmtree(data)


def test_missing_password_stops_with_a_message(built_images: str) -> None:
    with running(POSTGRES, role="pg-nopass") as container:
        assert container.wait_exited(timeout=30) != 0
        assert "POSTGRES_PASSWORD is not set" in container.logs()


def test_host_auth_method_trust_needs_no_password(built_images: str) -> None:
    with running(POSTGRES, "-e", "POSTGRES_HOST_AUTH_METHOD=trust", role="pg-trust") as container:
        container.wait_healthy()
        with psycopg.connect(host=container.ip, user="postgres", dbname="postgres", connect_timeout=5) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
