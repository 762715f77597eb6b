"""/livez answers while the process serves; /healthz also needs the database."""

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

bp = Blueprint("health", __name__)


@bp.get("/livez")
def livez() -> Response:
    return jsonify(status="ok", version=current_app.config["APP_VERSION"])


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    try:
        current_app.extensions["inventory_db"].ping()
        database = "ok"
    except SQLAlchemyError:
        database = "unavailable"
    healthy = database == "ok"
    body = jsonify(
        status="ok" if healthy else "unavailable",
        version=current_app.config["APP_VERSION"],
        checks={"database": database},
    )
    return body, 200 if healthy else 503
