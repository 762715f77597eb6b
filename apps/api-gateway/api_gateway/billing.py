"""POST /api/billing: validate an order and hand it to billing-app through RabbitMQ."""

import json
import uuid

from flask import Blueprint, Response, current_app, jsonify, request

from api_gateway.orders import InvalidOrderError, parse_order
from api_gateway.publisher import BillingPublisher, PublishError

bp = Blueprint("billing", __name__)


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
    message_id = uuid.uuid4().hex
    publisher: BillingPublisher = current_app.extensions["billing_publisher"]
    try:
        publisher.publish(json.dumps(order).encode(), message_id)
    except PublishError as exc:
        current_app.logger.warning("order not queued: %s", exc)
        return jsonify(error="the billing queue is unavailable, the order was not taken; try again later"), 503
    return jsonify(message="order queued for billing", message_id=message_id, order=order), 200
