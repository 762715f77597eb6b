"""Decoding of claimed queue items and per-batch deduplication (pure functions).

A claimed item is ``"<seq> <json>"``: the Redis claim script prefixes each vote
with a sequence number that grows in queue order, so "latest vote wins" holds
across batches, recovered batches and several workers, not only inside one batch.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass

log = logging.getLogger(__name__)

CHOICES = frozenset({"a", "b"})
# The width of the `id` column: a longer id would fail the whole batch's INSERT.
MAX_VOTER_ID_LENGTH = 255


@dataclass(frozen=True, order=True)
class Vote:
    seq: int
    voter_id: str
    choice: str


def decode(item: str) -> Vote | None:
    """Parse one claimed item; None (and a warning) for anything malformed.

    Malformed items are dropped rather than retried: retrying a batch that can
    never be written would stop every vote queued behind it.
    """
    try:
        seq_text, payload = item.split(" ", 1)
        message = json.loads(payload)
        voter_id, choice = message["voter_id"], message["vote"]
        seq = int(seq_text)
    except (ValueError, KeyError, TypeError):
        log.warning("dropping malformed queue item %.200r", item)
        return None
    if not isinstance(voter_id, str) or not 0 < len(voter_id) <= MAX_VOTER_ID_LENGTH or choice not in CHOICES:
        log.warning("dropping invalid vote %.200r", item)
        return None
    return Vote(seq, voter_id, choice)


def latest_per_voter(items: Iterable[str]) -> list[Vote]:
    """The latest vote of each voter among items, ordered by voter id.

    One INSERT cannot touch the same row twice, hence the deduplication; the
    order by id makes concurrent workers lock rows in the same order, so their
    upserts cannot deadlock each other.
    """
    latest: dict[str, Vote] = {}
    for item in items:
        vote = decode(item)
        if vote is not None and (vote.voter_id not in latest or latest[vote.voter_id].seq < vote.seq):
            latest[vote.voter_id] = vote
    return [latest[voter_id] for voter_id in sorted(latest)]
