"""The gateway's OpenAPI document is valid and describes exactly the routes served."""

from __future__ import annotations

import re

import requests
from api_gateway import create_app as create_gateway
from api_gateway.config import GatewaySettings
from flask import Flask
from inventory_app import create_app as create_inventory
from inventory_app.config import InventorySettings
from openapi_spec_validator import validate

from tests.apps.crud.conftest import CrudStack


def test_openapi_document_is_served_and_valid(stack: CrudStack) -> None:
    response = requests.get(stack.gateway.url + "/openapi.json", timeout=10)
    assert response.status_code == 200
    document = response.json()
    validate(document)
    assert document["info"]["version"] == "0.0.0-test"


def _routes(app: Flask, keep: str) -> set[tuple[str, str]]:
    """(path in OpenAPI spelling, method) of the app's rules whose path starts with keep."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(keep):
            path = re.sub(r"<[^>]*>", "{id}", rule.rule)
            routes |= {(path, method.lower()) for method in (rule.methods or ()) - {"HEAD", "OPTIONS"}}
    return routes


def test_the_document_lists_exactly_the_routes_served() -> None:
    # The app factories connect to nothing until a request needs it.
    gateway = create_gateway(GatewaySettings.from_env({"RABBITMQ_USER": "x", "RABBITMQ_PASSWORD": "x"}))
    inventory = create_inventory(InventorySettings.from_env({"INVENTORY_DB_USER": "x", "INVENTORY_DB_PASSWORD": "x"}))
    document = gateway.test_client().get("/openapi.json").get_json()
    documented = {
        (path, method) for path, item in document["paths"].items() for method in item if method != "parameters"
    }
    # /api/movies... is whatever inventory-app serves (the gateway forwards
    # every method and lets it answer 405); the rest is the gateway's own.
    gateway_own = {route for route in _routes(gateway, "/") if not route[0].startswith("/api/movies")}
    served = _routes(inventory, "/api/movies") | gateway_own
    assert documented == served
