"""orchestrator-k3s/rabbitmq:3-management honours the official image's
contract (default user, password and vhost; data in /var/lib/rabbitmq;
ports 5672 and 15672; uid 999) and bakes in no Erlang cookie."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pika
import pytest
import requests

from tests.images.containers import Container, docker, image, running, volume

RABBITMQ = image("rabbitmq:3-management")
PASSWORD = secrets.token_hex(16)
COOKIE = secrets.token_hex(20).upper()


@pytest.fixture(scope="module")
def brokers(built_images: str) -> Iterator[tuple[Container, Container]]:
    """Two brokers booted side by side (each takes seconds): one with the
    default-user variables and a data volume, one with a given cookie."""
    with volume("rabbitmq-data") as data, running(
        RABBITMQ, "--hostname", "billing-queue", "-v", f"{data}:/var/lib/rabbitmq",
        "-e", "RABBITMQ_DEFAULT_USER=billing", "-e", f"RABBITMQ_DEFAULT_PASS={PASSWORD}",
        "-e", "RABBITMQ_DEFAULT_VHOST=shop",
        role="rabbitmq",
    ) as billing, running(
        RABBITMQ, "-e", f"RABBITMQ_ERLANG_COOKIE={COOKIE}", role="rabbitmq-cookie"
    ) as with_cookie:  # fmt: skip
        billing.wait_healthy(timeout=180)
        with_cookie.wait_healthy(timeout=180)
        yield billing, with_cookie


@pytest.fixture(scope="module")
def broker(brokers: tuple[Container, Container]) -> Container:
    return brokers[0]


def amqp(container: Container, user: str, password: str, vhost: str) -> pika.BlockingConnection:
    params = pika.ConnectionParameters(
        host=container.ip, virtual_host=vhost, credentials=pika.PlainCredentials(user, password),
        connection_attempts=1, socket_timeout=5, blocked_connection_timeout=5,
    )  # fmt: skip
    return pika.BlockingConnection(params)


def test_default_user_and_vhost_work_over_amqp(broker: Container) -> None:
    connection = amqp(broker, "billing", PASSWORD, "shop")
    try:
        channel = connection.channel()
        channel.queue_declare("billing_queue", durable=True)
        channel.basic_publish("", "billing_queue", b"order", pika.BasicProperties(delivery_mode=2))
        channel.confirm_delivery()
    finally:
        connection.close()


def test_guest_is_not_created_when_a_default_user_is_given(broker: Container) -> None:
    with pytest.raises(pika.exceptions.ProbableAuthenticationError):
        amqp(broker, "guest", "guest", "/")


def test_management_answers_on_15672(broker: Container) -> None:
    response = requests.get(f"http://{broker.ip}:15672/api/whoami", auth=("billing", PASSWORD), timeout=10)
    assert response.status_code == 200
    assert response.json()["name"] == "billing"
    assert requests.get(f"http://{broker.ip}:15672/api/whoami", auth=("billing", "x"), timeout=10).status_code == 401


@pytest.mark.parametrize("user", ["999", "0"], ids=["as-rabbitmq", "as-root"])
def test_diagnostics_ping(broker: Container, user: str) -> None:
    assert broker.exec("rabbitmq-diagnostics", "-q", "ping", user=user).returncode == 0


def test_runs_as_uid_999(broker: Container) -> None:
    assert broker.process_uids()["beam.smp"] == {"999"}


def test_no_cookie_in_the_image_one_per_broker(built_images: str, brokers: tuple[Container, Container]) -> None:
    baked = docker("run", "--rm", "-u", "0", "--entrypoint", "find", RABBITMQ, "/", "-xdev", "-name", ".erlang.cookie")
    assert baked.stdout == ""
    generated = brokers[0].exec("cat", "/var/lib/rabbitmq/.erlang.cookie").stdout
    assert len(generated) == 64 and int(generated, 16)
    assert brokers[0].exec("stat", "-c", "%u %a", "/var/lib/rabbitmq/.erlang.cookie").stdout.split() == ["999", "400"]


def test_given_cookie_is_used(brokers: tuple[Container, Container]) -> None:
    assert brokers[1].exec("cat", "/var/lib/rabbitmq/.erlang.cookie").stdout == COOKIE
    assert "RABBITMQ_ERLANG_COOKIE" not in brokers[1].exec("cat", "/proc/1/environ").stdout


def test_guest_may_connect_remotely_by_default(brokers: tuple[Container, Container]) -> None:
    """As in the official image (loopback_users.guest = false)."""
    amqp(brokers[1], "guest", "guest", "/").close()


def test_users_and_durable_queues_survive_a_restart(broker: Container) -> None:
    docker("restart", broker.name, timeout=180)
    broker.wait_healthy(timeout=180)
    connection = amqp(broker, "billing", PASSWORD, "shop")
    try:
        declared = connection.channel().queue_declare("billing_queue", durable=True, passive=True)
        assert declared.method.message_count == 1
    finally:
        connection.close()
