"""Entry point: `python -m billing_app`."""

import functools
import logging
import signal
import threading
from types import FrameType

import pika

from billing_app.config import BillingSettings
from billing_app.consumer import BillingConsumer
from billing_app.health import start_health_server
from billing_app.orders import OrderStore, database_reachable


def rabbitmq_parameters(settings: BillingSettings) -> pika.ConnectionParameters:
    return pika.ConnectionParameters(
        host=settings.rabbitmq_host,
        port=settings.rabbitmq_port,
        virtual_host=settings.rabbitmq_vhost,
        credentials=pika.PlainCredentials(settings.rabbitmq_user, settings.rabbitmq_password),
        connection_attempts=1,
        socket_timeout=3,
        stack_timeout=5,
        client_properties={"connection_name": "billing-app"},
    )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # pika logs each failed connection attempt as several ERRORs with a stack
    # trace; the consumer reports the same failure in one line.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    settings = BillingSettings.from_env()
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    consumer = BillingConsumer(
        rabbitmq_parameters(settings),
        settings.rabbitmq_queue,
        OrderStore(settings.db_conninfo),
        batch_size=settings.batch_size,
    )
    health = start_health_server(
        settings.health_port,
        consumer.state,
        functools.partial(database_reachable, settings.db_conninfo),
        settings.app_version,
    )
    try:
        consumer.run(stop, retry_max_seconds=settings.retry_max_seconds)
    finally:
        health.shutdown()


if __name__ == "__main__":
    main()
