"""Bad inputs through the gateway get a 4xx with a JSON message: never a 500, never a crash."""

from __future__ import annotations

import json

import pytest
import requests

from tests.apps.crud.conftest import CrudStack
from tests.apps.crud.services import OrdersDatabase, wait_until

GOOD_ORDER = {"user_id": 1, "number_of_items": 2, "total_amount": 3.5}

BAD_ORDERS = {
    "no body": b"",
    "malformed JSON": b'{"user_id": 1,',
    "form data": b"user_id=1&number_of_items=2&total_amount=3",
    "JSON array": json.dumps([GOOD_ORDER]).encode(),
    "JSON null": b"null",
    "invalid UTF-8": b'{"user_id": "\xff"}',
    "user_id missing": json.dumps({"number_of_items": 1, "total_amount": 1}).encode(),
    "user_id text": json.dumps({**GOOD_ORDER, "user_id": "twenty"}).encode(),
    "user_id boolean": json.dumps({**GOOD_ORDER, "user_id": True}).encode(),
    "user_id object": json.dumps({**GOOD_ORDER, "user_id": {"$gt": 0}}).encode(),
    "user_id SQL": json.dumps({**GOOD_ORDER, "user_id": "1); DELETE FROM orders; --"}).encode(),
    "user_id beyond integer": json.dumps({**GOOD_ORDER, "user_id": 2**63}).encode(),
    "items negative": json.dumps({**GOOD_ORDER, "number_of_items": -1}).encode(),
    "amount NaN": b'{"user_id": 1, "number_of_items": 1, "total_amount": NaN}',
    "amount huge exponent": b'{"user_id": 1, "number_of_items": 1, "total_amount": 1e999}',
    "deeply nested": b"[" * 100_000,
}


@pytest.mark.parametrize("body", BAD_ORDERS.values(), ids=BAD_ORDERS.keys())
def test_bad_order_is_400_and_nothing_is_queued(stack: CrudStack, orders_db: OrdersDatabase, body: bytes) -> None:
    response = requests.post(
        stack.gateway.url + "/api/billing/", data=body, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]
    # A good order sent after it is the first one stored: the bad one was never queued.
    stack.post_order(**GOOD_ORDER)
    wait_until(orders_db.orders, 20, "the good order stored")
    assert orders_db.orders() == [(1, 2, 3.5)]


def test_bad_order_names_each_bad_field(stack: CrudStack) -> None:
    response = requests.post(stack.gateway.url + "/api/billing", json={"user_id": "x", "total_amount": -1}, timeout=10)
    assert response.status_code == 400
    assert set(response.json()["details"]) == {"user_id", "number_of_items", "total_amount"}


HUGE = 2 * 1024 * 1024


@pytest.mark.parametrize("path", ["/api/billing", "/api/movies"])
def test_huge_body_is_413(stack: CrudStack, path: str) -> None:
    body = b'{"title": "' + b"x" * HUGE + b'", "user_id": 1}'
    response = requests.post(stack.gateway.url + path, data=body, timeout=30)
    assert response.status_code == 413
    assert response.json()["error"]


UNKNOWN = ["/", "/api", "/api/movie", "/api/billings", "/admin", "/api/billing/1", "/.env", "/api/movies/1/x"]


@pytest.mark.parametrize("path", UNKNOWN)
def test_unknown_route_is_404_json(stack: CrudStack, path: str) -> None:
    response = requests.get(stack.gateway.url + path, timeout=10)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/billing"),
        ("PUT", "/api/billing/"),
        ("DELETE", "/api/billing"),
        ("POST", "/openapi.json"),
        ("POST", "/healthz"),
        ("PATCH", "/api/movies"),
        ("POST", "/api/movies/1"),
    ],
)
def test_wrong_method_is_405(stack: CrudStack, method: str, path: str) -> None:
    response = requests.request(method, stack.gateway.url + path, json=GOOD_ORDER, timeout=10)
    assert response.status_code == 405
    assert response.headers.get("Allow")


@pytest.mark.parametrize("path", ["/api/movies/../../livez", "/api/movies/%2e%2e/%2e%2e/healthz", "/api/movies/./1"])
def test_the_proxy_does_not_leave_api_movies(stack: CrudStack, path: str) -> None:
    # requests would resolve "..": the path goes out as written.
    prepared = requests.Request("GET", stack.gateway.url).prepare()
    prepared.url = stack.gateway.url + path
    assert requests.Session().send(prepared, timeout=10).status_code == 404


def test_a_very_long_url_is_refused(stack: CrudStack) -> None:
    response = requests.get(stack.gateway.url + "/api/movies?title=" + "x" * 10_000, timeout=10)
    assert 400 <= response.status_code < 500
