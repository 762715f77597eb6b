"""The stacks phase (and the smoke phase's node check) against a real
Kubernetes 1.34 API server: k3s cannot run on this machine, so the cluster is
tests/support/apiserver.py's LocalCluster, with simulated nodes named like the
inventory's hosts. The module, the templates, the generated secrets and the
values per environment are the real ones; only the kubelet is simulated, so
the NodePort checks cannot run here."""

from __future__ import annotations

import json
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.harness import IsolatedPlatform, recap_changed
from tests.support.apiserver import LocalCluster

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[IsolatedPlatform, LocalCluster, list[str]]]:
    platform = IsolatedPlatform(subnet="10.213.0.0/24")
    state = tmp_path_factory.mktemp("state")
    with LocalCluster(nodes=tuple(platform.node_names)) as local_cluster:
        local_cluster.wait_nodes_ready()
        # Where the k3s_kubeconfig role would have written it; secrets in a
        # temp dir, never the checkout's .orchestrator/.
        (state / "kube").mkdir()
        shutil.copy(local_cluster.kubeconfig, state / "kube" / f"{platform.prefix}.yaml")
        extra = [
            "-e", f"k3s_kubeconfig_dir={state / 'kube'}",
            "-e", f"k3s_kubeconfig_cluster_name={platform.prefix}",
            "-e", f"stacks_secrets_file={state / 'secrets.yml'}",
            # The inventory's `shared` class is roles/shared_storage's; this API server has local-path only.
            "-e", "stacks_storage_class=local-path",
        ]  # fmt: skip
        yield platform, local_cluster, extra


def _images(local_cluster: LocalCluster, namespace: str) -> dict[str, str]:
    """Image of the first container of each Deployment and StatefulSet."""
    listed = json.loads(local_cluster.kubectl("-n", namespace, "get", "deployments,statefulsets", "-o", "json"))
    return {
        item["metadata"]["name"]: item["spec"]["template"]["spec"]["containers"][0]["image"] for item in listed["items"]
    }


def test_stacks_deploy_into_dev_and_prod_then_change_nothing(cluster: tuple) -> None:
    platform, local_cluster, extra = cluster
    first = platform.playbook("playbooks/stacks.yml", *extra, timeout=900)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]

    expected = {"vote", "result", "worker", "redis", "db", "api-gateway", "inventory-app", "inventory-db",
                "billing-app", "billing-db", "billing-queue"}  # fmt: skip
    dev, prod = _images(local_cluster, "dev"), _images(local_cluster, "prod")
    assert set(dev) == expected and set(prod) == expected
    # Different app versions per environment (inventory/group_vars/all/stacks.yml).
    assert dev["vote"].endswith(":0.2.0") and prod["vote"].endswith(":0.1.0")
    assert dev["db"] == prod["db"]

    secrets_file = Path(next(a for a in extra if a.startswith("stacks_secrets_file=")).split("=", 1)[1])
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    generated = yaml.safe_load(secrets_file.read_text())["stacks_secrets"]
    values = [value for env in generated.values() for stack in env.values() for value in stack.values()]
    assert len(values) >= 8
    leaked = [value for value in values if value in first.stdout + first.stderr]
    assert not leaked, "generated secrets appear in the playbook output"

    second = platform.playbook("playbooks/stacks.yml", *extra, timeout=900)
    assert second.returncode == 0, second.stdout[-4000:]
    assert recap_changed(second.stdout) == {platform.node_names[0]: 0}, second.stdout[-3000:]


def test_deploy_of_one_environment_with_another_tag_leaves_the_other_alone(cluster: tuple) -> None:
    platform, local_cluster, extra = cluster
    prod_before = _images(local_cluster, "prod")
    result = platform.playbook(
        "playbooks/stacks.yml", *extra,
        "-e", json.dumps({"orchestrator_deploy_environments": ["dev"]}), "-e", "orchestrator_app_image_tag=0.3.0",
        timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:]
    dev = _images(local_cluster, "dev")
    assert dev["vote"].endswith(":0.3.0") and dev["inventory-app"].endswith(":0.3.0")
    assert dev["db"].endswith(":15")
    assert _images(local_cluster, "prod") == prod_before


def test_smoke_waits_for_the_inventory_nodes(cluster: tuple) -> None:
    platform, _local_cluster, extra = cluster
    result = platform.playbook("playbooks/smoke.yml", *extra, "--tags", "nodes", timeout=600)
    assert result.returncode == 0, result.stdout[-3000:]
    for name in platform.node_names:
        assert f"(item={name})" in result.stdout
