"""orchestrator-k3s/node:bookworm boots systemd under the capability set
that works without --privileged, and lets the vagrant user in over SSH with
Vagrant's insecure key, with passwordless sudo."""

from __future__ import annotations

import glob
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.images.containers import NODE_RUN_ARGS, Container, docker, image, running

NODE = image("node:bookworm")
VAGRANT_KEYS = "/usr/share/rubygems-integration/all/gems/vagrant-*/keys"


def vagrant_keys_dir() -> Path:
    found = sorted(glob.glob(VAGRANT_KEYS))
    assert found, "Debian's vagrant package is not installed (scripts/bootstrap.sh installs it)"
    return Path(found[-1])


@pytest.fixture(scope="module")
def node(built_images: str) -> Iterator[Container]:
    with running(NODE, *NODE_RUN_ARGS, role="node") as container:
        yield container


@pytest.fixture(scope="module")
def private_key() -> Iterator[Path]:
    """The package's insecure private key, copied with the mode ssh demands."""
    directory = Path(tempfile.mkdtemp(prefix="okimg-test-ssh-"))
    key = directory / "vagrant"
    shutil.copyfile(vagrant_keys_dir() / "vagrant", key)
    key.chmod(0o600)
    yield key
    shutil.rmtree(directory)


def system_state(node: Container, timeout: float = 120) -> str:
    """`systemctl is-system-running` once the boot has settled."""
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = node.exec("systemctl", "is-system-running", check=False).stdout.strip()
        if state not in ("initializing", "starting", ""):
            return state
        time.sleep(1)
    return state


def ssh(node: Container, key: Path, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "ssh", "-i", str(key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10",
            f"vagrant@{node.ip}", command,
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_boots_to_running_or_degraded(node: Container) -> None:
    state = system_state(node)
    failed = node.exec("systemctl", "--failed", "--no-legend", check=False).stdout
    assert state in ("running", "degraded"), f"{state}: failed units:\n{failed}"
    assert node.exec("cat", "/proc/1/comm").stdout.strip() == "systemd"


def test_vagrant_logs_in_with_the_insecure_key_and_sudoes(node: Container, private_key: Path) -> None:
    system_state(node)
    result = ssh(node, private_key, "sudo -n id -u && systemctl is-active ssh")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "active"]


def test_no_account_has_a_password(node: Container) -> None:
    """Keys only: sshd allows passwords, so no account may have one."""
    hashes = {line.split(":")[0]: line.split(":")[1] for line in node.exec("cat", "/etc/shadow").stdout.splitlines()}
    assert hashes["vagrant"] == "*"
    assert [user for user, hashed in hashes.items() if hashed != "*" and not hashed.startswith("!")] == []


def test_per_machine_identity_is_made_at_boot(built_images: str, node: Container) -> None:
    """Host keys and machine-id differ per node: none is baked in."""
    baked = docker(
        "run", "--rm", "--entrypoint", "sh", NODE, "-c", "ls /etc/ssh/ | grep -c host_ || true; cat /etc/machine-id"
    )
    assert baked.stdout.split() == ["0"]
    system_state(node)
    assert len(node.exec("cat", "/etc/machine-id").stdout.strip()) == 32
    assert node.exec("sh", "-c", "ls /etc/ssh/ssh_host_*_key | wc -l").stdout.strip() == "3"


def test_authorized_key_is_vagrants_public_key(node: Container) -> None:
    expected = (vagrant_keys_dir() / "vagrant.pub").read_text().split()[:2]
    assert node.exec("cat", "/home/vagrant/.ssh/authorized_keys").stdout.split()[:2] == expected


def test_stops_cleanly_on_docker_stop(node: Container) -> None:
    system_state(node)
    started = time.monotonic()
    docker("stop", "--time", "30", node.name, timeout=60)
    assert time.monotonic() - started < 25
    assert node.inspect()["State"]["ExitCode"] in (0, 130)
