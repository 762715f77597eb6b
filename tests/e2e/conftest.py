"""Fixtures for the platform's end-to-end tests on the Docker provider."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest

from tests.e2e.harness import NODE_IMAGE, IsolatedPlatform, docker


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
