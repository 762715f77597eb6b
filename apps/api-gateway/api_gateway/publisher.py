"""Publishes billing orders to RabbitMQ, with publisher confirms.

A 200 from the gateway promises the order is safe in RabbitMQ, so every
publish waits for the broker's confirm: a persistent message on a durable
queue is confirmed once it is written to disk.
"""

import threading
import time
from collections.abc import Callable

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError, NackError, UnroutableError


class PublishError(RuntimeError):
    """RabbitMQ did not take the message; the caller must not report success."""


class PublishUncertainError(PublishError):
    """The message was sent but its confirm never came: RabbitMQ may have it.

    The caller must neither report success nor say the order was not taken;
    publishing again with the same message id is safe (billing-app stores an
    id once).
    """


class BillingPublisher:
    """One connection per process, opened on first use and reopened after a failure.

    pika's BlockingConnection is not thread-safe, hence the lock: gunicorn's
    threads of one worker take turns, and a publish takes about a millisecond.
    """

    def __init__(self, parameters: pika.ConnectionParameters, queue: str) -> None:
        self._parameters = parameters
        self._queue = queue
        self._lock = threading.Lock()
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None

    def _open_channel(self) -> BlockingChannel:
        if self._channel is not None and self._channel.is_open:
            return self._channel
        self._close()
        self._connection = pika.BlockingConnection(self._parameters)
        channel = self._connection.channel()
        # Declared here as by billing-app, with the same arguments, so that
        # orders are kept even before billing-app has ever started.
        channel.queue_declare(queue=self._queue, durable=True)
        channel.confirm_delivery()
        self._channel = channel
        return channel

    def _close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except (AMQPError, OSError):
                pass  # the connection is already gone; nothing to release

    def _run(self, action: Callable[[BlockingChannel], None]) -> None:
        """Run action on the channel, reconnecting once if the connection is dead.

        A connection RabbitMQ closed since the last use (restart, idle
        heartbeat timeout) fails the first attempt; the second one reconnects.
        """
        with self._lock:
            for attempt in (1, 2):
                try:
                    action(self._open_channel())
                    return
                except (AMQPError, OSError) as exc:
                    self._close()
                    if attempt == 2:
                        raise PublishError(f"RabbitMQ is unavailable: {exc!r}") from exc

    def publish(self, body: bytes, message_id: str) -> None:
        """Publish a persistent message and return once RabbitMQ has confirmed it.

        If a confirm is lost after RabbitMQ took the message, the retry
        publishes it again and billing-app drops the duplicate by message_id.
        Raises PublishUncertainError when a publish was sent and no attempt
        got its confirm, PublishError when RabbitMQ certainly has nothing.
        """
        properties = pika.BasicProperties(
            delivery_mode=pika.DeliveryMode.Persistent,
            content_type="application/json",
            message_id=message_id,
            timestamp=int(time.time()),
        )
        # Set when a publish left without its fate coming back: a connection
        # lost between sending and the confirm.  A nack or a return is a
        # definite "not taken".
        in_doubt = False

        def send(channel: BlockingChannel) -> None:
            nonlocal in_doubt
            # A close RabbitMQ sent while the connection sat idle (a restart,
            # a stop) surfaces here, before anything is sent: that attempt is
            # then certainly not taken, and the retry reconnects.
            channel.connection.process_data_events(time_limit=0)
            try:
                channel.basic_publish(
                    exchange="", routing_key=self._queue, body=body, properties=properties, mandatory=True
                )
            except (NackError, UnroutableError):
                raise
            except (AMQPError, OSError):
                in_doubt = True
                raise

        try:
            self._run(send)
        except PublishError as exc:
            if in_doubt:
                raise PublishUncertainError(str(exc)) from exc
            raise

    def check(self) -> bool:
        """True when RabbitMQ answers on this process's connection."""
        try:
            # Reading pending frames surfaces a close RabbitMQ sent meanwhile.
            self._run(lambda channel: channel.connection.process_data_events(time_limit=0))
        except PublishError:
            return False
        return True
