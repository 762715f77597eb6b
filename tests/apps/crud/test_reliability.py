"""No order is lost or stored twice: billing-db down, billing-app killed mid-stream."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

from pika.adapters.blocking_connection import BlockingChannel

from tests.apps.crud.conftest import CrudStack
from tests.apps.crud.services import OrdersDatabase, wait_until
from tests.support.servers import PostgresServer


def assert_settled_once(
    stack: CrudStack, channel: BlockingChannel, orders_db: OrdersDatabase, user_ids: list[int], message_ids: list[str]
) -> None:
    """Every order sent is a row exactly once, and nothing is left in RabbitMQ."""
    wait_until(lambda: len(orders_db.orders()) >= len(user_ids), 60, f"{len(user_ids)} orders stored")
    # A graceful stop returns anything unacknowledged to the queue, where it would show.
    stack.billing.stop()
    assert channel.queue_declare(queue=stack.queue, passive=True).method.message_count == 0
    assert Counter(row[0] for row in orders_db.orders()) == Counter(user_ids), "orders lost or stored twice"
    assert sorted(orders_db.message_ids()) == sorted(message_ids)


def test_orders_taken_while_billing_db_is_down_are_all_stored_once(
    start_stack: Callable[..., CrudStack],
    orders_db: OrdersDatabase,
    billing_db: PostgresServer,
    rabbitmq_channel: BlockingChannel,
) -> None:
    stack = start_stack()
    message_ids = [stack.post_order(1)]
    wait_until(orders_db.orders, 20, "the first order stored")

    billing_db.stop()
    try:
        message_ids += [stack.post_order(user_id) for user_id in range(2, 102)]
        health = stack.billing.health()
        assert health.status_code == 503
        assert health.json()["checks"]["database"] == "unavailable"
        time.sleep(1)  # billing-app retries meanwhile, and must hold on to the orders
    finally:
        billing_db.start()
    wait_until(lambda: stack.billing.health().status_code == 200, 20, "billing-app healthy again")
    assert_settled_once(stack, rabbitmq_channel, orders_db, list(range(1, 102)), message_ids)


def test_kill_9_of_billing_app_mid_stream_loses_and_duplicates_nothing(
    start_stack: Callable[..., CrudStack], orders_db: OrdersDatabase, rabbitmq_channel: BlockingChannel
) -> None:
    # Small batches, so that kills also land between a commit and its ack.
    stack = start_stack(BILLING_BATCH_SIZE="5")
    total = 400
    message_ids: list[str] = []

    def send() -> None:
        for user_id in range(1, total + 1):
            message_ids.append(stack.post_order(user_id))

    sender = threading.Thread(target=send)
    sender.start()
    try:
        for stored in (40, 160, 280):
            wait_until(lambda n=stored: len(orders_db.orders()) >= n, 60, f"{stored} orders stored")
            stack.billing.kill()
            stack.billing.start()
    finally:
        sender.join(timeout=120)
    assert len(message_ids) == total, "the gateway refused orders"
    assert_settled_once(stack, rabbitmq_channel, orders_db, list(range(1, total + 1)), message_ids)
