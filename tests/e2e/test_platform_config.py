"""What the created cluster runs and says: the engine and why, image versions
per environment, Secrets that stay in Secrets, and a second site.yml that
changes nothing."""

from __future__ import annotations

import base64
import time

import pytest
import requests

from tests.e2e.created_cluster import APP_IMAGES, ENVIRONMENTS, STACKS_SETTINGS, CreatedCluster
from tests.e2e.harness import REPO, recap_changed

pytestmark = pytest.mark.slow


def test_create_says_in_one_line_that_it_uses_kubeadm_and_why(created_cluster: CreatedCluster) -> None:
    lines = [line for line in created_cluster.create_stderr.splitlines() if "kubeadm: no k3s" in line]
    assert len(lines) == 1, created_cluster.create_stderr[:3000]
    assert "K3S_AIRGAP_DIR is not set" in lines[0] and "release can be downloaded from here" in lines[0]
    status = created_cluster.platform.orchestrator("status")
    assert "engine: kubeadm" in status.stdout.splitlines()[0]


def running_images(cluster: CreatedCluster, namespace: str) -> dict[str, set[str]]:
    """Image of every running app container, by component."""
    found: dict[str, set[str]] = {}
    for pod in cluster.get("pods", namespace=namespace)["items"]:
        component = pod["metadata"]["labels"].get("app.kubernetes.io/name", "")
        for status in pod["status"].get("containerStatuses") or []:
            found.setdefault(component, set()).add(status["image"])
    return found


def test_dev_and_prod_run_different_app_versions(created_cluster: CreatedCluster) -> None:
    tags = STACKS_SETTINGS["stacks_app_image_tags"]
    assert tags["dev"] != tags["prod"]
    for environment in ENVIRONMENTS:
        images = running_images(created_cluster, environment)
        for app in APP_IMAGES:
            assert {image.rsplit(":", 1)[1] for image in images[app]} == {tags[environment]}, (environment, app)
        # The processes say so too, not only the tags.
        livez = requests.get(created_cluster.url(environment, "vote") + "/livez", timeout=10).json()
        assert livez["version"] == tags[environment]
        openapi = requests.get(created_cluster.url(environment, "api-gateway") + "/openapi.json", timeout=10).json()
        assert openapi["info"]["version"] == tags[environment]


def secret_values(cluster: CreatedCluster) -> dict[str, str]:
    """Every credential of both stacks' Secrets (passwords and files holding them), by where it is."""
    found = {}
    for environment in ENVIRONMENTS:
        for secret in cluster.get("secrets", namespace=environment)["items"]:
            # The components' Secrets (the stack module keeps its own state in other, binary ones).
            if (secret["metadata"].get("labels") or {}).get("app.kubernetes.io/managed-by") != "orchestrator.k3s":
                continue
            for key, value in (secret.get("data") or {}).items():
                if key != "username":  # user names are not secret (stacks.yml)
                    found[f"{environment}/{secret['metadata']['name']}/{key}"] = base64.b64decode(value).decode()
    return found


def test_no_secret_value_appears_outside_the_secrets(created_cluster: CreatedCluster) -> None:
    secrets = secret_values(created_cluster)
    passwords = {where: value for where, value in secrets.items() if where.endswith("/password")}
    assert len(passwords) == 2 * 5, sorted(passwords)  # vote: db, redis; crud: two databases, the queue
    assert all(len(value) >= 16 for value in passwords.values())
    places = {}
    for environment in ENVIRONMENTS:
        places[f"{environment} ConfigMaps, workloads, pods, services, ingresses, HPAs, policies"] = (
            created_cluster.kubectl(
                "get", "configmaps,deployments,statefulsets,pods,services,ingresses,hpa,networkpolicies,events",
                "-o", "yaml", namespace=environment,
            ).stdout
        )  # fmt: skip
        places[f"{environment} kubectl describe"] = created_cluster.kubectl(
            "describe", "deployments,statefulsets,pods,configmaps,secrets", namespace=environment
        ).stdout
    places["kube-system ConfigMaps"] = created_cluster.kubectl(
        "get", "configmaps", "-o", "yaml", namespace="kube-system"
    ).stdout
    logs = sorted((REPO / ".orchestrator" / "logs").glob(f"{created_cluster.platform.prefix}-*.log"))
    assert {log.name.split("-", 1)[1] for log in logs} >= {"cluster.log", "stacks.log", "smoke.log"}, logs
    for log in logs:
        places[f"Ansible log {log.name}"] = log.read_text(errors="replace")
    places["create's output"] = created_cluster.create_stdout + created_cluster.create_stderr
    leaks = [
        f"{where} in {place}" for place, text in places.items() for where, value in passwords.items() if value in text
    ]
    assert leaks == []


def test_a_second_site_yml_changes_nothing(created_cluster: CreatedCluster) -> None:
    start = time.monotonic()
    again = created_cluster.platform.playbook("site.yml", timeout=900)
    seconds = time.monotonic() - start
    created_cluster.figures["site_yml_no_change_seconds"] = round(seconds, 1)
    assert again.returncode == 0, again.stdout[-5000:] + again.stderr[-2000:]
    changed = recap_changed(again.stdout)
    hosts = {"localhost", *created_cluster.platform.node_names}
    assert set(changed) == hosts, again.stdout[-3000:]
    assert changed == dict.fromkeys(hosts, 0), again.stdout[-6000:]
