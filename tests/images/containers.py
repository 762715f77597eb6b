"""Containers and volumes for the image tests, through the docker CLI.

Docker is shared with other work on the same machine, so everything made
here is named ``okimg-test-<random>-<role>``, labelled, and removed when the
``with`` block ends, whatever happened inside it.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PREFIX = os.environ.get("ORCHESTRATOR_IMAGE_PREFIX", "orchestrator-k3s")
TEST_LABEL = "org.orchestrator-k3s.test=images"
NAME_PREFIX = "okimg-test"

# The capability set that boots a systemd container where --privileged fails
# (see images/README.md, "node").
NODE_RUN_ARGS = (
    "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
    "--security-opt", "systempaths=unconfined", "--device", "/dev/kmsg",
    "--tmpfs", "/run", "--tmpfs", "/run/lock", "--cgroupns", "host",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
)  # fmt: skip


def image(name: str) -> str:
    """The reference of one of the project's images, e.g. ``image("redis:7")``."""
    return f"{PREFIX}/{name}"


def unique_name(role: str) -> str:
    return f"{NAME_PREFIX}-{uuid.uuid4().hex[:8]}-{role}"


def docker(
    *args: str, stdin: str | None = None, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``docker ARGS``; on failure the error carries docker's own message."""
    result = subprocess.run(
        ["docker", *args], input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed ({result.returncode}):\n{result.stderr}{result.stdout}")
    return result


@dataclass
class Container:
    name: str

    def inspect(self) -> dict[str, Any]:
        return json.loads(docker("inspect", self.name).stdout)[0]

    @property
    def ip(self) -> str:
        networks = self.inspect()["NetworkSettings"]["Networks"]
        return next(net["IPAddress"] for net in networks.values() if net["IPAddress"])

    def exec(
        self, *command: str, user: str | None = None, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        args = ["exec", "-i"] if stdin is not None else ["exec"]
        if user is not None:
            args += ["-u", user]
        return docker(*args, self.name, *command, stdin=stdin, check=check)

    def logs(self) -> str:
        result = docker("logs", self.name, check=False)
        return result.stdout + result.stderr

    def process_uids(self) -> dict[str, set[str]]:
        """Command name -> the uids it runs under, as the host sees them."""
        lines = docker("top", self.name, "-eo", "pid,uid,comm").stdout.splitlines()[1:]
        uids: dict[str, set[str]] = {}
        for line in lines:
            _pid, uid, comm = line.split(None, 2)
            uids.setdefault(comm.strip(), set()).add(uid)
        return uids

    def wait_healthy(self, timeout: float = 120) -> None:
        """Block until Docker's health check passes; fail with the logs if not."""
        deadline = time.monotonic() + timeout
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            state = self.inspect()["State"]
            if not state["Running"]:
                break
            if state.get("Health", {}).get("Status") == "healthy":
                return
            time.sleep(0.5)
        raise AssertionError(f"{self.name} not healthy ({state.get('Status')}):\n{self.logs()[-4000:]}")

    def wait_exited(self, timeout: float = 60) -> int:
        """Block until the container stops; its exit code."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.inspect()["State"]
            if not state["Running"]:
                return int(state["ExitCode"])
            time.sleep(0.2)
        raise AssertionError(f"{self.name} still running after {timeout}s:\n{self.logs()[-4000:]}")


@contextmanager
def running(ref: str, *run_args: str, role: str, command: Sequence[str] = ()) -> Iterator[Container]:
    """``docker run -d`` REF with RUN_ARGS; the container and its anonymous
    volumes are removed afterwards."""
    name = unique_name(role)
    try:
        docker("run", "-d", "--name", name, "--label", TEST_LABEL, *run_args, ref, *command)
        yield Container(name)
    finally:
        docker("rm", "-fv", name, check=False)


@contextmanager
def volume(role: str) -> Iterator[str]:
    """A named volume, removed afterwards."""
    name = unique_name(role)
    docker("volume", "create", "--label", TEST_LABEL, name)
    try:
        yield name
    finally:
        docker("volume", "rm", "-f", name, check=False)
