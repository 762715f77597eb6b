"""docker-compose.yml as the Docker assignment specifies the voting app: proxy,
vote, result, worker, redis, db; a front and a back network; health checks
from healthchecks/*.sh; passwords only in a generated, git-ignored .env; the
sources mounted at /app by the development override. Run with the real
compose CLI and images, reached with curl --resolve, and `down -v` leaves
nothing behind."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import free_port

REPO = Path(__file__).resolve().parents[3]
SERVICES = {"proxy", "vote", "result", "worker", "redis", "db"}
IMAGES = ["nginx", "redis", "postgres", "vote", "result", "worker"]


def compose_cli() -> list[str]:
    """`docker compose` (v2) where installed, else Debian's docker-compose 1.29."""
    if subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("neither `docker compose` nor docker-compose is installed (scripts/bootstrap.sh installs it)")


def docker(*args: str, check: bool = True) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {result.stderr}")
    return result.stdout


def inspect(name: str) -> dict[str, Any]:
    return json.loads(docker("inspect", name))[0]


@dataclass
class Project:
    name: str
    env_file: Path
    env: dict[str, str]
    files: tuple[str, ...] = ("docker-compose.yml",)

    def compose(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        files = [arg for name in self.files for arg in ("-f", name)]
        result = subprocess.run(
            [*compose_cli(), "-p", self.name, "--env-file", str(self.env_file), *files, *args],
            cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise AssertionError(f"compose {' '.join(args)} failed:\n{result.stderr}{result.stdout}")
        return result

    def containers(self) -> dict[str, dict[str, Any]]:
        """Service name -> docker inspect of its container."""
        ids = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={self.name}").split()
        found = {}
        for container_id in ids:
            data = inspect(container_id)
            found[data["Config"]["Labels"]["com.docker.compose.service"]] = data
        return found

    def wait_healthy(self, services: set[str], timeout: float = 240) -> dict[str, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            containers = self.containers()
            states = {
                name: c["State"].get("Health", {}).get("Status", c["State"]["Status"]) for name, c in containers.items()
            }
            if set(containers) == services and all(state == "healthy" for state in states.values()):
                return containers
            time.sleep(2)
        logs = self.compose("logs", "--tail=30", check=False).stdout[-4000:]
        raise AssertionError(f"not all healthy after {timeout}s: {states}\n{logs}")

    def leftovers(self) -> dict[str, list[str]]:
        label = f"label=com.docker.compose.project={self.name}"
        return {
            "containers": docker("ps", "-aq", "--filter", label).split(),
            "volumes": docker("volume", "ls", "-q", "--filter", label).split(),
            "networks": docker("network", "ls", "-q", "--filter", label).split(),
        }

    def down(self) -> None:
        self.compose("down", "-v", "--remove-orphans", "--timeout", "20", check=False)


def curl(url: str, port: int, *args: str) -> subprocess.CompletedProcess[str]:
    """curl with both host names resolved to loopback, as a user without DNS entries would."""
    resolve = [
        arg for host in ("vote.votes.fr", "results.votes.fr") for arg in ("--resolve", f"{host}:{port}:127.0.0.1")
    ]
    return subprocess.run(
        ["curl", "-sS", "--max-time", "10", *resolve, *args, url], capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def images() -> None:
    result = subprocess.run(
        [str(REPO / "scripts" / "build-images.sh"), *IMAGES], capture_output=True, text=True, timeout=1800, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"scripts/build-images.sh failed:\n{result.stdout}{result.stderr[-4000:]}")
    # The assignment names two containers; another stack holding the names would collide.
    taken = [name for name in ("vote", "results") if docker("ps", "-aq", "--filter", f"name=^{name}$").strip()]
    if taken:
        pytest.fail(f"containers named {taken} exist already: docker-compose.yml needs those names")


@pytest.fixture(scope="module")
def env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("compose") / ".env"
    subprocess.run([str(REPO / "scripts" / "compose-env.sh"), str(path)], check=True, capture_output=True)
    return path


def new_project(env_file: Path, *files: str) -> Project:
    ports = {name: str(free_port()) for name in ("PROXY_PORT", "VOTE_PORT", "RESULT_PORT")}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORCHESTRATOR_APP", "COMPOSE_"))}
    return Project(f"okapps{uuid.uuid4().hex[:8]}", env_file, {**env, **ports}, files or ("docker-compose.yml",))


@pytest.fixture(scope="module")
def stack(images: None, env_file: Path) -> Iterator[Project]:
    project = new_project(env_file)
    try:
        project.compose("up", "-d")
        yield project
    finally:
        project.down()


def test_the_env_file_is_generated_once_private_and_ignored_by_git(env_file: Path) -> None:
    first = env_file.read_text()
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    names = {line.split("=", 1)[0] for line in first.splitlines() if "=" in line}
    assert {"VOTE_DB_PASSWORD", "REDIS_PASSWORD"} <= names
    subprocess.run([str(REPO / "scripts" / "compose-env.sh"), str(env_file)], check=True, capture_output=True)
    assert env_file.read_text() == first, "a second run must keep the passwords"
    # The default place, the repository's .env, is git-ignored.
    assert subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=REPO, check=False).returncode == 0
    text = (REPO / "docker-compose.yml").read_text()
    for line in first.splitlines():
        if "=" in line:
            assert line.split("=", 1)[1] not in text


def test_the_six_services_run_healthy_on_a_front_and_a_back_network(stack: Project) -> None:
    containers = stack.wait_healthy(SERVICES)
    assert containers["vote"]["Name"] == "/vote" and containers["result"]["Name"] == "/results"
    published = {
        name
        for name, c in containers.items()
        if any(c["NetworkSettings"]["Ports"].get(p) for p in c["NetworkSettings"]["Ports"])
    }
    assert published == {"proxy", "vote", "result"}
    networks = {
        name: {n.rsplit("_", 1)[-1] for n in c["NetworkSettings"]["Networks"]} for name, c in containers.items()
    }
    assert networks == {
        "proxy": {"front"},
        "vote": {"front", "back"},
        "result": {"front", "back"},
        "worker": {"back"},
        "redis": {"back"},
        "db": {"back"},
    }
    assert inspect(f"{stack.name}_back")["Internal"] is True
    assert containers["redis"]["Config"]["Healthcheck"]["Test"] == ["CMD", "/healthchecks/redis.sh"]
    assert containers["db"]["Config"]["Healthcheck"]["Test"] == ["CMD", "/healthchecks/postgres.sh"]
    mounts = {m["Destination"]: m for m in containers["db"]["Mounts"]}
    assert mounts["/var/lib/postgresql/data"]["Type"] == "volume"


def test_a_vote_through_the_proxy_reaches_the_result_page(stack: Project) -> None:
    stack.wait_healthy(SERVICES)
    port = int(stack.env["PROXY_PORT"])
    ballot = curl(f"http://vote.votes.fr:{port}/", port)
    assert "Processed by container ID" in ballot.stdout, ballot.stderr
    voted = curl(
        f"http://vote.votes.fr:{port}/", port, "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "-d", "vote=b"
    )
    assert voted.stdout == f"303 http://vote.votes.fr:{port}/", voted.stdout + voted.stderr
    deadline = time.monotonic() + 60
    scores = ""
    while time.monotonic() < deadline:
        scores = curl(f"http://results.votes.fr:{port}/api/scores", port).stdout
        if scores and json.loads(scores).get("b") == 1:
            break
        time.sleep(1)
    assert json.loads(scores) == {"a": 0, "b": 1}
    page = curl(f"http://results.votes.fr:{port}/", port).stdout
    assert '<div id="result">1 vote</div>' in page
    assert (
        curl(
            f"http://elsewhere.example:{port}/",
            port,
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--resolve",
            f"elsewhere.example:{port}:127.0.0.1",
        ).stdout
        == "404"
    )


def test_down_v_leaves_nothing(stack: Project) -> None:
    """After the tests above (file order): tear down, then look."""
    stack.compose("down", "-v", "--remove-orphans", "--timeout", "20")
    assert stack.leftovers() == {"containers": [], "volumes": [], "networks": []}


def test_up_vote_starts_what_vote_needs(images: None, env_file: Path) -> None:
    project = new_project(env_file)
    try:
        project.compose("up", "-d", "vote")
        assert project.wait_healthy({"vote", "redis"}).keys() == {"vote", "redis"}
    finally:
        project.down()
    assert project.leftovers() == {"containers": [], "volumes": [], "networks": []}


def test_the_development_override_serves_the_checkout_without_a_rebuild(images: None, env_file: Path) -> None:
    project = new_project(env_file, "docker-compose.yml", "docker-compose.dev.yml")
    probe = REPO / "apps" / "vote" / "vote_app" / "static" / f"compose-dev-{uuid.uuid4().hex[:8]}.txt"
    try:
        project.compose("up", "-d", "vote", "result")
        containers = project.wait_healthy({"vote", "result", "redis", "db"})
        for service, source in (("vote", "apps/vote"), ("result", "apps/result")):
            mounts = {m["Destination"]: m["Source"] for m in containers[service]["Mounts"]}
            assert mounts["/app"] == str(REPO / source)
        # A file written into the checkout now is served at once: no rebuild.
        probe.write_text("edited\n")
        served = curl(f"http://127.0.0.1:{project.env['VOTE_PORT']}/static/{probe.name}", 0)
        assert served.stdout == "edited\n", served.stderr
    finally:
        probe.unlink(missing_ok=True)
        project.down()
    assert project.leftovers() == {"containers": [], "volumes": [], "networks": []}
