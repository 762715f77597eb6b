"""The consumer: billing_queue -> orders, acknowledged only once committed."""

import logging
import random
import threading
import time
from dataclasses import dataclass, field

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError
from pika.spec import Basic, BasicProperties

from billing_app.orders import (
    DatabaseUnavailableError,
    InvalidMessageError,
    Order,
    OrderRefusedError,
    OrderStore,
    message_id_of,
    parse_order,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    tag: int
    properties: BasicProperties
    body: bytes


@dataclass
class ConsumerState:
    """What the health endpoint reports; written by the consumer thread only."""

    rabbitmq_connected: bool = False
    last_loop: float = field(default_factory=time.monotonic)
    stored_orders: int = 0
    # Messages in the dead-letter queue: its depth when we connected, plus
    # what this process moved there since (-1 until first connected).
    dead_letters: int = -1


class Backoff:
    """Exponential delays with jitter, so replicas do not retry in step."""

    def __init__(self, initial: float = 0.25, maximum: float = 15.0) -> None:
        self._initial = initial
        self._maximum = maximum
        self._next = initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self._maximum)
        return delay * random.uniform(0.75, 1.0)

    def reset(self) -> None:
        self._next = self._initial


class BillingConsumer:
    """Moves orders from the queue to billing-db in batches.

    Messages stay unacknowledged in RabbitMQ until their batch is committed,
    so a crash at any point loses nothing: RabbitMQ redelivers them, and the
    message-id table drops what was already stored.  While billing-db is
    down, the batch stays in hand (still unacknowledged) and is retried with
    backoff; the connection keeps its heartbeats going meanwhile.
    """

    def __init__(
        self,
        parameters: pika.ConnectionParameters,
        queue: str,
        store: OrderStore,
        batch_size: int = 100,
        state: ConsumerState | None = None,
    ) -> None:
        self._parameters = parameters
        self.queue = queue
        # Messages that can never be stored are moved here, not dropped, for
        # someone to read; they would otherwise block or vanish.
        self.invalid_queue = f"{queue}.invalid"
        self._store = store
        self._batch_size = batch_size
        self.state = state or ConsumerState()
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._in_hand: list[Delivery] = []

    @property
    def connected(self) -> bool:
        return self._channel is not None and self._channel.is_open

    def connect(self) -> None:
        self.close()
        self._connection = pika.BlockingConnection(self._parameters)
        channel = self._connection.channel()
        channel.queue_declare(queue=self.queue, durable=True)
        parked = channel.queue_declare(queue=self.invalid_queue, durable=True)
        self.state.dead_letters = parked.method.message_count
        if self.state.dead_letters:
            log.warning("%d messages wait in %s", self.state.dead_letters, self.invalid_queue)
        channel.confirm_delivery()
        # RabbitMQ sends no more than one batch ahead of what is acknowledged.
        channel.basic_qos(prefetch_count=self._batch_size)
        channel.basic_consume(queue=self.queue, on_message_callback=self._on_message)
        self._channel = channel
        self.state.rabbitmq_connected = True

    def close(self) -> None:
        """Drop the connection; RabbitMQ requeues whatever was not acknowledged."""
        connection, self._connection, self._channel = self._connection, None, None
        # Delivery tags belong to the channel: they mean nothing on the next one.
        self._in_hand.clear()
        self.state.rabbitmq_connected = False
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except (AMQPError, OSError):
                pass  # already gone; RabbitMQ requeues on its side

    def _on_message(
        self, _channel: BlockingChannel, method: Basic.Deliver, properties: BasicProperties, body: bytes
    ) -> None:
        self._in_hand.append(Delivery(method.delivery_tag, properties, body))

    def _require_channel(self) -> BlockingChannel:
        if self._channel is None or self._connection is None:
            raise AMQPError("not connected to RabbitMQ")
        return self._channel

    def consume_once(self, wait: float = 1.0) -> int:
        """Wait up to `wait` seconds for messages, store one batch, acknowledge it.

        Returns how many messages were settled (stored, already stored, or
        moved to the invalid queue).  Raises DatabaseUnavailableError with the
        batch kept in hand, or a pika error if RabbitMQ went away.
        """
        channel = self._require_channel()
        connection = channel.connection
        if not self._in_hand:
            connection.process_data_events(time_limit=wait)
        # Whatever else has already arrived joins the batch.
        connection.process_data_events(time_limit=0)
        batch = self._in_hand[: self._batch_size]
        if not batch:
            return 0
        orders: list[tuple[Delivery, str, Order]] = []
        invalid: list[tuple[Delivery, str]] = []
        for delivery in batch:
            try:
                orders.append((delivery, message_id_of(delivery.properties.message_id), parse_order(delivery.body)))
            except InvalidMessageError as exc:
                invalid.append((delivery, str(exc)))
        stored, refused = self._save(orders)
        invalid += refused
        self.state.stored_orders += stored
        if stored < len(orders):
            log.info("%d redelivered orders were already stored; acknowledging them", len(orders) - stored)
        for delivery, reason in invalid:
            self._move_to_invalid_queue(channel, delivery, reason)
        # Tags grow in delivery order, so one ack covers the whole batch.
        channel.basic_ack(delivery_tag=batch[-1].tag, multiple=True)
        del self._in_hand[: len(batch)]
        return len(batch)

    def _save(self, orders: list[tuple[Delivery, str, Order]]) -> tuple[int, list[tuple[Delivery, str]]]:
        """Store the batch; if billing-db refuses its data, store it order by order.

        Returns how many rows are new, and the orders billing-db refused (for
        the dead-letter queue).  Only an outage (DatabaseUnavailableError)
        propagates: the batch is then kept in hand and retried.
        """
        try:
            return self._store.save([(message_id, order) for _tag, message_id, order in orders]), []
        except OrderRefusedError as exc:
            log.warning("billing-db refused a batch of %d orders (%s); storing them one by one", len(orders), exc)
        stored, refused = 0, []
        for delivery, message_id, order in orders:
            try:
                stored += self._store.save([(message_id, order)])
            except OrderRefusedError as exc:
                refused.append((delivery, f"refused by billing-db: {exc}"))
        return stored, refused

    def _move_to_invalid_queue(self, channel: BlockingChannel, delivery: Delivery, reason: str) -> None:
        message_id = delivery.properties.message_id
        log.warning("moving message %.100r to %s: %s", message_id, self.invalid_queue, reason)
        channel.basic_publish(
            exchange="",
            routing_key=self.invalid_queue,
            body=delivery.body,
            properties=pika.BasicProperties(
                delivery_mode=pika.DeliveryMode.Persistent,
                message_id=message_id if isinstance(message_id, str) else None,
                content_type=delivery.properties.content_type,
                headers={
                    **(delivery.properties.headers or {}),
                    "x-invalid-reason": reason,
                    # A message id that is not UTF-8 reaches us as bytes: kept here as it came.
                    **({"x-message-id-bytes": message_id} if isinstance(message_id, bytes) else {}),
                },
            ),
        )
        self.state.dead_letters += 1

    def _pause(self, seconds: float, stop: threading.Event) -> None:
        """Sleep while answering RabbitMQ's heartbeats, waking early on stop."""
        deadline = time.monotonic() + seconds
        while not stop.is_set() and (remaining := deadline - time.monotonic()) > 0:
            if self._connection is not None and self._connection.is_open:
                self._connection.sleep(min(remaining, 0.5))
            else:
                stop.wait(min(remaining, 0.5))

    def _step(self, rabbitmq_backoff: Backoff, database_backoff: Backoff) -> float:
        """One turn of the loop; returns how long to back off before the next (0: none)."""
        try:
            if not self.connected:
                self.connect()
                log.info("consuming %s", self.queue)
                rabbitmq_backoff.reset()
            self.consume_once()
            database_backoff.reset()
            return 0.0
        except DatabaseUnavailableError as exc:
            delay = database_backoff.next_delay()
            log.warning("billing-db unavailable (%s); %d orders held, retry in %.1fs", exc, len(self._in_hand), delay)
            return delay
        except (AMQPError, OSError) as exc:
            delay = rabbitmq_backoff.next_delay()
            log.warning("RabbitMQ unavailable (%r); reconnecting in %.1fs", exc, delay)
            self.close()
            return delay

    def run(self, stop: threading.Event, retry_max_seconds: float = 15.0) -> None:
        """Consume until stop is set, reconnecting to RabbitMQ and retrying billing-db as needed."""
        rabbitmq_backoff = Backoff(maximum=retry_max_seconds)
        database_backoff = Backoff(maximum=retry_max_seconds)
        while not stop.is_set():
            self.state.last_loop = time.monotonic()
            delay = self._step(rabbitmq_backoff, database_backoff)
            if delay:
                try:
                    self._pause(delay, stop)
                except (AMQPError, OSError):
                    self.close()
        self.close()
        self._store.close()
