"""Fixtures for the image tests: the images themselves, built (or found
unchanged) once per session by the project's own build script."""

from __future__ import annotations

import subprocess

import pytest

from tests.images.containers import REPO


@pytest.fixture(scope="session")
def built_images() -> str:
    """Run scripts/build-images.sh (seconds when nothing changed); its report."""
    result = subprocess.run(
        [str(REPO / "scripts" / "build-images.sh")], capture_output=True, text=True, timeout=1800, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"scripts/build-images.sh failed:\n{result.stdout}{result.stderr[-6000:]}")
    return result.stdout
