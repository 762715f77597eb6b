"""The Redis list `votes` that the worker drains."""

from __future__ import annotations

import json

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

QUEUE_KEY = "votes"


class VoteQueue:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    @classmethod
    def connect(cls, host: str, port: int, password: str | None) -> VoteQueue:
        # Short timeouts and one immediate retry (for a pooled connection that
        # a Redis restart broke): a browser waiting on a dead Redis should get
        # the 503 page in about a second, not after redis-py's default backoff.
        return cls(
            redis.Redis(
                host=host,
                port=port,
                password=password,
                socket_connect_timeout=1,
                socket_timeout=2,
                health_check_interval=30,
                retry=Retry(NoBackoff(), 1),
            )
        )

    def push(self, voter_id: str, choice: str) -> None:
        """Queue one vote in the wire format every worker reads; raises redis.RedisError."""
        self.client.rpush(QUEUE_KEY, json.dumps({"voter_id": voter_id, "vote": choice}))

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False
