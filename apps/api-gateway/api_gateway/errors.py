"""Every error leaves the gateway as JSON with a readable message, never a stack trace."""

import json

from flask import Flask, Response, current_app
from werkzeug.exceptions import HTTPException


def _http_error(exc: HTTPException) -> Response:
    # get_response keeps the headers werkzeug adds, e.g. Allow on a 405.
    response = exc.get_response()
    response.set_data(json.dumps({"error": exc.description}))
    response.mimetype = "application/json"
    return response


def _unexpected(exc: Exception) -> Response:
    current_app.logger.exception("unhandled error")
    return Response(json.dumps({"error": "internal error"}), status=500, mimetype="application/json")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
