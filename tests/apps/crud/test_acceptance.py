"""The crud stack's acceptance walk-through of the original project's audit, at process level.

Step 3 scales billing-app to 0 (here: stops its process), step 4 reads the
orders database with psql, step 5 starts billing-app again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import requests

from tests.apps.crud.conftest import CrudStack
from tests.apps.crud.services import OrdersDatabase, wait_until
from tests.support.servers import PostgresServer

# The audit's bodies, numbers as strings.
ORDER_20 = {"user_id": "20", "number_of_items": "99", "total_amount": "250"}
ORDER_22 = {"user_id": "22", "number_of_items": "10", "total_amount": "50"}


def test_acceptance_walk_through(
    start_stack: Callable[..., CrudStack], orders_db: OrdersDatabase, billing_db: PostgresServer
) -> None:
    stack = start_stack()
    gateway = stack.gateway.url

    # 1. A movie through the gateway, then the list.
    created = requests.post(
        gateway + "/api/movies/", json={"title": "A new movie", "description": "Very short description"}, timeout=10
    )
    assert created.status_code == 200
    listed = requests.get(gateway + "/api/movies/", timeout=10)
    assert listed.status_code == 200
    assert created.json() in listed.json()["movies"]

    # 2. An order for user 20.
    assert requests.post(gateway + "/api/billing/", json=ORDER_20, timeout=10).status_code == 200
    wait_until(orders_db.orders, 20, "user 20's order in billing-db")

    # 3. billing-app stopped; the order for user 22 is still taken.
    stack.billing.stop()
    assert requests.post(gateway + "/api/billing/", json=ORDER_22, timeout=10).status_code == 200

    # 4. psql: a database named orders, holding user 20 and not 22.
    databases = [line.split("|")[0] for line in billing_db.psql(r"\l", dbname="postgres").splitlines()]
    assert "orders" in databases
    table = billing_db.psql("TABLE orders;")
    assert table.splitlines() == ["1|20|99|250"]

    # 5. billing-app back: user 22 appears, once.
    stack.billing.start()
    wait_until(lambda: len(orders_db.orders()) == 2, 30, "user 22's order in billing-db")
    time.sleep(1)  # a duplicate would arrive right behind it
    assert [row[0] for row in orders_db.orders()] == [20, 22]
    assert billing_db.psql("SELECT user_id FROM orders WHERE user_id = 22").splitlines() == ["22"]
