"""GET /openapi.json: the OpenAPI 3.1 description of the gateway's routes.

Every path also answers with a trailing slash (/api/movies/), as the original
project's clients use both; the document lists each path once.
"""

from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from api_gateway.orders import INT32_MAX

bp = Blueprint("openapi", __name__)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema_name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema_name)}}}


_ERRORS = {
    "400": _json("Error", "The body is not valid JSON or a field is missing or of the wrong type."),
    "503": _json("Error", "A service behind the gateway is unavailable; nothing was changed."),
}
_MOVIE_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_NOT_FOUND = {"404": _json("Error", "No movie has this id.")}
_POSITIVE_INT = {
    "oneOf": [
        {"type": "integer", "minimum": 1, "maximum": INT32_MAX},
        {"type": "string", "pattern": "^[0-9]{1,10}$"},
    ]
}


def openapi_document(version: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "orchestrator.k3s crud api-gateway",
            "version": version,
            "description": "Movies are forwarded to inventory-app; orders are queued for billing-app.",
        },
        "paths": {
            "/api/movies": {
                "get": {
                    "summary": "List movies, optionally those whose title contains a text (case-insensitive).",
                    "parameters": [{"name": "title", "in": "query", "required": False, "schema": {"type": "string"}}],
                    "responses": {"200": _json("MovieList", "The movies, by id."), "503": _ERRORS["503"]},
                },
                "post": {
                    "summary": "Add a movie.",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("NewMovie")}}},
                    "responses": {"200": _json("Movie", "The movie as stored."), **_ERRORS},
                },
                "delete": {
                    "summary": "Delete every movie.",
                    "responses": {"200": _json("Deleted", "How many movies were deleted."), "503": _ERRORS["503"]},
                },
            },
            "/api/movies/{id}": {
                "parameters": [_MOVIE_ID],
                "get": {
                    "summary": "One movie.",
                    "responses": {"200": _json("Movie", "The movie."), **_NOT_FOUND, "503": _ERRORS["503"]},
                },
                "put": {
                    "summary": "Change the title and/or the description of a movie.",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("MovieChange")}}},
                    "responses": {"200": _json("Movie", "The movie as stored."), **_NOT_FOUND, **_ERRORS},
                },
                "delete": {
                    "summary": "Delete one movie.",
                    "responses": {
                        "200": _json("Message", "The movie is deleted."),
                        **_NOT_FOUND,
                        "503": _ERRORS["503"],
                    },
                },
            },
            "/api/billing": {
                "post": {
                    "summary": "Queue an order for billing; it is stored even while billing-app is down.",
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "description": "Becomes the order's message_id: orders sent with the same key are "
                            "billed once, so a client may retry an order whose answer it did not get.",
                            "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
                        }
                    ],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("NewOrder")}}},
                    "responses": {
                        "200": _json("OrderQueued", "RabbitMQ has the order (publisher confirm)."),
                        **_ERRORS,
                    },
                },
            },
            "/healthz": {
                "get": {
                    "summary": "Readiness: inventory-app and RabbitMQ answer.",
                    "responses": {"200": _json("Health", "Ready."), "503": _json("Health", "A dependency is down.")},
                },
            },
            "/livez": {
                "get": {"summary": "Liveness: the process serves.", "responses": {"200": _json("Health", "Alive.")}},
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document.",
                    "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}},
                },
            },
        },
        "components": {
            "schemas": {
                "Movie": {
                    "type": "object",
                    "required": ["id", "title", "description"],
                    "properties": {
                        "id": {"type": "integer"},
                        "title": {"type": "string", "maxLength": 255},
                        "description": {"type": "string"},
                    },
                },
                "NewMovie": {
                    "type": "object",
                    "required": ["title"],
                    "properties": {
                        "title": {"type": "string", "minLength": 1, "maxLength": 255},
                        "description": {"type": "string", "default": ""},
                    },
                },
                "MovieChange": {
                    "type": "object",
                    "minProperties": 1,
                    "properties": {
                        "title": {"type": "string", "minLength": 1, "maxLength": 255},
                        "description": {"type": "string"},
                    },
                },
                "MovieList": {
                    "type": "object",
                    "required": ["movies"],
                    "properties": {"movies": {"type": "array", "items": _ref("Movie")}},
                },
                "Deleted": {
                    "type": "object",
                    "properties": {"message": {"type": "string"}, "deleted": {"type": "integer"}},
                },
                "NewOrder": {
                    "type": "object",
                    "required": ["user_id", "number_of_items", "total_amount"],
                    "properties": {
                        "user_id": _POSITIVE_INT,
                        "number_of_items": _POSITIVE_INT,
                        "total_amount": {
                            "oneOf": [
                                {"type": "number", "minimum": 0},
                                {"type": "string", "pattern": r"^[0-9]{1,15}(\.[0-9]{1,15})?$"},
                            ]
                        },
                    },
                },
                "OrderQueued": {
                    "type": "object",
                    "required": ["message", "message_id", "order"],
                    "properties": {
                        "message": {"type": "string"},
                        "message_id": {"type": "string", "description": "AMQP message_id; billing-app stores it once."},
                        "order": {
                            "type": "object",
                            "properties": {
                                "user_id": {"type": "integer"},
                                "number_of_items": {"type": "integer"},
                                "total_amount": {"type": "number"},
                            },
                        },
                    },
                },
                "Message": {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}},
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {"type": "string"},
                        "details": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                },
                "Health": {
                    "type": "object",
                    "required": ["status", "version"],
                    "properties": {
                        "status": {"type": "string", "enum": ["ok", "unavailable"]},
                        "version": {"type": "string"},
                        "checks": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                },
            }
        },
    }


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(openapi_document(current_app.config["APP_VERSION"]))
