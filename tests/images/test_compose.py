"""docker-compose.yml (vote) and docker-compose.crud.yml bring up both stacks with Debian's docker-compose 1.29:
a vote through the proxy reaches the result page, a movie and a billing
order go through the gateway (the order lands in billing-db, seen the way
the audit looks), and `down -v` leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from tests.images.containers import NAME_PREFIX, REPO, Container, docker
from tests.support.servers import free_port

T = TypeVar("T")
PUBLISHING = {"proxy", "vote", "result", "api-gateway"}
COMPOSE_FILES = ("-f", "docker-compose.yml", "-f", "docker-compose.crud.yml")


@dataclass
class ComposeProject:
    name: str
    env: dict[str, str]
    env_file: Path

    def compose(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["docker-compose", "-p", self.name, "--env-file", str(self.env_file), *COMPOSE_FILES, *args],
            cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise AssertionError(f"docker-compose {' '.join(args)} failed:\n{result.stderr}{result.stdout}")
        return result

    def containers(self) -> dict[str, Container]:
        """Service name -> its container."""
        ids = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={self.name}").stdout.split()
        found = {}
        for data in (Container(container_id).inspect() for container_id in ids):
            found[data["Config"]["Labels"]["com.docker.compose.service"]] = Container(data["Name"].lstrip("/"))
        return found

    def url(self, service_port: str, path: str) -> str:
        return f"http://127.0.0.1:{self.env[service_port]}{path}"


def leftovers(project: str) -> dict[str, list[str]]:
    label = f"label=com.docker.compose.project={project}"
    return {
        kind: docker(*command, "--filter", label).stdout.split()
        for kind, command in {
            "containers": ("ps", "-aq"),
            "volumes": ("volume", "ls", "-q"),
            "networks": ("network", "ls", "-q"),
        }.items()
    }


def eventually(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll PROBE until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
            if last:
                return last
        except requests.RequestException as error:
            last = error
        time.sleep(1)
    raise AssertionError(f"{what} did not happen in {timeout}s (last: {last!r})")


@pytest.fixture(scope="module")
def project(built_images: str) -> Iterator[ComposeProject]:
    name = f"{NAME_PREFIX}-{uuid.uuid4().hex[:8]}".replace("-", "")
    with tempfile.TemporaryDirectory(prefix="okimg-test-compose-") as directory:
        env_file = Path(directory) / "compose.env"
        subprocess.run([str(REPO / "scripts" / "compose-env.sh"), str(env_file)], check=True, capture_output=True)
        ports = {var: str(free_port()) for var in ("PROXY_PORT", "VOTE_PORT", "RESULT_PORT", "GATEWAY_PORT")}
        env = {key: value for key, value in os.environ.items() if not key.startswith(("ORCHESTRATOR_APP", "COMPOSE_"))}
        stack = ComposeProject(name, {**env, **ports, "PUBLISH_ADDRESS": "127.0.0.1"}, env_file)
        try:
            stack.compose("up", "-d")
            yield stack
        finally:
            stack.compose("down", "-v", "--remove-orphans", "--timeout", "20", check=False)


@pytest.mark.slow
def test_both_stacks_end_to_end(project: ComposeProject) -> None:
    containers = project.containers()
    assert len(containers) == 12
    for container in containers.values():
        container.wait_healthy(timeout=240)

    # Only the four entry points publish a port, and only on loopback.
    published = {
        service: bindings
        for service, container in containers.items()
        for bindings in [[b for port in container.inspect()["NetworkSettings"]["Ports"].values() for b in port or []]]
        if bindings
    }
    assert set(published) == PUBLISHING
    assert {binding["HostIp"] for bindings in published.values() for binding in bindings} == {"127.0.0.1"}

    # A vote through the proxy, by host name, shows on the result side.
    vote = requests.post(
        project.url("PROXY_PORT", "/"),
        data={"vote": "b"},
        headers={"Host": "vote.votes.fr"},
        timeout=10,
        allow_redirects=False,
    )
    assert vote.status_code == 303 and "voter_id" in vote.cookies

    def scores() -> dict[str, int] | None:
        response = requests.get(
            project.url("PROXY_PORT", "/api/scores"), headers={"Host": "results.votes.fr"}, timeout=10
        )
        return response.json() if response.ok and response.json().get("b") == 1 else None

    assert eventually(scores, 60, "the vote reaching /api/scores") == {"a": 0, "b": 1}
    socket_io = requests.get(
        project.url("PROXY_PORT", "/socket.io/?EIO=4&transport=polling"),
        headers={"Host": "results.votes.fr"},
        timeout=10,
    )
    assert socket_io.status_code == 200
    unknown_host = requests.get(project.url("PROXY_PORT", "/"), headers={"Host": "elsewhere.example"}, timeout=10)
    assert unknown_host.status_code == 404

    # A movie and a billing order through the gateway.
    movie = {"title": "Alien", "description": "In space no one can hear you scream."}
    assert requests.post(project.url("GATEWAY_PORT", "/api/movies/"), json=movie, timeout=10).status_code == 200
    listed = requests.get(project.url("GATEWAY_PORT", "/api/movies/"), timeout=10).json()["movies"]
    assert [(m["title"], m["description"]) for m in listed] == [(movie["title"], movie["description"])]
    order = {"user_id": 20, "number_of_items": 2, "total_amount": 9.5}
    assert requests.post(project.url("GATEWAY_PORT", "/api/billing/"), json=order, timeout=10).status_code == 200

    def billed() -> str | None:
        out = containers["billing-db"].exec("sudo", "-i", "-u", "postgres", stdin="psql\n\\l\nTABLE orders;\n").stdout
        return out if "(1 row)" in out else None

    audit = eventually(billed, 60, "the order reaching billing-db")
    assert any(line.split("|")[0].strip() == "orders" for line in audit.splitlines())


def test_compose_refuses_to_run_without_the_secrets(built_images: str, tmp_path: Path) -> None:
    # An empty env file: a developer's generated .env must not be read.
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = subprocess.run(
        ["docker-compose", "-p", "okimgtestnosecrets", "--env-file", str(empty), *COMPOSE_FILES, "config", "-q"],
        cwd=REPO, env={k: v for k, v in os.environ.items() if not k.endswith("_PASSWORD")},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "scripts/compose-env.sh" in result.stderr


def test_down_leaves_nothing(project: ComposeProject) -> None:
    """Runs after the end-to-end test (file order): tear down, then look."""
    project.compose("down", "-v", "--remove-orphans", "--timeout", "20")
    assert leftovers(project.name) == {"containers": [], "volumes": [], "networks": []}
