"""The databases' image as the crud audit uses it in a pod: root filesystem
read-only, `sudo -i -u postgres`, then `psql`, interactively. The session
must show the databases and print no error about its history file."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

IMAGE = "orchestrator-k3s/postgres:15"


def docker(*args: str, check: bool = True) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:2])}: {result.stderr[-2000:]}")
    return result.stdout.strip()


@pytest.fixture(scope="module")
def billing_db_container() -> Iterator[str]:
    build = subprocess.run(
        ["scripts/build-images.sh", "postgres"], capture_output=True, text=True, timeout=1800, check=False
    )
    assert build.returncode == 0, build.stdout + build.stderr[-3000:]
    name = f"okapps-db-{uuid.uuid4().hex[:8]}"
    # As the pod runs it: uid 999, read-only root, writable data volume, /tmp
    # and socket directory (emptyDirs in the StatefulSet).
    docker(
        "run", "-d", "--name", name, "--read-only", "--user", "999:999",
        "--tmpfs", "/tmp", "--tmpfs", "/var/run/postgresql", "--security-opt", "no-new-privileges",
        "-e", "POSTGRES_USER=billing", "-e", "POSTGRES_PASSWORD=test-only-password", "-e", "POSTGRES_DB=orders",
        "--mount", f"type=volume,dst=/var/lib/postgresql/data,volume-label=okapps={name}",
        IMAGE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while docker("inspect", "--format", "{{.State.Health.Status}}", name) != "healthy":
            assert time.monotonic() < deadline, docker("logs", name)
            time.sleep(1)
        yield name
    finally:
        docker("rm", "-f", "-v", name, check=False)


def interactive(argv: list[str], keystrokes: list[str], timeout: float = 60) -> str:
    """Run argv on a terminal of its own, typing each keystroke line after a pause; return all it printed."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(argv, stdin=terminal, stdout=terminal, stderr=terminal, close_fds=True)
    os.close(terminal)
    output = b""
    deadline = time.monotonic() + timeout
    pending = list(keystrokes)
    next_key = time.monotonic() + 2
    while time.monotonic() < deadline:
        if pending and time.monotonic() >= next_key:
            os.write(controller, pending.pop(0).encode())
            next_key = time.monotonic() + 1
        ready, _writable, _errors = select.select([controller], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(controller, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        elif not pending and proc.poll() is not None:
            break
    proc.kill()
    proc.wait()
    os.close(controller)
    return output.decode(errors="replace")


def test_sudo_psql_session_on_a_read_only_root_prints_no_history_error(billing_db_container: str) -> None:
    session = interactive(
        ["docker", "exec", "-it", billing_db_container, "sudo", "-i", "-u", "postgres"],
        ["psql\r", "\\l\r", "TABLE pg_database;\r", "\\q\r", "exit\r"],
    )
    assert " orders " in session, session
    assert "history" not in session.lower(), session
    assert "read-only" not in session.lower(), session
