"""Validation of a billing order as clients send it.

Clients (the original project's audit among them) send numbers as JSON
numbers or as decimal strings ("20"); both are accepted and normalised to
numbers before publishing, so billing-app receives one typed shape.  The
bounds are those of the orders table (PostgreSQL integer, finite float): a
value it cannot store is refused here, at the door, rather than becoming a
message billing-app can never save.
"""

import math
import re
from typing import Any

INT32_MAX = 2**31 - 1
_INTEGER_TEXT = re.compile(r"[0-9]{1,10}")
_DECIMAL_TEXT = re.compile(r"[0-9]{1,15}(\.[0-9]{1,15})?")


class InvalidOrderError(ValueError):
    """The order is refused; details maps each bad field to the reason."""

    def __init__(self, message: str, details: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


def _integer(value: Any, minimum: int) -> int | None:
    # bool is an int subclass: true must not become user 1.
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        return None
    return number if minimum <= number <= INT32_MAX else None


def _amount(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value.strip()):
        number = float(value.strip())
    else:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def parse_order(payload: Any) -> dict[str, int | float]:
    """Return the normalised order, or raise InvalidOrderError naming every bad field."""
    if not isinstance(payload, dict):
        raise InvalidOrderError("the request body must be a JSON object")
    checks = {
        "user_id": (lambda v: _integer(v, minimum=1), f"must be an integer from 1 to {INT32_MAX}"),
        "number_of_items": (lambda v: _integer(v, minimum=1), f"must be an integer from 1 to {INT32_MAX}"),
        "total_amount": (_amount, "must be a finite number >= 0"),
    }
    order: dict[str, int | float] = {}
    details: dict[str, str] = {}
    for field, (convert, reason) in checks.items():
        if field not in payload:
            details[field] = "is required"
            continue
        value = convert(payload[field])
        if value is None:
            details[field] = reason
        else:
            order[field] = value
    if details:
        raise InvalidOrderError("invalid order", details)
    return order
