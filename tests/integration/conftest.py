"""Fixtures for integration tests that need a real Kubernetes API server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.worker_client import stop_workers
from tests.support.apiserver import LocalCluster


@pytest.fixture(scope="session")
def cluster() -> Iterator[LocalCluster]:
    """One upstream kube-apiserver 1.34 control plane with kwok nodes per test session."""
    with LocalCluster() as local_cluster:
        yield local_cluster
    # The module's warm workers would otherwise linger for their idle minute.
    stop_workers()
