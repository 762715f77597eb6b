"""billing-app as a process: poison messages neither stall the queue nor vanish,
and /healthz counts them."""

from __future__ import annotations

from collections.abc import Callable

import pika
from pika.adapters.blocking_connection import BlockingChannel

from tests.apps.crud.conftest import CrudStack
from tests.apps.crud.services import OrdersDatabase, wait_until

POISON: list[tuple[bytes, str | None]] = [
    (b'{"user_id": 1, "number_of_items": 1, "total_amount": 1}', None),  # no message id
    (b'{"user_id": 1, "number_of_items": 1, "total_amount": 1}', "nul\x00id"),
    (b"\xff\xfe not UTF-8", "poison-3"),
    (b"not json", "poison-4"),
]


def test_poison_is_dead_lettered_and_counted_while_orders_flow(
    start_stack: Callable[..., CrudStack], orders_db: OrdersDatabase, rabbitmq_channel: BlockingChannel
) -> None:
    stack = start_stack()
    stack.post_order(1)
    wait_until(orders_db.orders, 20, "the first order stored")
    for body, message_id in POISON:
        properties = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent, message_id=message_id)
        rabbitmq_channel.basic_publish(exchange="", routing_key=stack.queue, body=body, properties=properties)
    stack.post_order(2)
    wait_until(lambda: len(orders_db.orders()) == 2, 20, "the order behind the poison stored")
    health = stack.billing.health()
    assert health.status_code == 200
    assert health.json()["dead_letters"] == len(POISON)
    assert rabbitmq_channel.queue_declare(stack.queue + ".invalid", passive=True).method.message_count == len(POISON)
    assert sorted(row[0] for row in orders_db.orders()) == [1, 2]
    # A restarted billing-app still reports them: the count is the queue's.
    stack.billing.stop()
    stack.billing.start()

    def counted() -> bool:
        return stack.billing.health().json().get("dead_letters") == len(POISON)

    wait_until(counted, 20, "the count after a restart")
