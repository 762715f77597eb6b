"""The Docker provider end to end: node containers from the inventory, their
lifecycle through orchestrator.sh, and `create` with the k3s engine asked for
(ORCHESTRATOR_ENGINE=k3s) stopping with a clear message at the cluster phase
where no k3s release can be had (this machine). `create` with the engine it
picks here (kubeadm) is tests/e2e/test_platform_*.py.

The steps share one cluster and run in order; each leaves what the next needs.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from tests.e2e.harness import IsolatedPlatform, docker, recap_changed

pytestmark = pytest.mark.slow

PUBLISHED_NODE_PORTS = {31000, 31001, 31300, 32000, 32001, 32300}


def _inspect(name: str) -> dict:
    return json.loads(docker("inspect", name).stdout)[0]


def _system_state(name: str) -> str:
    return docker("exec", name, "systemctl", "is-system-running", check=False).stdout.strip()


def test_nodes_playbook_creates_booted_reachable_nodes(platform: IsolatedPlatform) -> None:
    result = platform.playbook("playbooks/nodes.yml")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]

    assert sorted(platform.objects()["containers"]) == sorted(platform.node_names)
    for index, name in enumerate(platform.node_names):
        assert _system_state(name) in {"running", "degraded"}, docker("exec", name, "systemctl", "--failed").stdout
        details = _inspect(name)
        assert details["Config"]["Hostname"] == name
        network = details["NetworkSettings"]["Networks"][f"{platform.prefix}-net"]
        expected_ip = platform.subnet.rsplit(".", 1)[0] + f".{10 + index}"
        assert network["IPAMConfig"]["IPv4Address"] == expected_ip
        mounts = {m["Destination"]: m for m in details["Mounts"]}
        for path in ("/var/lib/rancher/k3s", "/var/lib/kubelet", "/var/lib/cni", "/var/log", "/var/lib/orchestrator"):
            assert mounts[path]["Type"] == "volume", path
        # What k3s needs in a container that --privileged would otherwise give.
        assert "rw," in docker("exec", name, "grep", " /proc/sys ", "/proc/mounts").stdout
        assert "shared" in docker("exec", name, "findmnt", "-no", "PROPAGATION", "/").stdout

    master_ports = _inspect(platform.node_names[0])["NetworkSettings"]["Ports"]
    published = {int(port.split("/")[0]) for port, bindings in master_ports.items() if bindings}
    assert published == PUBLISHED_NODE_PORTS
    assert {b["HostIp"] for bindings in master_ports.values() if bindings for b in bindings} == {platform.publish_ip}
    for worker in platform.node_names[1:]:
        assert not any(_inspect(worker)["NetworkSettings"]["Ports"].values())

    ping = platform.ansible("k3s_cluster", "-m", "ansible.builtin.ping")
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert ping.stdout.count("SUCCESS") == len(platform.node_names)


def test_nodes_playbook_second_run_changes_nothing(platform: IsolatedPlatform) -> None:
    result = platform.playbook("playbooks/nodes.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    assert recap_changed(result.stdout) == {"localhost": 0}, result.stdout[-3000:]


def test_images_playbook_stages_image_tarballs_on_every_node(platform: IsolatedPlatform) -> None:
    # The air-gap path (the registry one, the default here, runs in the created cluster's tests).
    # One small image stands for the stacks' images: the path is the same.
    only_redis = json.dumps(
        {
            "orchestrator_image_delivery": "import",
            "stacks_image_sets": {"local": {"redis": {"repository": "orchestrator-k3s/redis", "tag": "7"}}},
        }
    )
    first = platform.playbook("playbooks/images.yml", "-e", only_redis)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]

    cache = Path(os.environ.get("ORCHESTRATOR_CACHE", Path.home() / ".cache" / "orchestrator-k3s"))
    archive = cache / "image-archives" / "orchestrator-k3s_redis_7.tar"
    image_id = docker("image", "inspect", "-f", "{{.Id}}", "orchestrator-k3s/redis:7").stdout.strip()
    assert (cache / "image-archives" / "orchestrator-k3s_redis_7.tar.id").read_text().strip() == image_id
    local_sum = hashlib.sha256(archive.read_bytes()).hexdigest()
    for name in platform.node_names:
        staged = docker("exec", name, "sha256sum", f"/var/lib/rancher/k3s/agent/images/{archive.name}").stdout
        assert staged.split()[0] == local_sum
        manifest = json.loads(docker("exec", name, "cat", "/var/lib/orchestrator/images.json").stdout)
        assert manifest == {archive.name: image_id}

    again = platform.playbook("playbooks/images.yml", "-e", only_redis)
    assert again.returncode == 0, again.stdout[-3000:]
    assert set(recap_changed(again.stdout).values()) == {0}, again.stdout[-3000:]


def test_stop_and_start_keep_the_data_volumes(platform: IsolatedPlatform) -> None:
    worker = platform.node_names[1]
    docker("exec", worker, "sh", "-c", "echo vote-42 > /var/lib/orchestrator/marker")
    docker("exec", worker, "sh", "-c", "echo k3s-state > /var/lib/rancher/k3s/marker")

    stopped = platform.orchestrator("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.strip().endswith("cluster stopped")
    for name in platform.node_names:
        assert _inspect(name)["State"]["Running"] is False

    started = platform.orchestrator("start")
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip().endswith("cluster started")
    for name in platform.node_names:
        assert _system_state(name) in {"running", "degraded"}
    assert docker("exec", worker, "cat", "/var/lib/orchestrator/marker").stdout == "vote-42\n"
    assert docker("exec", worker, "cat", "/var/lib/rancher/k3s/marker").stdout == "k3s-state\n"


def test_create_with_the_k3s_engine_stops_at_the_cluster_phase_without_k3s(platform: IsolatedPlatform) -> None:
    # Asked for k3s, with no K3S_AIRGAP_DIR (the harness passes none) and no release reachable from here.
    result = platform.orchestrator("create", env={"ORCHESTRATOR_ENGINE": "k3s"})
    assert result.returncode != 0
    assert "cluster created" not in result.stdout
    # Every phase before the cluster ran, and the failure names the phase.
    for phase in ("prerequisites", "build", "nodes"):
        assert f"{phase:<10} done in" in result.stderr, result.stderr
    assert "phase 'cluster' failed" in result.stderr, result.stderr
    # One message that says what is missing and both ways to provide it.
    assert "No k3s binary" in result.stderr
    assert "K3S_AIRGAP_DIR" in result.stderr
    assert "internet access" in result.stderr
    assert "sha256sum-amd64.txt" in result.stderr
    # The engine was asked for: no fallback to kubeadm.
    assert "engine     k3s" in result.stderr and "kubeadm: no k3s" not in result.stderr, result.stderr
    # The nodes it made are still there, for `destroy` (next) to remove.
    assert sorted(platform.objects()["containers"]) == sorted(platform.node_names)


def test_destroy_leaves_nothing_and_touches_nothing_else(platform: IsolatedPlatform) -> None:
    # Objects that only look like this cluster's must survive its destroy.
    unlabelled = f"{platform.prefix}-master-unlabelled"
    other_cluster = f"{platform.prefix}x-data"
    docker("volume", "create", unlabelled)
    docker("volume", "create", "--label", f"orchestrator.k3s.cluster={platform.prefix}x", other_cluster)
    try:
        result = platform.orchestrator("destroy")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().endswith("cluster destroyed")
        assert platform.objects() == {"containers": [], "volumes": [], "networks": []}
        assert docker("ps", "-a", "--filter", f"name={platform.prefix}-", "--format", "{{.Names}}").stdout == ""
        survivors = docker("volume", "ls", "--format", "{{.Name}}").stdout.split()
        assert unlabelled in survivors and other_cluster in survivors
    finally:
        docker("volume", "rm", unlabelled, other_cluster, check=False)
