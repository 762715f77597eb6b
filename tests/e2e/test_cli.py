"""orchestrator.sh's command line: help, and one clear message for every bad input."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.e2e.harness import REPO, VENV_BIN, IsolatedPlatform

SCRIPT = REPO / "orchestrator.sh"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    platform = IsolatedPlatform(subnet="10.213.0.0/24")
    platform_env = platform.env
    platform_env.update(env or {})
    try:
        return subprocess.run(
            [str(SCRIPT), *args], cwd=REPO, env=platform_env, capture_output=True, text=True, timeout=60, check=False
        )
    finally:
        platform.remove_state_files()


@pytest.mark.parametrize("args", [["help"], ["--help"], ["-h"]])
def test_help_lists_every_command(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 0
    for command in ("create", "start", "stop", "destroy", "status", "deploy", "kubectl", "help"):
        assert f"\n  {command}" in result.stdout


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ([], {}, "no command given"),
        (["launch"], {}, "unknown command 'launch'"),
        (["--frobnicate", "create"], {}, "unknown option '--frobnicate'"),
        (["--provider"], {}, "--provider needs a value"),
        (["--provider", "hyperv", "status"], {}, "unknown provider 'hyperv'"),
        (["create", "now"], {}, "'create' takes no arguments"),
        (["stop", "--force"], {}, "'stop' takes no arguments"),
        (["deploy", "staging"], {}, "unknown environment 'staging'"),
        (["deploy", "dev", "bad tag!"], {}, "'bad tag!' is not a valid image tag"),
        (["deploy", "dev", "1.0", "extra"], {}, "usage: ./orchestrator.sh deploy"),
        (["status"], {"ORCHESTRATOR_WORKERS": "two"}, "ORCHESTRATOR_WORKERS must be a whole number"),
        (["status"], {"ORCHESTRATOR_PREFIX": "Bad_Prefix"}, "ORCHESTRATOR_PREFIX must be a lowercase name"),
    ],
)
def test_bad_input_fails_with_one_clear_message(args: list[str], env: dict[str, str], message: str) -> None:
    result = run(*args, env=env)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if " error " in line]
    assert len(errors) == 1, result.stderr
    assert message in errors[0]


def test_kubectl_without_a_cluster_says_what_to_do() -> None:
    result = run("kubectl", "get", "nodes")
    assert result.returncode != 0
    assert "run './orchestrator.sh create' first" in result.stderr


def test_inventory_names_the_hosts_from_the_settings() -> None:
    result = run("inventory", env={"ORCHESTRATOR_PREFIX": "lab", "ORCHESTRATOR_WORKERS": "3"})
    assert result.returncode == 0, result.stderr
    inventory = json.loads(result.stdout)
    assert inventory["k3s_servers"]["hosts"] == ["lab-master"]
    assert inventory["k3s_agents"]["hosts"] == ["lab-worker1", "lab-worker2", "lab-worker3"]
    assert inventory["k3s_cluster"]["children"] == ["k3s_servers", "k3s_agents"]


def test_shell_scripts_are_shellcheck_clean() -> None:
    result = subprocess.run(
        [str(VENV_BIN / "shellcheck"), "-x", "orchestrator.sh", "inventory/machines.sh"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_create_without_root_lists_what_is_missing_instead_of_installing() -> None:
    # libvirt is not usable here (no libvirtd), so the prerequisites check must stop.
    virsh = shutil.which("virsh")
    if (
        virsh
        and subprocess.run([virsh, "-c", "qemu:///system", "version"], capture_output=True, check=False).returncode == 0
    ):
        pytest.skip("libvirt works on this machine; nothing would be missing")
    result = run("--provider", "libvirt", "create", env={"ORCHESTRATOR_NO_APT": "1"})
    assert result.returncode != 0
    assert "missing on this machine: vagrant with a working libvirt" in result.stderr
    assert "phase 'prerequisites' failed" in result.stderr
    assert "prerequisites done" not in result.stderr
