"""The delivery pipeline run for real: the GitHub Actions workflows under .github/workflows,
executed by `act` (built from its Go module by toolchain/build.sh) on this host as the
self-hosted runner, against the session's created cluster and its local registry.

- a push event runs `deliver`: tests, the images built and pushed under the commit's tag,
  `dev` deployed with that tag;
- a dispatch of `promote` with an older tag deploys `prod` with it;
- dev and prod then run different versions, each exactly the one asked for (image references
  in the Deployments and the version the running apps report);
- a dispatch with a tag the registry does not have fails in its check job, and prod is untouched.

The created cluster already delivers its images through its local registry (the default for
node containers: `create` started it and pointed every node's containerd at it); at the end
both environments are deployed back to the inventory's versions, so the tests that follow find
the cluster as `create` left it.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.created_cluster import APP_IMAGES, STACKS_SETTINGS, CreatedCluster, eventually
from tests.e2e.harness import REPO, docker

pytestmark = [pytest.mark.created_cluster]

CACHE = Path(os.environ.get("ORCHESTRATOR_CACHE") or Path.home() / ".cache" / "orchestrator-k3s")
ACT = CACHE / "bin" / "act"
# What the pipeline's test job runs here: the suite that runs this test cannot run itself.
TEST_TARGET = "unit"
ACT_TIMEOUT = 30 * 60
# The registry's repositories of the app images (stacks_image_sets.registry).
REGISTRY_NAMES = {name: STACKS_SETTINGS["stacks_image_sets"]["registry"][name]["repository"] for name in APP_IMAGES}
# Workloads whose image is one app image, per stack kind (Deployments; the worker too).
APP_DEPLOYMENTS = ("vote", "result", "worker", "api-gateway", "inventory-app", "billing-app")


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True).stdout.strip()


def _act(cluster: CreatedCluster, event: str, workflow: str, *args: str) -> subprocess.CompletedProcess[str]:
    """act on this host (no job container, nothing pulled), with the cluster's settings as the
    repository's variables and its credentials as secrets, as a self-hosted runner gets them."""
    platform = cluster.platform
    kubeconfig = cluster.kubeconfig.read_text()
    stacks_secrets = (REPO / ".orchestrator" / "secrets.yml").read_text()
    variables = {
        "ORCHESTRATOR_PREFIX": platform.prefix,
        "ORCHESTRATOR_SUBNET": platform.subnet,
        "ORCHESTRATOR_PUBLISH_IP": platform.publish_ip,
        "ORCHESTRATOR_PROVIDER": "docker",
        "ORCHESTRATOR_ENGINE": (REPO / ".orchestrator" / f"{platform.prefix}.engine").read_text().strip(),
        "ORCHESTRATOR_TEST_TARGET": TEST_TARGET,
        # Each job runs in a fresh copy of the checkout (act's host runner): the venv is shared.
        "ORCHESTRATOR_RUNNER_VENV": str(REPO / ".venv"),
    }
    argv = [
        str(ACT), event, "-W", f".github/workflows/{workflow}",
        "-P", "self-hosted=-self-hosted", "-P", "orchestrator=-self-hosted",
        "--no-cache-server", "--action-offline-mode",
        "-s", "ORCHESTRATOR_KUBECONFIG", "-s", "ORCHESTRATOR_STACKS_SECRETS",
        *(arg for name, value in variables.items() for arg in ("--var", f"{name}={value}")),
        *args,
    ]  # fmt: skip
    # Secrets by name: act reads their values from its environment, never from its command line.
    env = {**platform.env, "ORCHESTRATOR_KUBECONFIG": kubeconfig, "ORCHESTRATOR_STACKS_SECRETS": stacks_secrets}
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=ACT_TIMEOUT, check=False)


def _images(cluster: CreatedCluster, namespace: str) -> dict[str, str]:
    """The image of each app workload in NAMESPACE."""
    found = {}
    for kind in ("deployments", "statefulsets"):
        for item in cluster.get(kind, namespace=namespace)["items"]:
            name = item["metadata"]["labels"].get("app.kubernetes.io/name", item["metadata"]["name"])
            if name in APP_DEPLOYMENTS:
                found[name] = item["spec"]["template"]["spec"]["containers"][0]["image"]
    return found


def _reported_version(cluster: CreatedCluster, environment: str) -> str:
    return requests.get(cluster.url(environment, "vote") + "/livez", timeout=5).json()["version"]


