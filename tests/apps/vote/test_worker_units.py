"""Pure parts of the worker: decoding, deduplication, configuration, backoff."""

from __future__ import annotations

import json

import pytest
from vote_worker.config import Settings
from vote_worker.votes import Vote, decode, latest_per_voter
from vote_worker.worker import Backoff


def item(seq: int, voter_id: object, vote: object) -> str:
    return f"{seq} {json.dumps({'voter_id': voter_id, 'vote': vote})}"


def test_decode_reads_sequence_voter_and_choice() -> None:
    assert decode(item(17, "v1", "b")) == Vote(17, "v1", "b")


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "17",
        "x {}",
        '17 {"voter_id": "v1"}',
        "17 not json",
        item(1, "v1", "c"),
        item(1, "v1", None),
        item(1, "", "a"),
        item(1, 42, "a"),
        item(1, "v" * 256, "a"),
        '1 ["v1", "a"]',
    ],
)
def test_decode_rejects_malformed_items(raw: str) -> None:
    assert decode(raw) is None


def test_latest_vote_of_each_voter_wins_by_sequence_not_position() -> None:
    items = [item(3, "v1", "a"), item(5, "v2", "a"), item(4, "v1", "b"), item(1, "v1", "a"), "garbage"]
    assert latest_per_voter(items) == [Vote(4, "v1", "b"), Vote(5, "v2", "a")]


def test_latest_per_voter_orders_rows_by_voter_id() -> None:
    items = [item(i, f"v{9 - i}", "a") for i in range(10)]
    assert [v.voter_id for v in latest_per_voter(items)] == [f"v{i}" for i in range(10)]


def test_settings_defaults_follow_the_spec() -> None:
    settings = Settings.from_env({})
    assert (settings.redis_host, settings.redis_port, settings.redis_password) == ("redis", 6379, None)
    assert (settings.postgres_host, settings.postgres_port, settings.postgres_db) == ("db", 5432, "postgres")
    assert settings.worker_id


def test_settings_from_env() -> None:
    settings = Settings.from_env(
        {
            "REDIS_HOST": "r",
            "REDIS_PORT": "7000",
            "REDIS_PASSWORD": "rp",  # pragma: allowlist secret (unit-test value)
            "POSTGRES_HOST": "p",
            "POSTGRES_PORT": "6000",
            "POSTGRES_USER": "u",
            "POSTGRES_PASSWORD": "pp",  # pragma: allowlist secret (unit-test value)
            "POSTGRES_DB": "d",
            "WORKER_ID": "w1",
            "WORKER_BATCH_SIZE": "50",
            "LOG_LEVEL": "debug",
            "WORKER_BATCH_LINGER": "0.2",
        }
    )
    assert settings == Settings(
        redis_host="r",
        redis_port=7000,
        redis_password="rp",  # pragma: allowlist secret (unit-test value)
        postgres_host="p",
        postgres_port=6000,
        postgres_user="u",
        postgres_password="pp",  # pragma: allowlist secret (unit-test value)
        postgres_db="d",
        worker_id="w1",
        batch_size=50,
        batch_linger=0.2,
        log_level="DEBUG",
    )


@pytest.mark.parametrize("size", ["0", "5001", "-3"])
def test_settings_reject_batch_sizes_out_of_range(size: str) -> None:
    with pytest.raises(ValueError, match="WORKER_BATCH_SIZE"):
        Settings.from_env({"WORKER_BATCH_SIZE": size})


def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(initial=0.1, maximum=0.5)
    assert [backoff.next() for _call in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    backoff.reset()
    assert backoff.next() == 0.1
