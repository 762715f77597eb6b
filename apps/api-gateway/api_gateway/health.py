"""/livez answers while the process serves; /healthz also needs inventory-app and RabbitMQ."""

import requests
from flask import Blueprint, Response, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.get("/livez")
def livez() -> Response:
    return jsonify(status="ok", version=current_app.config["APP_VERSION"])


def _inventory_state() -> str:
    session: requests.Session = current_app.extensions["inventory_session"]
    try:
        response = session.get(current_app.config["INVENTORY_URL"] + "/healthz", timeout=(2.0, 3.0))
    except requests.RequestException:
        return "unavailable"
    return "ok" if response.status_code == 200 else "unavailable"


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    checks = {
        "inventory": _inventory_state(),
        "rabbitmq": "ok" if current_app.extensions["billing_publisher"].check() else "unavailable",
    }
    healthy = all(state == "ok" for state in checks.values())
    body = jsonify(status="ok" if healthy else "unavailable", version=current_app.config["APP_VERSION"], checks=checks)
    return body, 200 if healthy else 503
