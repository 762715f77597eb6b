"""billing-app's consumer, one consume_once() at a time, on real RabbitMQ and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pika
import pytest
from billing_app.__main__ import rabbitmq_parameters
from billing_app.config import BillingSettings
from billing_app.consumer import BillingConsumer
from billing_app.orders import DatabaseUnavailableError, Order, OrderStore
from pika.adapters.blocking_connection import BlockingChannel

from tests.apps.crud.conftest import new_queue_name
from tests.apps.crud.services import OrdersDatabase
from tests.support.servers import PostgresServer, RabbitMQServer


@pytest.fixture
def settings(billing_db: PostgresServer, rabbitmq: RabbitMQServer) -> BillingSettings:
    env = {**billing_db.env("BILLING_DB_"), **rabbitmq.env(), "RABBITMQ_QUEUE": new_queue_name()}
    return BillingSettings.from_env(env)


@pytest.fixture
def consumer(settings: BillingSettings, orders_db: OrdersDatabase) -> Iterator[BillingConsumer]:
    consumer = BillingConsumer(
        rabbitmq_parameters(settings), settings.rabbitmq_queue, OrderStore(settings.db_conninfo), batch_size=10
    )
    consumer.connect()
    yield consumer
    consumer.close()


def publish(channel: BlockingChannel, queue: str, body: object, message_id: str | None = None) -> str | None:
    channel.queue_declare(queue=queue, durable=True)
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    properties = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent, message_id=message_id)
    channel.basic_publish(exchange="", routing_key=queue, body=raw, properties=properties)
    return message_id


def waiting(channel: BlockingChannel, queue: str) -> int:
    """Messages ready in queue (not counting those a consumer holds unacknowledged)."""
    return channel.queue_declare(queue=queue, passive=True).method.message_count


def order(user_id: int) -> dict[str, object]:
    return {"user_id": user_id, "number_of_items": 2, "total_amount": 19.99}


def test_a_message_becomes_one_row_and_is_acknowledged(
    consumer: BillingConsumer, orders_db: OrdersDatabase, rabbitmq_channel: BlockingChannel
) -> None:
    publish(rabbitmq_channel, consumer.queue, order(20), uuid.uuid4().hex)
    assert consumer.consume_once(wait=5) == 1
    assert orders_db.orders() == [(20, 2, 19.99)]
    consumer.close()  # unacknowledged messages would return to the queue now
    assert waiting(rabbitmq_channel, consumer.queue) == 0


def test_consume_once_returns_0_when_the_queue_is_empty(consumer: BillingConsumer, orders_db: OrdersDatabase) -> None:
    assert consumer.consume_once(wait=0.2) == 0
    assert orders_db.orders() == []


def test_a_burst_is_stored_in_batches(
    consumer: BillingConsumer, orders_db: OrdersDatabase, rabbitmq_channel: BlockingChannel
) -> None:
    for user_id in range(25):
        publish(rabbitmq_channel, consumer.queue, order(user_id), uuid.uuid4().hex)
    settled = 0
    while settled < 25:
        batch = consumer.consume_once(wait=5)
        assert 0 < batch <= 10  # batch_size of the fixture
        settled += batch
    assert sorted(row[0] for row in orders_db.orders()) == list(range(25))


def test_a_redelivered_message_does_not_create_a_second_row(
    consumer: BillingConsumer, settings: BillingSettings, orders_db: OrdersDatabase, rabbitmq_channel: BlockingChannel
) -> None:
    # As if an earlier consumer committed this message and died before its ack.
    message_id = uuid.uuid4().hex
    earlier = OrderStore(settings.db_conninfo)
    assert earlier.save([(message_id, Order(20, 2, 19.99))]) == 1
    earlier.close()
    publish(rabbitmq_channel, consumer.queue, order(20), message_id)
    publish(rabbitmq_channel, consumer.queue, order(20), message_id)
    settled = consumer.consume_once(wait=5)
    settled += consumer.consume_once(wait=0.5)
    assert settled == 2
    assert orders_db.orders() == [(20, 2, 19.99)]
    assert orders_db.message_ids() == [message_id]
    consumer.close()
    assert waiting(rabbitmq_channel, consumer.queue) == 0


def settle(consumer: BillingConsumer, count: int) -> None:
    settled = 0
    for _attempt in range(5):
        settled += consumer.consume_once(wait=2)
        if settled >= count:
            break
    assert settled == count


def parked_messages(channel: BlockingChannel, queue: str) -> list[tuple[pika.BasicProperties, bytes]]:
    parked = []
    while True:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            return parked
        parked.append((properties, body))


# Message ids a redelivery could not be recognised by, or billing-db cannot hold.
BAD_MESSAGE_IDS = {"no id": None, "NUL in the id": "id\x00nul", "not UTF-8": b"\xff\xfe-id"}


@pytest.mark.parametrize("message_id", BAD_MESSAGE_IDS.values(), ids=BAD_MESSAGE_IDS.keys())
def test_a_message_whose_id_cannot_dedup_goes_to_the_dead_letter_queue(
    consumer: BillingConsumer, orders_db: OrdersDatabase, rabbitmq_channel: BlockingChannel, message_id: object
) -> None:
    publish(rabbitmq_channel, consumer.queue, order(7), message_id)  # type: ignore[arg-type]
    publish(rabbitmq_channel, consumer.queue, order(8), "good-8")
    settle(consumer, 2)
    assert orders_db.orders() == [(8, 2, 19.99)]
    [(properties, body)] = parked_messages(rabbitmq_channel, consumer.invalid_queue)
    assert json.loads(body) == order(7)
    assert "message_id" in properties.headers["x-invalid-reason"]
    assert consumer.state.dead_letters == 1
    consumer.close()
    assert waiting(rabbitmq_channel, consumer.queue) == 0


def test_an_order_billing_db_refuses_is_dead_lettered_alone_not_retried_forever(
    consumer: BillingConsumer, orders_db: OrdersDatabase, rabbitmq_channel: BlockingChannel, billing_db: PostgresServer
) -> None:
    publish(rabbitmq_channel, consumer.queue, order(1), "m-1")
    settle(consumer, 1)  # the tables exist
    # A rule of this database billing-app cannot know in advance.
    billing_db.psql("ALTER TABLE orders ADD CONSTRAINT no_666 CHECK (user_id <> 666)")
    for user_id in (2, 666, 3):
        publish(rabbitmq_channel, consumer.queue, order(user_id), f"m-{user_id}")
    settle(consumer, 3)
    assert sorted(row[0] for row in orders_db.orders()) == [1, 2, 3]
    [(properties, _body)] = parked_messages(rabbitmq_channel, consumer.invalid_queue)
    assert properties.message_id == "m-666"
    assert "refused by billing-db" in properties.headers["x-invalid-reason"]
    consumer.close()
    assert waiting(rabbitmq_channel, consumer.queue) == 0


INVALID_MESSAGES = {
    "not JSON": b"user_id=1",
    "not UTF-8": b"\xff\xfe",
    "a JSON list": b"[1, 2, 3]",
    "field missing": b'{"user_id": 1, "number_of_items": 1}',
    "string number": b'{"user_id": "1", "number_of_items": 1, "total_amount": 1}',
    "boolean": b'{"user_id": true, "number_of_items": 1, "total_amount": 1}',
    "beyond integer": b'{"user_id": 2147483648, "number_of_items": 1, "total_amount": 1}',
    "NaN amount": b'{"user_id": 1, "number_of_items": 1, "total_amount": NaN}',
    "deeply nested": b"[" * 100_000,
}


@pytest.mark.parametrize("body", INVALID_MESSAGES.values(), ids=INVALID_MESSAGES.keys())
def test_an_invalid_message_is_moved_aside_not_dropped(
    consumer: BillingConsumer, orders_db: OrdersDatabase, rabbitmq_channel: BlockingChannel, body: bytes
) -> None:
    publish(rabbitmq_channel, consumer.queue, body, "bad-1")
    publish(rabbitmq_channel, consumer.queue, order(5), "good-1")
    settled = consumer.consume_once(wait=5)
    if settled < 2:
        settled += consumer.consume_once(wait=1)
    assert settled == 2
    assert orders_db.orders() == [(5, 2, 19.99)]
    method, properties, parked = rabbitmq_channel.basic_get(consumer.invalid_queue, auto_ack=True)
    assert method is not None, "the invalid message is not in the invalid queue"
    assert parked == body and properties.message_id == "bad-1"
    assert properties.headers["x-invalid-reason"]
    consumer.close()
    assert waiting(rabbitmq_channel, consumer.queue) == 0


def test_while_the_database_is_down_the_batch_is_held_then_stored(
    consumer: BillingConsumer, billing_db: PostgresServer, orders_db: OrdersDatabase, rabbitmq_channel: BlockingChannel
) -> None:
    assert consumer.consume_once(wait=0.1) == 0  # the store has its connection open
    billing_db.stop()
    try:
        publish(rabbitmq_channel, consumer.queue, order(1), "m-1")
        publish(rabbitmq_channel, consumer.queue, order(2), "m-2")
        for _attempt in range(3):
            with pytest.raises(DatabaseUnavailableError):
                consumer.consume_once(wait=5)
        # Held, not acknowledged: nothing is ready, nothing is lost.
        assert waiting(rabbitmq_channel, consumer.queue) == 0
    finally:
        billing_db.start()
    assert consumer.consume_once(wait=1) == 2
    assert sorted(orders_db.orders()) == [(1, 2, 19.99), (2, 2, 19.99)]
    assert consumer.state.stored_orders == 2


def test_held_messages_return_to_the_queue_when_the_consumer_goes(
    consumer: BillingConsumer, billing_db: PostgresServer, orders_db: OrdersDatabase, rabbitmq_channel: BlockingChannel
) -> None:
    billing_db.stop()
    try:
        publish(rabbitmq_channel, consumer.queue, order(1), "m-1")
        with pytest.raises(DatabaseUnavailableError):
            consumer.consume_once(wait=5)
        consumer.close()
        assert waiting(rabbitmq_channel, consumer.queue) == 1
    finally:
        billing_db.start()
    assert orders_db.orders() == []
