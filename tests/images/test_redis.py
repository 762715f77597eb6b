"""orchestrator-k3s/redis:7 honours the official image's contract: options as
arguments, data in /data, uid 999, reachable from other containers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.images.containers import Container, docker, image, running, volume

REDIS = image("redis:7")


@pytest.fixture(scope="module")
def redis_container(built_images: str) -> Iterator[Container]:
    with (
        volume("redis-data") as data,
        running(REDIS, "-v", f"{data}:/data", role="redis", command=["--appendonly", "yes"]) as container,
    ):
        container.wait_healthy()
        yield container


def client(container: Container) -> redis.Redis:
    return redis.Redis(host=container.ip, socket_timeout=5, decode_responses=True)


def test_redis_cli_ping(redis_container: Container) -> None:
    assert redis_container.exec("redis-cli", "ping").stdout.strip() == "PONG"


def test_reachable_from_another_host_without_password(redis_container: Container) -> None:
    """Protected mode is off, as in the official image: other containers
    (here the host) may connect."""
    with client(redis_container) as conn:
        assert conn.ping()
        assert conn.config_get("protected-mode") == {"protected-mode": "no"}


def test_arguments_configure_the_server_and_data_is_in_slash_data(redis_container: Container) -> None:
    with client(redis_container) as conn:
        assert conn.config_get("appendonly") == {"appendonly": "yes"}
        assert conn.config_get("dir") == {"dir": "/data"}


def test_runs_as_uid_999(redis_container: Container) -> None:
    assert redis_container.process_uids()["redis-server"] == {"999"}


def test_data_persists_across_a_restart(redis_container: Container) -> None:
    with client(redis_container) as conn:
        conn.rpush("votes", "a", "b")
    docker("restart", redis_container.name)
    redis_container.wait_healthy()
    with client(redis_container) as conn:
        assert conn.lrange("votes", 0, -1) == ["a", "b"]
