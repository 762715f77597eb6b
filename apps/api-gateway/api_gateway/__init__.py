"""api-gateway: the public entry of the crud stack (movies proxy, billing orders)."""

import logging

import pika
import requests
from flask import Flask, Response

from api_gateway import billing, health, inventory_proxy, openapi
from api_gateway.config import GatewaySettings
from api_gateway.errors import register_error_handlers
from api_gateway.publisher import BillingPublisher

# Bodies are a movie or an order: anything larger is a mistake or an attack.
MAX_BODY_BYTES = 1024 * 1024


def rabbitmq_parameters(settings: GatewaySettings) -> pika.ConnectionParameters:
    return pika.ConnectionParameters(
        host=settings.rabbitmq_host,
        port=settings.rabbitmq_port,
        virtual_host=settings.rabbitmq_vhost,
        credentials=pika.PlainCredentials(settings.rabbitmq_user, settings.rabbitmq_password),
        connection_attempts=1,
        socket_timeout=3,
        stack_timeout=5,
        # A broker under a memory or disk alarm blocks publishers without a
        # word; after 5 s the client gives up and the order gets a 503.
        blocked_connection_timeout=5,
        client_properties={"connection_name": "api-gateway"},
    )


def _security_headers(response: Response) -> Response:
    # JSON only: nothing to load, nothing to frame.
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
    return response


def create_app(settings: GatewaySettings | None = None) -> Flask:
    settings = settings or GatewaySettings.from_env()
    # pika logs each failed connection attempt as several ERRORs with a stack
    # trace; the billing route reports the same failure in one line.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    app = Flask(__name__, static_folder=None)
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        APP_VERSION=settings.app_version,
        INVENTORY_URL=settings.inventory_url,
    )
    app.extensions["inventory_session"] = requests.Session()
    app.extensions["billing_publisher"] = BillingPublisher(rabbitmq_parameters(settings), settings.rabbitmq_queue)
    register_error_handlers(app)
    app.after_request(_security_headers)
    for blueprint in (inventory_proxy.bp, billing.bp, openapi.bp, health.bp):
        app.register_blueprint(blueprint)
    return app
