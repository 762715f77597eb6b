"""What api-gateway puts on the queue: the normalised order, persistent, with a unique message id."""

from __future__ import annotations

import json
from collections.abc import Callable

import pika
import pytest
import requests
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import ChannelClosedByBroker

from tests.apps.crud.conftest import CrudStack


def test_an_order_is_published_persistent_with_its_message_id_on_a_durable_queue(
    start_stack: Callable[..., CrudStack], rabbitmq_channel: BlockingChannel
) -> None:
    stack = start_stack(start_billing=False)
    answers = [
        requests.post(stack.gateway.url + path, json=body, timeout=10)
        for path, body in [
            ("/api/billing/", {"user_id": "20", "number_of_items": "99", "total_amount": "250"}),
            ("/api/billing", {"user_id": 21, "number_of_items": 1, "total_amount": 0.5}),
        ]
    ]
    assert [answer.status_code for answer in answers] == [200, 200]
    for answer in answers:
        method, properties, body = rabbitmq_channel.basic_get(stack.queue, auto_ack=True)
        assert method is not None, "the order is not in the queue"
        assert properties.delivery_mode == pika.DeliveryMode.Persistent.value
        assert properties.message_id == answer.json()["message_id"]
        assert json.loads(body) == answer.json()["order"]
    assert answers[0].json()["order"] == {"user_id": 20, "number_of_items": 99, "total_amount": 250.0}
    assert answers[0].json()["message_id"] != answers[1].json()["message_id"]
    # Declaring an existing queue with other properties is refused.
    with pytest.raises(ChannelClosedByBroker, match="durable"):
        rabbitmq_channel.queue_declare(queue=stack.queue, durable=False)
