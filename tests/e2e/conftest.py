"""Fixtures for the platform's end-to-end tests on the Docker provider.

`platform`: an isolated cluster's settings for the tests that drive the phases
one by one (test_docker_provider.py). `created_cluster`: ONE cluster made by
`./orchestrator.sh create` (3 nodes, both stacks in dev and prod), shared by
every test that needs real pods and destroyed at the end of the session.
Tests marked `destructive` (stop/start, node moves) run after all others, and
`destroy` (the last test) after them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.e2e.created_cluster import COMPONENTS, ENVIRONMENTS, CreatedCluster
from tests.e2e.harness import NODE_IMAGE, REPO, IsolatedPlatform, docker

# `create` from nothing: the target is 10 minutes with warm build caches.
CREATE_TIMEOUT = 40 * 60
FIGURES_FILE = REPO / "tests" / "artifacts" / "e2e-platform-figures.json"
_CREATED: list[CreatedCluster] = []
_DURATIONS: dict[str, float] = {}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "created_cluster: runs against the session's created cluster")
    config.addinivalue_line("markers", "destructive: stops, moves or destroys parts of the shared created cluster")
    config.addinivalue_line("markers", "destroys_cluster: destroys the shared created cluster (runs last)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests without the created cluster first (it is not up meanwhile), then those on it, its
    destructive ones after them and its destroy last; the order within each group is kept."""

    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("destroys_cluster"):
            return 3
        if item.get_closest_marker("destructive"):
            return 2
        return 1 if "created_cluster" in item.fixturenames or item.get_closest_marker("created_cluster") else 0

    items.sort(key=rank)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and _CREATED:
        _DURATIONS[report.nodeid] = round(report.duration, 1)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _CREATED:
        return
    cluster = _CREATED[0]
    figures = {"create_seconds": round(cluster.create_seconds, 1), **cluster.figures, "test_seconds": _DURATIONS}
    FIGURES_FILE.parent.mkdir(parents=True, exist_ok=True)
    FIGURES_FILE.write_text(json.dumps(figures, indent=2) + "\n")
    terminalreporter.section("platform figures (created cluster)")
    for name, value in figures.items():
        if name != "test_seconds":
            terminalreporter.write_line(f"{name}: {value}")
    for nodeid, seconds in _DURATIONS.items():
        terminalreporter.write_line(f"{seconds:7.1f}s  {nodeid}")
    terminalreporter.write_line(f"(also in {FIGURES_FILE.relative_to(REPO)})")


def _docker_ready() -> str | None:
    """Why the Docker provider cannot run here, or None when it can."""
    if shutil.which("docker") is None:
        return "docker CLI not installed (scripts/bootstrap.sh installs docker.io)"
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        return "the Docker daemon does not answer (scripts/bootstrap.sh starts it)"
    if docker("image", "inspect", NODE_IMAGE, check=False).returncode != 0:
        return f"{NODE_IMAGE} is not built (scripts/build-images.sh node)"
    return None


@pytest.fixture(scope="module")
def platform() -> Iterator[IsolatedPlatform]:
    """An isolated test cluster's settings; whatever it leaves behind is removed afterwards."""
    reason = _docker_ready()
    if reason:
        # A missing prerequisite is a failure, not a skip: `make e2e` builds them first.
        pytest.fail(reason)
    test_platform = IsolatedPlatform()
    yield test_platform
    test_platform.remove_everything()


def _status_problems(status: str) -> list[str]:
    """What `./orchestrator.sh status` shows that is not a healthy 3-node cluster with both stacks Ready."""
    sections = dict(re.findall(r"^== (.+)\n((?:(?!== ).*\n?)*)", status, re.MULTILINE))
    problems = []
    nodes = [line.split() for line in sections.get("nodes", "").splitlines()[1:] if line.strip()]
    if len(nodes) != 3 or any(fields[1] != "Ready" for fields in nodes):
        problems.append(f"nodes: {nodes}")
    for environment in ENVIRONMENTS:
        pods = [line.split() for line in sections.get(f"pods in {environment}", "").splitlines()[1:] if line.strip()]
        for name, ready, state, *_columns in pods:
            done, total = ready.split("/")
            if done != total or state != "Running":
                problems.append(f"{environment}/{name}: {ready} {state}")
        names = [fields[0] for fields in pods]
        for component in (c for stack in COMPONENTS.values() for c in stack):
            if not any(re.fullmatch(rf"{component}-([0-9]+|[a-z0-9]+-[a-z0-9]+)", name) for name in names):
                problems.append(f"{environment}: no pod of {component}")
    return problems


def _keep_logs(platform: IsolatedPlatform) -> None:
    """The cluster's phase logs into tests/artifacts (destroy deletes them from .orchestrator/logs)."""
    kept = REPO / "tests" / "artifacts" / f"e2e-logs-{platform.prefix}"
    kept.mkdir(parents=True, exist_ok=True)
    for log in (REPO / ".orchestrator" / "logs").glob(f"{platform.prefix}-*.log"):
        shutil.copy(log, kept / log.name)


@pytest.fixture(scope="session")
def created_cluster() -> Iterator[CreatedCluster]:
    """ONE cluster from `./orchestrator.sh create` (own prefix, subnet, publish IP; 2 workers), checked
    with `status`; destroyed at the end of the session (test_platform_durability.py checks what is left).

    ORCHESTRATOR_E2E_CREATED=PREFIX,SUBNET,PUBLISH_IP uses a cluster created beforehand with those
    settings instead (to work on the tests; it is destroyed at the end all the same, unless
    ORCHESTRATOR_E2E_KEEP=1 keeps it for the next run)."""
    reason = _docker_ready()
    if reason:
        pytest.fail(reason)
    reuse = os.environ.get("ORCHESTRATOR_E2E_CREATED")
    if reuse:
        prefix, subnet, publish_ip = reuse.split(",")
        platform = IsolatedPlatform(prefix=prefix, subnet=subnet, publish_ip=publish_ip, workers=2)
    else:
        platform = IsolatedPlatform(workers=2)
    try:
        start = time.monotonic()
        if reuse:
            created = subprocess.CompletedProcess([], 0, "cluster created\n", "(created beforehand)")
        else:
            created = platform.orchestrator("create", timeout=CREATE_TIMEOUT)
        seconds = time.monotonic() - start
        _keep_logs(platform)
        assert created.returncode == 0, f"create failed after {seconds:.0f}s:\n{created.stderr[-6000:]}"
        assert created.stdout.strip().endswith("cluster created"), created.stdout[-2000:]
        cluster = CreatedCluster(platform, seconds, created.stdout, created.stderr)
        _CREATED.append(cluster)
        status = platform.orchestrator("status", timeout=120)
        assert status.returncode == 0, status.stderr
        assert _status_problems(status.stdout) == [], status.stdout
        yield cluster
    finally:
        # Safety net when the destroy test did not run (a subset, or a failure): nothing of it stays.
        if os.environ.get("ORCHESTRATOR_E2E_KEEP") != "1":
            if platform.objects() != {"containers": [], "volumes": [], "networks": []}:
                platform.orchestrator("destroy", timeout=600)
            platform.remove_everything()
