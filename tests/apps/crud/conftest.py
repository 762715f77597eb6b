"""Fixtures for the crud stack's tests: real PostgreSQL and RabbitMQ on loopback."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pika
import pytest
import requests
from pika.adapters.blocking_connection import BlockingChannel

from tests.apps.crud.services import (
    BILLING_DIR,
    GATEWAY_DIR,
    INVENTORY_DIR,
    OrdersDatabase,
    Service,
    billing_service,
    gateway_service,
    inventory_service,
)
from tests.support.servers import PostgresServer, RabbitMQServer

# The services are deployables, not installed packages: import them from the tree.
for path in (str(INVENTORY_DIR), str(GATEWAY_DIR), str(BILLING_DIR)):
    if path not in sys.path:
        sys.path.insert(0, path)

_queue_numbers = itertools.count(1)


def new_queue_name() -> str:
    """A queue of its own per stack, so no test sees another's messages."""
    return f"billing_queue_test{next(_queue_numbers)}"


@pytest.fixture(scope="session")
def rabbitmq() -> Iterator[RabbitMQServer]:
    with RabbitMQServer() as server:
        yield server


@pytest.fixture(scope="session")
def inventory_db() -> Iterator[PostgresServer]:
    with PostgresServer(user="inventory", dbname="movies") as server:
        yield server


@pytest.fixture(scope="session")
def billing_db() -> Iterator[PostgresServer]:
    # The database name the acceptance walk-through looks for with \l.
    with PostgresServer(user="billing", dbname="orders") as server:
        yield server


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("crud-logs")


@pytest.fixture
def orders_db(billing_db: PostgresServer) -> OrdersDatabase:
    """billing-db without the tables, as on a first deployment."""
    database = OrdersDatabase(billing_db)
    database.clear()
    return database


@pytest.fixture
def rabbitmq_channel(rabbitmq: RabbitMQServer) -> Iterator[BlockingChannel]:
    credentials = pika.PlainCredentials(rabbitmq.user, rabbitmq.password)
    connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", rabbitmq.port, credentials=credentials))
    yield connection.channel()
    if connection.is_open:
        connection.close()


@dataclass
class CrudStack:
    inventory: Service
    gateway: Service
    billing: Service
    queue: str
    sent: list[dict[str, object]] = field(default_factory=list)

    def post_order(self, user_id: object, number_of_items: object = 1, total_amount: object = 9.5) -> str:
        """POST an order through the gateway, expect 200, return its message id."""
        payload = {"user_id": user_id, "number_of_items": number_of_items, "total_amount": total_amount}
        response = requests.post(self.gateway.url + "/api/billing/", json=payload, timeout=15)
        assert response.status_code == 200, response.text
        return str(response.json()["message_id"])


class StackLauncher:
    """Starts the three services against the session's servers; stop_all() at teardown."""

    def __init__(
        self, inventory_db: PostgresServer, billing_db: PostgresServer, rabbitmq: RabbitMQServer, log_dir: Path
    ) -> None:
        self._servers = (inventory_db, billing_db, rabbitmq)
        self._log_dir = log_dir
        self._started: list[Service] = []

    def __call__(self, start_billing: bool = True, **billing_env: str) -> CrudStack:
        inventory_db, billing_db, rabbitmq = self._servers
        queue = new_queue_name()
        inventory = inventory_service(inventory_db, self._log_dir)
        gateway = gateway_service(inventory.port, rabbitmq, queue, self._log_dir)
        billing = billing_service(billing_db, rabbitmq, queue, self._log_dir, **billing_env)
        self._started += [billing, gateway, inventory]
        inventory.start()
        gateway.start()
        if start_billing:
            billing.start()
        return CrudStack(inventory, gateway, billing, queue)

    def stop_all(self) -> None:
        """Stop every service, then fail if any of them logged a stack trace."""
        for service in self._started:
            service.stop()
        # Every failure the services expect is handled and logged in one
        # line; a traceback means an unhandled error, even behind a 4xx.
        for service in self._started:
            if service.log_path.exists():
                log = service.log_path.read_text(errors="replace")
                assert "Traceback" not in log, f"{service.name} logged a traceback:\n{log[-3000:]}"


@pytest.fixture
def start_stack(
    inventory_db: PostgresServer, billing_db: PostgresServer, rabbitmq: RabbitMQServer, log_dir: Path
) -> Iterator[Callable[..., CrudStack]]:
    """A fresh stack for tests that stop, kill or restart parts of it."""
    launcher = StackLauncher(inventory_db, billing_db, rabbitmq, log_dir)
    yield launcher
    launcher.stop_all()


@pytest.fixture(scope="module")
def stack(
    inventory_db: PostgresServer, billing_db: PostgresServer, rabbitmq: RabbitMQServer, log_dir: Path
) -> Iterator[CrudStack]:
    """One stack shared by a module's tests that leave it running as they found it."""
    launcher = StackLauncher(inventory_db, billing_db, rabbitmq, log_dir)
    yield launcher()
    launcher.stop_all()
