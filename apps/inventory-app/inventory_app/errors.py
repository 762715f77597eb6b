"""Every error leaves the service as JSON with a readable message, never a stack trace."""

import json

from flask import Flask, Response, current_app
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException


def _json_error(status: int, message: str) -> Response:
    return Response(json.dumps({"error": message}), status=status, mimetype="application/json")


def _http_error(exc: HTTPException) -> Response:
    # get_response keeps the headers werkzeug adds, e.g. Allow on a 405.
    response = exc.get_response()
    response.set_data(json.dumps({"error": exc.description}))
    response.mimetype = "application/json"
    return response


def _database_unavailable(exc: Exception) -> Response:
    # The first line names the cause; the rest is SQLAlchemy's boilerplate.
    current_app.logger.warning("database unavailable: %s", str(exc).splitlines()[0])
    return _json_error(503, "the movies database is unavailable, try again later")


def _gone_meanwhile(exc: StaleDataError) -> Response:
    # The row was there when read and gone when written: a DELETE committed
    # in between (a PUT racing a DELETE).  For the client it is absent.
    current_app.logger.info("movie deleted while being changed: %s", exc)
    return _json_error(404, "movie not found (deleted meanwhile)")


def _unexpected(exc: Exception) -> Response:
    current_app.logger.exception("unhandled error")
    return _json_error(500, "internal error")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(OperationalError, _database_unavailable)
    app.register_error_handler(InterfaceError, _database_unavailable)
    app.register_error_handler(StaleDataError, _gone_meanwhile)
    app.register_error_handler(Exception, _unexpected)
