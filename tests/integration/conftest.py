"""Fixtures for integration tests that need a real Kubernetes API server, and the guard that no process is left.

Every process a test starts (ansible-playbook, its module processes, anything they start) inherits
PROCESS_MARK in its environment; once the session's cluster is stopped, none may still run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.apiserver import LocalCluster

PROCESS_MARK = "ORCHESTRATOR_TEST_SESSION"
os.environ.setdefault(PROCESS_MARK, uuid.uuid4().hex)


def marked_processes(exclude: set[int] = frozenset()) -> list[str]:
    """'pid command' of every process carrying this session's mark, except this one and `exclude`."""
    needle = f"{PROCESS_MARK}={os.environ[PROCESS_MARK]}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in exclude | {os.getpid()}:
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{entry.name} {command.strip()}")
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


@pytest.fixture(scope="session")
def cluster() -> Iterator[LocalCluster]:
    """One upstream kube-apiserver 1.34 control plane with kwok nodes per test session."""
    with LocalCluster() as local_cluster:
        yield local_cluster
    left = marked_processes()
    assert left == [], f"processes outlived the tests that started them: {left}"


def cluster_pids(cluster: LocalCluster) -> set[int]:
    return {process.pid for _name, process in cluster._procs}
