"""The worker loop: claim a batch, commit it, ack it; back off while a server is down."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import psycopg
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .config import Settings
from .queue import DEAD_LETTER_KEY, VoteQueue
from .store import VoteStore, is_data_error
from .votes import Vote, sort_batch

log = logging.getLogger(__name__)


class Backoff:
    """Exponential delays between retries, capped, reset by a success."""

    def __init__(self, initial: float = 0.1, maximum: float = 5.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self.current = initial

    def next(self) -> float:
        delay = self.current
        self.current = min(self.current * 2, self.maximum)
        return delay

    def reset(self) -> None:
        self.current = self.initial


class Worker:
    def __init__(self, settings: Settings, queue: VoteQueue, store: VoteStore) -> None:
        self.settings = settings
        self.queue = queue
        self.store = store
        self._heartbeat_due = 0.0
        self._orphan_scan_due = 0.0
        # Length of the dead-letter list as last seen; -1 until Redis answered.
        self.dead_letters = -1

    @classmethod
    def from_settings(cls, settings: Settings) -> Worker:
        client = redis.Redis(
            host=settings.redis_host,
            port=settings.redis_port,
            password=settings.redis_password,
            decode_responses=True,
            socket_connect_timeout=5,
            # Longer than the blocking wait, so a quiet queue is not an error.
            socket_timeout=settings.block_timeout + 5,
            # Bytes that are not UTF-8 come back as lone surrogates (and go
            # back as the same bytes), so such an item is dead-lettered
            # instead of failing every read of the list.
            encoding_errors="surrogateescape",
            health_check_interval=30,
            # One immediate retry for a broken pooled connection; longer
            # outages are the loop's Backoff's business, not redis-py's.
            retry=Retry(NoBackoff(), 1),
        )
        return cls(settings, VoteQueue(client, settings.worker_id), VoteStore(settings))

    def _write(self, votes: list[Vote]) -> list[str]:
        """Commit votes; return the items of those Postgres refuses (not its outages).

        One statement for the batch; if the data is refused, one per vote, so
        that a single bad vote costs its own row and nothing else.  Any other
        error propagates: the batch stays claimed and is retried.
        """
        try:
            self.store.upsert(votes)
            return []
        except psycopg.Error as exc:
            if not is_data_error(exc):
                raise
            log.warning("postgres refused a batch of %d votes (%s); writing them one by one", len(votes), exc)
        refused = []
        for vote in votes:
            try:
                self.store.upsert([vote])
            except psycopg.Error as exc:
                if not is_data_error(exc):
                    raise
                log.warning("dead-lettering vote postgres refuses (%s): %.200r", exc, vote.item)
                refused.append(vote.item)
        return refused

    def _commit(self, items: list[str], key: str | None = None) -> int:
        batch = sort_batch(items)
        rejected = batch.rejected + self._write(batch.votes)
        dead = self.queue.ack(items, key, rejected)
        if dead >= 0:
            self.dead_letters = dead
        return len(items)

    def process_batch(self) -> int:
        """Move one batch from Redis to Postgres; return how many items it held.

        Our own unacknowledged batch goes first: it is what a killed worker
        left, or what failed to commit last time.  Otherwise claim new votes,
        blocking up to block_timeout when the queue is empty (then return 0),
        and lingering briefly when it holds less than a batch.
        Raises redis.RedisError or psycopg.Error, leaving the batch claimed.
        """
        items = self.queue.pending()
        if not items:
            if not self.queue.wait_for_votes(self.settings.block_timeout):
                return 0
            if self.settings.batch_linger > 0 and self.queue.queued() < self.settings.batch_size:
                time.sleep(self.settings.batch_linger)
            items = self.queue.claim(self.settings.batch_size)
        return self._commit(items) if items else 0

    def recover_orphans(self) -> int:
        """Commit the batches of workers that died and did not come back."""
        recovered = 0
        for key in list(self.queue.orphaned_lists()):
            items = self.queue.pending(key)
            if items:
                log.warning("recovering %d votes left in %s", len(items), key)
                recovered += self._commit(items, key)
        return recovered

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now >= self._heartbeat_due:
            self.queue.heartbeat(self.settings.heartbeat_ttl)
            self._heartbeat_due = now + self.settings.heartbeat_ttl / 3
        if now >= self._orphan_scan_due:
            self.recover_orphans()
            self._orphan_scan_due = now + self.settings.heartbeat_ttl

    def _mark_alive(self) -> None:
        # The health check reads this: the loop's pulse (mtime) and what an
        # operator should know (dead letters), like a /healthz body.
        Path(self.settings.health_file).write_text(json.dumps({"dead_letters": self.dead_letters}))

    def run(self, stop: threading.Event) -> None:
        """Loop until stop is set; a server outage only delays, never drops, a vote."""
        backoff = Backoff()
        log.info("worker %s started", self.settings.worker_id)
        try:
            self.dead_letters = self.queue.dead_letter_count()
            if self.dead_letters:
                log.warning("%d items wait in the dead-letter list %s", self.dead_letters, DEAD_LETTER_KEY)
        except redis.RedisError:
            pass  # the loop below reports Redis being down
        while not stop.is_set():
            try:
                self._housekeeping()
                self.process_batch()
                backoff.reset()
            except (redis.RedisError, psycopg.Error) as exc:
                delay = backoff.next()
                log.warning("%s: %s; retrying in %.1fs", type(exc).__name__, exc, delay)
                stop.wait(delay)
            self._mark_alive()
        self.store.close()
        log.info("worker %s stopped", self.settings.worker_id)
