"""Replicas and workers that start together create the schema once, without failing."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
from billing_app.orders import Order, OrderStore
from inventory_app.config import InventorySettings
from inventory_app.database import Database

from tests.apps.crud.services import OrdersDatabase
from tests.support.servers import PostgresServer

STARTING_TOGETHER = 8


def _all_at_once(action: Callable[[int], object]) -> list[BaseException]:
    barrier = threading.Barrier(STARTING_TOGETHER)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            action(index)
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(STARTING_TOGETHER)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_inventory_workers_create_the_movies_table_together(inventory_db: PostgresServer) -> None:
    with psycopg.connect(inventory_db.dsn, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS movies")
    url = InventorySettings.from_env(inventory_db.env("INVENTORY_DB_")).database_url
    databases = [Database(url) for _worker in range(STARTING_TOGETHER)]
    assert _all_at_once(lambda index: databases[index].ensure_schema()) == []
    for database in databases:
        database.engine.dispose()


def test_billing_replicas_create_their_tables_together(billing_db: PostgresServer, orders_db: OrdersDatabase) -> None:
    conninfo = billing_db.dsn
    stores = [OrderStore(conninfo) for _replica in range(STARTING_TOGETHER)]
    assert _all_at_once(lambda index: stores[index].save([(f"id-{index}", Order(index, 1, 1.0))])) == []
    assert sorted(row[0] for row in orders_db.orders()) == list(range(STARTING_TOGETHER))
    for store in stores:
        store.close()
