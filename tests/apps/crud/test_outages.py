"""A dependency down means a readable 503, and service resumes when it is back."""

from __future__ import annotations

from collections.abc import Callable

import requests

from tests.apps.crud.conftest import CrudStack
from tests.apps.crud.services import OrdersDatabase, Service, wait_until
from tests.support.servers import PostgresServer, RabbitMQServer


def _checks(service: Service) -> tuple[int, dict[str, str]]:
    response = service.health()
    body = response.json()
    assert body["version"] == "0.0.0-test"
    return response.status_code, body.get("checks", {})


def test_everything_healthy_when_everything_is_up(start_stack: Callable[..., CrudStack]) -> None:
    stack = start_stack()
    assert _checks(stack.inventory) == (200, {"database": "ok"})
    assert _checks(stack.gateway) == (200, {"inventory": "ok", "rabbitmq": "ok"})
    wait_until(lambda: stack.billing.health().status_code == 200, 10, "billing-app connected")
    assert _checks(stack.billing) == (200, {"database": "ok", "rabbitmq": "ok"})


def test_inventory_db_down_is_503_direct_and_through_the_gateway(
    start_stack: Callable[..., CrudStack], inventory_db: PostgresServer
) -> None:
    stack = start_stack(start_billing=False)
    urls = [stack.inventory.url + "/api/movies/", stack.gateway.url + "/api/movies/"]
    assert all(requests.get(url, timeout=10).status_code == 200 for url in urls)
    inventory_db.stop()
    try:
        for url in urls:
            for method in ("GET", "POST", "DELETE"):
                response = requests.request(method, url, json={"title": "x"}, timeout=15)
                assert response.status_code == 503
                assert "unavailable" in response.json()["error"]
        assert _checks(stack.inventory) == (503, {"database": "unavailable"})
        assert _checks(stack.gateway) == (503, {"inventory": "unavailable", "rabbitmq": "ok"})
        # What the probes ask (/livez) stays 200: both stay in their Services
        # and keep giving the 503 above, instead of refusing connections.
        assert requests.get(stack.inventory.url + "/livez", timeout=5).status_code == 200
        assert requests.get(stack.gateway.url + "/livez", timeout=5).status_code == 200
    finally:
        inventory_db.start()
    # The pool's dead connections are replaced: the first request after works.
    assert all(requests.get(url, timeout=10).status_code == 200 for url in urls)
    assert _checks(stack.gateway)[0] == 200


def test_inventory_app_down_is_503_at_the_gateway(start_stack: Callable[..., CrudStack]) -> None:
    stack = start_stack(start_billing=False)
    stack.inventory.stop()
    response = requests.get(stack.gateway.url + "/api/movies", timeout=10)
    assert response.status_code == 503
    assert response.json() == {"error": "the inventory service is unavailable, try again later"}
    assert _checks(stack.gateway) == (503, {"inventory": "unavailable", "rabbitmq": "ok"})
    stack.inventory.start()
    assert requests.get(stack.gateway.url + "/api/movies", timeout=10).status_code == 200


def test_rabbitmq_restart_loses_no_order_and_everyone_reconnects(
    start_stack: Callable[..., CrudStack],
    orders_db: OrdersDatabase,
    billing_db: PostgresServer,
    rabbitmq: RabbitMQServer,
) -> None:
    stack = start_stack()
    stack.post_order(1)
    wait_until(orders_db.orders, 20, "order 1 stored")

    # Order 2 is held unacknowledged by billing-app (its database is down) when
    # RabbitMQ restarts: only a persistent message on a durable queue survives.
    billing_db.stop()
    try:
        stack.post_order(2)
        rabbitmq.stop()
        try:
            response = requests.post(
                stack.gateway.url + "/api/billing",
                json={"user_id": 3, "number_of_items": 1, "total_amount": 1},
                timeout=30,
            )
            assert response.status_code == 503
            assert "billing queue is unavailable" in response.json()["error"]
            assert _checks(stack.gateway) == (503, {"inventory": "ok", "rabbitmq": "unavailable"})
            assert requests.get(stack.gateway.url + "/livez", timeout=5).status_code == 200
            wait_until(
                lambda: stack.billing.health().json()["checks"]["rabbitmq"] == "unavailable",
                20,
                "billing-app noticing RabbitMQ is gone",
            )
        finally:
            rabbitmq.start()
    finally:
        billing_db.start()
    stack.post_order(4)
    wait_until(lambda: len(orders_db.orders()) >= 3, 60, "orders 2 and 4 stored")
    wait_until(lambda: stack.billing.health().status_code == 200, 20, "billing-app reconnected")
    assert sorted(row[0] for row in orders_db.orders()) == [1, 2, 4]
