"""No order doubled by a retry: Idempotency-Key becomes the message id, and a
publish whose confirm was lost is answered as "may have been taken"."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.apps.crud.conftest import CrudStack, new_queue_name
from tests.apps.crud.cutting_proxy import CuttingProxy
from tests.apps.crud.services import (
    OrdersDatabase,
    Service,
    billing_service,
    gateway_service,
    inventory_service,
    wait_until,
)
from tests.support.servers import PostgresServer, RabbitMQServer


def order(user_id: int) -> dict[str, object]:
    return {"user_id": user_id, "number_of_items": 3, "total_amount": 12.5}


def post(gateway: Service, body: dict[str, object], key: str | None = None) -> requests.Response:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return requests.post(gateway.url + "/api/billing/", json=body, headers=headers, timeout=30)


def test_the_same_idempotency_key_is_billed_once(stack: CrudStack, orders_db: OrdersDatabase) -> None:
    answers = [post(stack.gateway, order(31), key="order-31-from-the-shop") for _attempt in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert {a.json()["message_id"] for a in answers} == {"order-31-from-the-shop"}
    wait_until(orders_db.orders, 20, "the order stored")
    post(stack.gateway, order(32))  # behind it in the queue: once stored, the duplicates were settled
    wait_until(lambda: len(orders_db.orders()) == 2, 20, "the next order stored")
    assert Counter(row[0] for row in orders_db.orders()) == {31: 1, 32: 1}


@pytest.mark.parametrize("key", ["", "has space", "é-accent", "x" * 256, "tab\there"])
def test_a_bad_idempotency_key_is_400_and_nothing_is_queued(stack: CrudStack, key: str) -> None:
    answer = post(stack.gateway, order(33), key=key)
    assert answer.status_code == 400
    assert "Idempotency-Key" in answer.json()["details"]


@pytest.fixture
def gateway_behind_a_cutting_proxy(
    inventory_db: PostgresServer,
    billing_db: PostgresServer,
    rabbitmq: RabbitMQServer,
    orders_db: OrdersDatabase,
    log_dir: Path,
) -> Iterator[tuple[Service, CuttingProxy]]:
    queue = new_queue_name()
    inventory = inventory_service(inventory_db, log_dir)
    gateway = gateway_service(inventory.port, rabbitmq, queue, log_dir)
    billing = billing_service(billing_db, rabbitmq, queue, log_dir)
    with CuttingProxy(rabbitmq.port) as proxy:
        gateway.env["RABBITMQ_PORT"] = str(proxy.port)
        gateway.env["GUNICORN_WORKERS"] = "1"  # one connection to cut
        services = [inventory.start(), gateway.start(), billing.start()]
        try:
            yield gateway, proxy
        finally:
            for service in services:
                service.stop()


def test_a_lost_confirm_is_answered_may_have_been_taken_and_a_retry_with_its_key_bills_once(
    gateway_behind_a_cutting_proxy: tuple[Service, CuttingProxy], orders_db: OrdersDatabase
) -> None:
    gateway, proxy = gateway_behind_a_cutting_proxy
    assert post(gateway, order(40)).status_code == 200  # the connection is open
    # The publish reaches RabbitMQ, the confirm is lost, and RabbitMQ stays
    # out of reach for the gateway's reconnection.
    proxy.arm(json.dumps(order(41)).encode())
    proxy.refusing = True
    answer = post(gateway, order(41))
    assert proxy.cuts == 1
    assert answer.status_code == 503
    body = answer.json()
    assert body["order_taken"] == "unknown"
    assert "may have been taken" in body["error"]
    assert body["message_id"] in body["error"]
    # RabbitMQ did take it: billing-app stores it.
    wait_until(lambda: 41 in [row[0] for row in orders_db.orders()], 20, "the order in doubt stored")

    # The client does as told: the same order, with the key the answer gave.
    proxy.refusing = False
    retry = post(gateway, order(41), key=body["message_id"])
    assert retry.status_code == 200
    post(gateway, order(42))
    wait_until(lambda: 42 in [row[0] for row in orders_db.orders()], 20, "the order behind the retry stored")
    assert Counter(row[0] for row in orders_db.orders()) == {40: 1, 41: 1, 42: 1}


def test_a_confirm_lost_once_is_retried_by_the_gateway_and_billed_once(
    gateway_behind_a_cutting_proxy: tuple[Service, CuttingProxy], orders_db: OrdersDatabase
) -> None:
    gateway, proxy = gateway_behind_a_cutting_proxy
    assert post(gateway, order(50)).status_code == 200
    proxy.arm(json.dumps(order(51)).encode())
    answer = post(gateway, order(51))
    assert proxy.cuts == 1
    assert answer.status_code == 200  # the gateway reconnected and published again, same message id
    post(gateway, order(52))
    wait_until(lambda: 52 in [row[0] for row in orders_db.orders()], 20, "the last order stored")
    assert Counter(row[0] for row in orders_db.orders()) == {50: 1, 51: 1, 52: 1}


def test_rabbitmq_unreachable_before_any_publish_says_not_taken(
    gateway_behind_a_cutting_proxy: tuple[Service, CuttingProxy],
) -> None:
    gateway, proxy = gateway_behind_a_cutting_proxy
    proxy.refusing = True
    proxy.drop_connections()
    answer = post(gateway, order(60))
    assert answer.status_code == 503
    assert answer.json()["order_taken"] == "no"
    assert "not taken" in answer.json()["error"]
