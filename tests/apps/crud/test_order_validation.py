"""Unit tables: what api-gateway accepts as an order, and what billing-app accepts from the queue."""

from __future__ import annotations

import json

import pytest
from api_gateway.orders import InvalidOrderError
from api_gateway.orders import parse_order as parse_request
from billing_app.orders import InvalidMessageError, Order
from billing_app.orders import parse_order as parse_message

VALID_REQUESTS = [
    # The original audit's body: numbers as strings.
    ({"user_id": "20", "number_of_items": "99", "total_amount": "250"}, (20, 99, 250.0)),
    ({"user_id": 22, "number_of_items": 1, "total_amount": 9.99}, (22, 1, 9.99)),
    ({"user_id": " 7 ", "number_of_items": 3, "total_amount": "0.5"}, (7, 3, 0.5)),
    ({"user_id": 2**31 - 1, "number_of_items": 1, "total_amount": 0}, (2**31 - 1, 1, 0.0)),
    ({"user_id": 1, "number_of_items": 1, "total_amount": 1, "extra": "ignored"}, (1, 1, 1.0)),
]


@pytest.mark.parametrize(("payload", "expected"), VALID_REQUESTS)
def test_gateway_accepts_and_normalises(payload: dict[str, object], expected: tuple[int, int, float]) -> None:
    order = parse_request(payload)
    assert (order["user_id"], order["number_of_items"], order["total_amount"]) == expected
    assert isinstance(order["user_id"], int) and isinstance(order["total_amount"], float)


BAD_REQUESTS = {
    "not an object": ([1, 2], None),
    "null": (None, None),
    "user_id missing": ({"number_of_items": 1, "total_amount": 1}, "user_id"),
    "user_id boolean": ({"user_id": True, "number_of_items": 1, "total_amount": 1}, "user_id"),
    "user_id float": ({"user_id": 1.5, "number_of_items": 1, "total_amount": 1}, "user_id"),
    "user_id zero": ({"user_id": 0, "number_of_items": 1, "total_amount": 1}, "user_id"),
    "user_id negative text": ({"user_id": "-3", "number_of_items": 1, "total_amount": 1}, "user_id"),
    "user_id beyond integer": ({"user_id": 2**31, "number_of_items": 1, "total_amount": 1}, "user_id"),
    "user_id SQL": ({"user_id": "1; DROP TABLE orders", "number_of_items": 1, "total_amount": 1}, "user_id"),
    "items a list": ({"user_id": 1, "number_of_items": [1], "total_amount": 1}, "number_of_items"),
    "items null": ({"user_id": 1, "number_of_items": None, "total_amount": 1}, "number_of_items"),
    "amount negative": ({"user_id": 1, "number_of_items": 1, "total_amount": -1}, "total_amount"),
    "amount NaN": ({"user_id": 1, "number_of_items": 1, "total_amount": float("nan")}, "total_amount"),
    "amount infinite": ({"user_id": 1, "number_of_items": 1, "total_amount": float("inf")}, "total_amount"),
    "amount text inf": ({"user_id": 1, "number_of_items": 1, "total_amount": "inf"}, "total_amount"),
    "amount exponent": ({"user_id": 1, "number_of_items": 1, "total_amount": "1e400"}, "total_amount"),
    "amount boolean": ({"user_id": 1, "number_of_items": 1, "total_amount": False}, "total_amount"),
}


@pytest.mark.parametrize(("payload", "bad_field"), BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
def test_gateway_refuses_naming_the_field(payload: object, bad_field: str | None) -> None:
    with pytest.raises(InvalidOrderError) as refused:
        parse_request(payload)
    if bad_field is not None:
        assert bad_field in refused.value.details


def test_gateway_reports_every_bad_field_at_once() -> None:
    with pytest.raises(InvalidOrderError) as refused:
        parse_request({"user_id": "x"})
    assert set(refused.value.details) == {"user_id", "number_of_items", "total_amount"}


def test_what_the_gateway_publishes_billing_accepts() -> None:
    for payload, (user_id, items, amount) in VALID_REQUESTS:
        body = json.dumps(parse_request(payload)).encode()
        assert parse_message(body) == Order(user_id, items, amount)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"[]",
        b'{"user_id": "1", "number_of_items": 1, "total_amount": 1}',
        b'{"user_id": -2147483649, "number_of_items": 1, "total_amount": 1}',
        b'{"user_id": 1, "number_of_items": 1, "total_amount": Infinity}',
    ],
)
def test_billing_refuses_what_the_table_cannot_hold(body: bytes) -> None:
    with pytest.raises(InvalidMessageError):
        parse_message(body)
