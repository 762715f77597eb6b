"""Decoding of claimed queue items and per-batch deduplication (pure functions).

A claimed item is ``"<seq> <json>"``: the Redis claim script prefixes each vote
with a sequence number that grows in queue order, so "latest vote wins" holds
across batches, recovered batches and several workers, not only inside one batch.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

CHOICES = frozenset({"a", "b"})
# The width of the `id` column: a longer id would fail the whole batch's INSERT.
MAX_VOTER_ID_LENGTH = 255


@dataclass(frozen=True, order=True)
class Vote:
    seq: int
    voter_id: str
    choice: str
    # The claimed item it came from, for the dead-letter list if Postgres refuses it.
    item: str = field(default="", compare=False, repr=False)


@dataclass
class Batch:
    """A claimed batch sorted out: the rows to write, and the items no retry can write."""

    votes: list[Vote]
    rejected: list[str]


def _storable_text(value: object) -> bool:
    """Text Postgres can hold in a VARCHAR: no NUL, no lone surrogate (not UTF-8)."""
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def decode(item: str) -> Vote | None:
    """Parse one claimed item; None (and a warning) for anything malformed.

    A malformed item is never retried: retrying a batch that can never be
    written would stop every vote queued behind it.  The caller moves it to
    the dead-letter list, where an operator can read it.
    """
    try:
        seq_text, payload = item.split(" ", 1)
        message = json.loads(payload)
        voter_id, choice = message["voter_id"], message["vote"]
        seq = int(seq_text)
    except (ValueError, KeyError, TypeError, RecursionError):
        log.warning("dead-lettering malformed queue item %.200r", item)
        return None
    # isinstance before the membership test: a list or dict is unhashable.
    valid_choice = isinstance(choice, str) and choice in CHOICES
    valid_voter = _storable_text(voter_id) and 0 < len(voter_id) <= MAX_VOTER_ID_LENGTH
    if not (valid_choice and valid_voter):
        log.warning("dead-lettering invalid vote %.200r", item)
        return None
    return Vote(seq, voter_id, choice, item)


def sort_batch(items: Iterable[str]) -> Batch:
    """The latest vote of each voter among items, ordered by voter id, and the rejects.

    One INSERT cannot touch the same row twice, hence the deduplication; the
    order by id makes concurrent workers lock rows in the same order, so their
    upserts cannot deadlock each other.
    """
    latest: dict[str, Vote] = {}
    rejected: list[str] = []
    for item in items:
        vote = decode(item)
        if vote is None:
            rejected.append(item)
        elif vote.voter_id not in latest or latest[vote.voter_id].seq < vote.seq:
            latest[vote.voter_id] = vote
    return Batch([latest[voter_id] for voter_id in sorted(latest)], rejected)


def latest_per_voter(items: Iterable[str]) -> list[Vote]:
    """The rows sort_batch would write."""
    return sort_batch(items).votes