def _prod_state(cluster: CreatedCluster) -> dict[str, tuple[int, str]]:
    """Generation and image of every prod Deployment an apply would change (not those an HPA scales,
    whose generation moves with the load)."""
    scaled = {item["spec"]["scaleTargetRef"]["name"] for item in cluster.get("hpa", namespace="prod")["items"]}
    return {
        item["metadata"]["name"]: (
            item["metadata"]["generation"],
            item["spec"]["template"]["spec"]["containers"][0]["image"],
        )
        for item in cluster.get("deployments", namespace="prod")["items"]
        if item["metadata"]["name"] not in scaled
    }


def _log(result: subprocess.CompletedProcess[str]) -> str:
    return (result.stdout + result.stderr)[-8000:]


def test_push_deploys_dev_dispatch_promotes_prod(created_cluster: CreatedCluster) -> None:
    cluster = created_cluster
    platform = cluster.platform
    assert ACT.is_file(), f"{ACT} is not built (toolchain/build.sh act; make e2e builds it)"
    commit_tag = _git("rev-parse", "HEAD")[:12]
    older_tag = f"0.1.{random.randrange(5, 99)}"
    missing_tag = f"0.0.0-missing{random.randrange(10**6)}"
    try:
        # An older release in the registry, as an earlier run of the pipeline would have left it.
        started = time.monotonic()
        pushed = platform.orchestrator("push", older_tag, timeout=ACT_TIMEOUT)
        assert pushed.returncode == 0, _log(pushed)
        cluster.figures["pipeline_push_older_seconds"] = round(time.monotonic() - started, 1)
        registry = f"{platform.subnet.rsplit('.', 1)[0]}.5:5000"
        assert docker("inspect", "-f", "{{.State.Running}}", f"{platform.prefix}-registry").stdout.strip() == "true"

        # Push event: tests, images under the commit's tag, dev deployed with it.
        started = time.monotonic()
        event = REPO / "tests" / "artifacts" / "pipeline-push-event.json"
        event.parent.mkdir(parents=True, exist_ok=True)
        event.write_text(json.dumps({"ref": "refs/heads/main", "after": _git("rev-parse", "HEAD")}))
        delivered = _act(cluster, "push", "deliver.yml", "-e", str(event))
        cluster.figures["pipeline_push_seconds"] = round(time.monotonic() - started, 1)
        assert delivered.returncode == 0, _log(delivered)
        output = delivered.stdout + delivered.stderr
        for job in ("test", "images", "deploy-dev"):
            assert re.search(rf"\[deliver/{job}\s*\]\s+🏁  Job succeeded", output), _log(delivered)
        assert f"deployed to dev with app images {commit_tag}" in output, _log(delivered)

        # Dispatch with the older tag: prod gets exactly it.
        started = time.monotonic()
        promoted = _act(cluster, "workflow_dispatch", "promote.yml", "--input", f"image_tag={older_tag}")
        cluster.figures["pipeline_promote_seconds"] = round(time.monotonic() - started, 1)
        assert promoted.returncode == 0, _log(promoted)
        assert f"deployed to prod with app images {older_tag}" in promoted.stdout + promoted.stderr, _log(promoted)

        # dev and prod run different versions, each exactly the one asked for, pulled from the registry.
        for environment, tag in (("dev", commit_tag), ("prod", older_tag)):
            expected = {name: f"{registry}/{REGISTRY_NAMES[name]}:{tag}" for name in APP_DEPLOYMENTS}
            assert _images(cluster, environment) == expected, environment
            for name in ("vote", "api-gateway"):
                cluster.wait_rollout(environment, f"deployment/{name}")
            eventually(
                lambda env=environment, tag=tag: _reported_version(cluster, env) == tag,
                120, f"{environment}'s vote app reports {tag}",
            )  # fmt: skip
        assert _reported_version(cluster, "dev") != _reported_version(cluster, "prod")

        # A tag the registry does not have: the check job fails, the production job never starts.
        before = _prod_state(cluster)
        refused = _act(cluster, "workflow_dispatch", "promote.yml", "--input", f"image_tag={missing_tag}")
        output = refused.stdout + refused.stderr
        assert refused.returncode != 0, _log(refused)
        assert f"Image tag {missing_tag} is not in the registry" in output, _log(refused)
        assert not re.search(r"\[promote/deploy-prod\s*\]\s+⭐ Run", output), _log(refused)
        assert _prod_state(cluster) == before
        assert _images(cluster, "prod") == {
            name: f"{registry}/{REGISTRY_NAMES[name]}:{older_tag}" for name in APP_DEPLOYMENTS
        }
    finally:
        # Back to the inventory's versions, for the tests after this one.
        restored = platform.orchestrator("deploy", timeout=ACT_TIMEOUT)
        assert restored.returncode == 0, _log(restored)
