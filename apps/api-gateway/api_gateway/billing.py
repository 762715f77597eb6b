"""POST /api/billing: validate an order and hand it to billing-app through RabbitMQ."""

import json
import re
import uuid

from flask import Blueprint, Response, current_app, jsonify, request

from api_gateway.orders import InvalidOrderError, parse_order
from api_gateway.publisher import BillingPublisher, PublishError, PublishUncertainError

bp = Blueprint("billing", __name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
# Visible ASCII, as long as billing-app's message ids (and an AMQP shortstr) allow.
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


@bp.post("/api/billing", strict_slashes=False)
def create_order() -> tuple[Response, int]:
    try:
        payload = request.get_json(force=True, silent=True)
    except RecursionError:
        # Deeply nested arrays exhaust the decoder before silent=True applies.
        payload = None
    try:
        order = parse_order(payload)
    except InvalidOrderError as exc:
        return jsonify(error=str(exc), details=exc.details), 400
    # The id travels as the AMQP message_id: billing-app stores each id once,
    # so a redelivered or re-published message never becomes a second order.
    # A client that sends Idempotency-Key chooses the id, and can then retry
    # an order whose answer it never saw without billing it twice.
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
        details = {IDEMPOTENCY_HEADER: "must be 1 to 255 visible ASCII characters"}
        return jsonify(error="invalid Idempotency-Key header", details=details), 400
    message_id = key or uuid.uuid4().hex
    publisher: BillingPublisher = current_app.extensions["billing_publisher"]
    try:
        publisher.publish(json.dumps(order).encode(), message_id)
    except PublishUncertainError as exc:
        current_app.logger.warning("order %s in doubt: %s", message_id, exc)
        error = (
            "the billing queue did not confirm the order: it may have been taken. Retry with the header "
            f"{IDEMPOTENCY_HEADER}: {message_id} and it will be billed at most once"
        )
        return _unavailable(error, message_id, "unknown")
    except PublishError as exc:
        current_app.logger.warning("order not queued: %s", exc)
        return _unavailable(
            "the billing queue is unavailable, the order was not taken; try again later", message_id, "no"
        )
    return jsonify(message="order queued for billing", message_id=message_id, order=order), 200


def _unavailable(error: str, message_id: str, taken: str) -> tuple[Response, int]:
    response = jsonify(error=error, message_id=message_id, order_taken=taken)
    response.headers["Retry-After"] = "5"
    return response, 503
