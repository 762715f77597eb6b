"""The Vagrantfile: valid for each provider Vagrant can check here, and its
machines follow the same settings (environment, then orchestrator.env) as the
Ansible inventory that orchestrator.sh hands Ansible."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import LABEL, NODE_IMAGE, REPO, docker, free_subnet


@pytest.fixture(autouse=True)
def _vagrant_installed() -> None:
    # bootstrap installs Debian's vagrant: its absence is a setup error, not a reason to skip.
    if shutil.which("vagrant") is None:
        pytest.fail("vagrant is not installed: run scripts/bootstrap.sh (make bootstrap) first")


def vagrant(
    *args: str, cwd: Path, dotfile: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_")}
    # Vagrant's per-project state goes to a temp dir, never into the checkout.
    run_env.update(VAGRANT_DOTFILE_PATH=str(dotfile), VAGRANT_CHECKPOINT_DISABLE="1", **(env or {}))
    return subprocess.run(
        ["vagrant", *args], cwd=cwd, env=run_env, capture_output=True, text=True, timeout=120, check=False
    )


def machines(cwd: Path, dotfile: Path, env: dict[str, str] | None = None) -> list[str]:
    """Machine names from `vagrant status --machine-readable` (creates nothing)."""
    result = vagrant(
        "status",
        "--machine-readable",
        cwd=cwd,
        dotfile=dotfile,
        env={"VAGRANT_DEFAULT_PROVIDER": "docker", **(env or {})},
    )
    assert result.returncode == 0, result.stderr
    return [line.split(",")[1] for line in result.stdout.splitlines() if line.split(",")[2:3] == ["state"]]


@pytest.mark.parametrize("provider", ["docker", "libvirt"])
def test_vagrant_validate_passes(provider: str, tmp_path: Path) -> None:
    result = vagrant("validate", cwd=REPO, dotfile=tmp_path, env={"VAGRANT_DEFAULT_PROVIDER": provider})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "validated successfully" in result.stdout


def test_vagrant_validate_passes_for_every_provider_block(tmp_path: Path) -> None:
    # VirtualBox is not installed here; this checks the rest, whatever it is.
    result = vagrant("validate", "--ignore-provider", cwd=REPO, dotfile=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_provisioner_files_exist() -> None:
    # `vagrant validate` does not open them; `vagrant up` would fail late.
    text = (REPO / "Vagrantfile").read_text()
    for path in ("site.yml", "ansible.cfg", "inventory/machines.sh"):
        assert f'"{path}"' in text, path
        assert (REPO / path).exists(), path


def test_machines_follow_the_settings_like_the_inventory(tmp_path: Path) -> None:
    # A copy of the entry points with a settings file of its own, so the
    # checkout's orchestrator.env (a user's) plays no part.
    project = tmp_path / "project"
    for path in (
        "Vagrantfile", "orchestrator.sh", "scripts/lib.sh", "roles/docker_nodes/defaults/main.yml",
        "inventory/group_vars/all/cluster.yml", "inventory/group_vars/all/stacks.yml",
    ):  # fmt: skip
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / path, project / path)
    (project / "orchestrator.env").write_text('# settings\nORCHESTRATOR_PREFIX="lab"\nORCHESTRATOR_WORKERS=3\n')
    dotfile = tmp_path / "dotfile"

    def inventory_hosts(env: dict[str, str]) -> list[str]:
        run_env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_")} | env
        result = subprocess.run(
            [str(project / "orchestrator.sh"), "inventory"], env=run_env, capture_output=True, text=True, check=True
        )
        groups = json.loads(result.stdout)
        return groups["k3s_servers"]["hosts"] + groups["k3s_agents"]["hosts"]

    from_file = ["lab-master", "lab-worker1", "lab-worker2", "lab-worker3"]
    assert machines(project, dotfile) == from_file
    assert inventory_hosts({}) == from_file

    # The environment wins over the file.
    overridden = {"ORCHESTRATOR_WORKERS": "1"}
    assert machines(project, dotfile, overridden) == ["lab-master", "lab-worker1"]
    assert inventory_hosts(overridden) == ["lab-master", "lab-worker1"]


def test_provisioner_runs_once_over_every_machine_and_the_controller() -> None:
    text = (REPO / "Vagrantfile").read_text()
    # `all` alone skips the `hosts: localhost` plays; parallel boots race the provisioner.
    assert "ansible.limit = %w[all localhost]" in text
    assert 'ENV["VAGRANT_NO_PARALLEL"] = "yes"' in text


VENV_BIN = Path(sys.executable).parent


def connection_vars(dotfile: Path) -> dict[str, str]:
    """orchestrator_provider and the master's connection, as a plain `ansible` run on hosts.yml sees them."""
    msg = "{{ orchestrator_provider }}|{{ ansible_connection }}|{{ ansible_user }}|{{ ansible_ssh_private_key_file }}"
    result = subprocess.run(
        [str(VENV_BIN / "ansible"), "-i", "inventory/hosts.yml", "orch-master", "-m", "ansible.builtin.debug",
         "-a", json.dumps({"msg": msg})],
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_")}
        | {"VAGRANT_DOTFILE_PATH": str(dotfile), "ANSIBLE_STDOUT_CALLBACK": "json"}
        | {"ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    provider, connection, user, key = json.loads(result.stdout)["plays"][0]["tasks"][0]["hosts"]["orch-master"][
        "msg"
    ].split("|")
    return {"provider": provider, "connection": connection, "user": user, "key": key}


@pytest.mark.parametrize("vagrant_provider", ["virtualbox", "libvirt", "docker"])
def test_plain_playbook_run_after_vagrant_up_uses_the_vagrant_connection(vagrant_provider: str, tmp_path: Path) -> None:
    # Before `vagrant up`: the node containers of roles/docker_nodes, by docker exec.
    assert connection_vars(tmp_path) == {"provider": "docker", "connection": "community.docker.docker", "user": "root",
                                         "key": ""}  # fmt: skip
    # What `vagrant up` leaves for the master: its machine id and generated key.
    machine = tmp_path / "machines" / "orch-master" / vagrant_provider
    machine.mkdir(parents=True)
    (machine / "id").write_text("0123")
    (machine / "private_key").write_text("not a key\n")
    assert connection_vars(tmp_path) == {"provider": "vagrant", "connection": "ansible.builtin.ssh", "user": "vagrant",
                                         "key": str(machine / "private_key")}  # fmt: skip


def test_bad_worker_count_is_refused(tmp_path: Path) -> None:
    result = vagrant(
        "validate",
        cwd=REPO,
        dotfile=tmp_path,
        env={"VAGRANT_DEFAULT_PROVIDER": "docker", "ORCHESTRATOR_WORKERS": "lots"},
    )
    assert result.returncode != 0
    assert "ORCHESTRATOR_WORKERS must be a whole number" in result.stdout + result.stderr


@pytest.mark.slow
def test_docker_provider_boots_reachable_machines_and_destroy_removes_them(tmp_path: Path) -> None:
    if docker("image", "inspect", NODE_IMAGE, check=False).returncode != 0:
        pytest.fail(f"{NODE_IMAGE} is not built (scripts/build-images.sh node)")
    prefix = f"vg{os.getpid()}"
    subnet = free_subnet()
    # Vagrant refuses ports any container on this engine publishes: publish none.
    settings = {
        "ORCHESTRATOR_PREFIX": prefix,
        "ORCHESTRATOR_WORKERS": "1",
        "ORCHESTRATOR_SUBNET": subnet,
        "ORCHESTRATOR_PUBLISH_IP": "none",
        "VAGRANT_DEFAULT_PROVIDER": "docker",
    }
    names = [f"{prefix}-master", f"{prefix}-worker1"]
    # The provisioner's ansible-playbook: records what Vagrant runs it with,
    # and which machines are up by then, and only lists the hosts of each play.
    shim = tmp_path / "bin"
    shim.mkdir()
    record = tmp_path / "provision.record"
    (shim / "ansible-playbook").write_text(
        "#!/bin/bash\nset -euo pipefail\n"
        f'{{ printf \'arg %s\\n\' "$@"; echo "no_parallel ${{VAGRANT_NO_PARALLEL:-}}"\n'
        f"  docker ps --filter label={LABEL}={prefix} --format 'running {{{{.Names}}}}'; }} > {record}\n"
        f'exec {VENV_BIN / "ansible-playbook"} --list-hosts "$@"\n'
    )
    (shim / "ansible-playbook").chmod(0o755)
    settings_up = settings | {"PATH": f"{shim}:{VENV_BIN}:{os.environ['PATH']}"}
    dotfile = tmp_path / "dotfile"
    try:
        up = vagrant("up", cwd=REPO, dotfile=dotfile, env=settings_up)
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-2000:]
        recorded = record.read_text().splitlines()
        # Once, after every machine is up, over all of them and the controller.
        assert sorted(line.split()[1] for line in recorded if line.startswith("running ")) == names
        assert "no_parallel yes" in recorded
        assert "arg --limit=all,localhost" in recorded
        assert [line for line in recorded if line.startswith("arg --inventory-file=")][0].endswith(
            "inventory/machines.sh"
        )
        plays = re.findall(r"play #\d+ \((\S+)\):.*\n\s+pattern: .*\n\s+hosts \((\d+)\):", up.stdout)
        localhost_plays = [int(count) for pattern, count in plays if pattern == "localhost"]
        assert localhost_plays and all(count == 1 for count in localhost_plays), up.stdout[-3000:]
        assert [int(count) for pattern, count in plays if pattern == "k3s_cluster"][0] == len(names)
        # A plain Ansible run then reaches the machines over SSH, no -e orchestrator_provider.
        ping = subprocess.run(
            [str(VENV_BIN / "ansible"), "-i", "inventory/machines.sh", "k3s_cluster", "-m", "ansible.builtin.ping",
             "-e", f"orchestrator_subnet={subnet}"],
            cwd=REPO, capture_output=True, text=True, timeout=180, check=False,
            env={k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_")}
            | {k: v for k, v in settings.items() if k.startswith("ORCHESTRATOR_")}
            | {"VAGRANT_DOTFILE_PATH": str(dotfile)},
        )  # fmt: skip
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert ping.stdout.count("SUCCESS") == len(names), ping.stdout
        for index, name in enumerate(names):
            ssh = vagrant(
                "ssh",
                name,
                "-c",
                "systemctl is-system-running; hostname; hostname -I; sudo -n true && echo sudo-ok",
                cwd=REPO,
                dotfile=dotfile,
                env=settings,
            )
            state, hostname, addresses, sudo = ssh.stdout.split("\n")[:4]
            assert state.strip() in {"running", "degraded"}, ssh.stdout + ssh.stderr
            assert hostname.strip() == name
            assert subnet.rsplit(".", 1)[0] + f".{10 + index}" in addresses.split()
            assert sudo.strip() == "sudo-ok"
        destroyed = vagrant("destroy", "--force", cwd=REPO, dotfile=dotfile, env=settings)
        assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
        assert docker("ps", "-a", "--filter", f"label={LABEL}={prefix}", "--format", "{{.Names}}").stdout == ""
        assert not [v for v in docker("volume", "ls", "--format", "{{.Name}}").stdout.split() if v.startswith(prefix)]
        assert subnet not in docker("network", "ls", "--format", "{{.Name}}").stdout
    finally:
        # Whatever a failed run left behind, and only that.
        leftovers = docker("ps", "-aq", "--filter", f"label={LABEL}={prefix}").stdout.split()
        if leftovers:
            docker("rm", "-f", *leftovers, check=False)
        volumes = [
            v for v in docker("volume", "ls", "--format", "{{.Name}}").stdout.split() if v.startswith(f"{prefix}-")
        ]
        if volumes:
            docker("volume", "rm", "-f", *volumes, check=False)
        docker("network", "rm", f"vagrant_network_{subnet}", check=False)
