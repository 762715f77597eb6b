"""The vote app through Flask's test client, against a real Redis."""

from __future__ import annotations

import re

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from vote_app import create_app

from tests.apps.vote.checks import queued_votes
from tests.support.servers import RedisServer, free_port


def make_app(redis_port: int, **config: object) -> Flask:
    return create_app({"REDIS_HOST": "127.0.0.1", "REDIS_PORT": redis_port, "HOSTNAME": "vote-test-host", **config})


@pytest.fixture
def client(redis_server: RedisServer, redis_client: redis.Redis) -> FlaskClient:
    return make_app(redis_server.port, OPTION_A="Tea", OPTION_B="Coffee").test_client()


def voter_cookie(client: FlaskClient) -> str | None:
    cookie = client.get_cookie("voter_id")
    return cookie.value if cookie else None


def test_ballot_shows_both_options_and_the_hostname(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Tea vs Coffee!" in html
    assert re.search(r'<button id="a"[^>]*value="a"', html) and ">Tea" in html
    assert re.search(r'<button id="b"[^>]*value="b"', html) and ">Coffee" in html
    assert "Processed by container ID vote-test-host" in html
    assert 'aria-pressed="true"' not in html


def test_first_visit_sets_a_random_voter_id(client: FlaskClient, redis_server: RedisServer) -> None:
    client.get("/")
    first = voter_cookie(client)
    other = make_app(redis_server.port).test_client()
    other.get("/")
    assert first and re.fullmatch(r"[0-9a-f]{32}", first)
    assert voter_cookie(other) != first


def test_defaults_are_cats_and_dogs(redis_server: RedisServer, redis_client: redis.Redis) -> None:
    html = (
        create_app({"REDIS_HOST": "127.0.0.1", "REDIS_PORT": redis_server.port})
        .test_client()
        .get("/")
        .get_data(as_text=True)
    )
    assert "Cats vs Dogs!" in html


def test_option_labels_are_escaped(redis_server: RedisServer, redis_client: redis.Redis) -> None:
    html = make_app(redis_server.port, OPTION_A="<script>x</script>").test_client().get("/").get_data(as_text=True)
    assert "<script>x" not in html
    assert "&lt;script&gt;x" in html


def test_vote_is_queued_with_the_cookie_voter_id(client: FlaskClient, redis_client: redis.Redis) -> None:
    response = client.post("/", data={"vote": "a"})
    # Post/Redirect/Get: a refresh of the page that follows does not vote again.
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert queued_votes(redis_client) == [{"voter_id": voter_cookie(client), "vote": "a"}]
    page = client.get(response.headers["Location"])
    assert 'id="a" type="submit" name="vote" class="a chosen"' in page.get_data(as_text=True)
    assert len(queued_votes(redis_client)) == 1


def test_changing_the_vote_keeps_the_voter_and_marks_the_new_choice(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    client.post("/", data={"vote": "a"})
    voter = voter_cookie(client)
    client.post("/", data={"vote": "b"})
    assert voter_cookie(client) == voter
    assert queued_votes(redis_client) == [{"voter_id": voter, "vote": "a"}, {"voter_id": voter, "vote": "b"}]
    html = client.get("/").get_data(as_text=True)
    assert 'class="b chosen"' in html and 'class="a chosen"' not in html


def test_an_original_apps_hex_cookie_is_kept(client: FlaskClient, redis_client: redis.Redis) -> None:
    client.set_cookie("voter_id", "5f2a9c0d1e3b4a67")
    client.post("/", data={"vote": "b"})
    assert queued_votes(redis_client) == [{"voter_id": "5f2a9c0d1e3b4a67", "vote": "b"}]


@pytest.mark.parametrize(
    "cookie",
    ["", "x", "'; DROP TABLE votes; --", "a" * 65, "voter id with spaces", "<script>"],
)
def test_a_cookie_we_could_not_have_issued_is_replaced(
    client: FlaskClient, redis_client: redis.Redis, cookie: str
) -> None:
    client.set_cookie("voter_id", cookie)
    response = client.post("/", data={"vote": "a"})
    assert response.status_code == 303
    [queued] = queued_votes(redis_client)
    assert queued["voter_id"] != cookie and re.fullmatch(r"[0-9a-f]{32}", queued["voter_id"])
    assert voter_cookie(client) == queued["voter_id"]


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"vote": ""},
        {"vote": "c"},
        {"vote": "A"},
        {"vote": "a "},
        {"vote": "'; DROP TABLE votes; --"},
        {"vote": "a' OR '1'='1"},
        {"vote": ["a", "b"]},
        {"vote": "a" * 3000},
        {"other": "a"},
    ],
)
def test_anything_but_a_or_b_is_400_and_queues_nothing(
    client: FlaskClient, redis_client: redis.Redis, data: dict[str, object]
) -> None:
    response = client.post("/", data=data)
    assert response.status_code == 400
    assert "exactly one of" in response.get_data(as_text=True)
    assert redis_client.llen("votes") == 0


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"vote": "a"}', "application/json"),
        (b"vote=%ZZ", "application/x-www-form-urlencoded"),
        (b"\xff\xfe\x00vote=a", "application/x-www-form-urlencoded"),
        (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
        (b"vote=a", "multipart/form-data"),
        (b"&&&&==&&", "application/x-www-form-urlencoded"),
        (b"vote=a&" * 20, "application/x-www-form-urlencoded"),
    ],
)
def test_malformed_bodies_are_4xx(
    client: FlaskClient, redis_client: redis.Redis, body: bytes, content_type: str
) -> None:
    response = client.post("/", data=body, content_type=content_type)
    assert 400 <= response.status_code < 500
    assert redis_client.llen("votes") == 0


def test_huge_body_is_413_and_queues_nothing(client: FlaskClient, redis_client: redis.Redis) -> None:
    response = client.post("/", data=b"vote=a&pad=" + b"x" * 100_000, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert redis_client.llen("votes") == 0


def test_unknown_path_and_method_are_plain_4xx(client: FlaskClient) -> None:
    assert client.get("/nope").status_code == 404
    response = client.delete("/")
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "OPTIONS", "POST"}
    assert response.content_type == "text/plain; charset=utf-8"
    assert "Traceback" not in response.get_data(as_text=True)


def test_healthz_is_200_with_the_version_when_redis_answers(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    response = make_app(redis_server.port, APP_VERSION="1.4.2").test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "redis": "up", "version": "1.4.2", "hostname": "vote-test-host"}


def test_redis_down_is_a_readable_503_on_post_and_healthz() -> None:
    client = make_app(free_port()).test_client()
    response = client.post("/", data={"vote": "a"})
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert "Your vote was not recorded" in html
    assert "Traceback" not in html and "ConnectionError" not in html
    # No internal host name in an error page (the ballot itself shows it, as specified).
    assert "vote-test-host" not in html and "Processed by container" not in html
    assert response.headers["Retry-After"] == "5"
    assert client.get_cookie("vote") is None
    health = client.get("/healthz")
    assert health.status_code == 503 and health.get_json()["redis"] == "down"
    # The ballot itself does not need Redis.
    assert client.get("/").status_code == 200


def test_redis_restart_is_survived_without_restarting_the_app(redis_client: redis.Redis) -> None:
    with RedisServer() as server:
        client = make_app(server.port).test_client()
        assert client.post("/", data={"vote": "a"}).status_code == 303
        server.stop()
        assert client.post("/", data={"vote": "a"}).status_code == 503
        server.start()
        assert client.post("/", data={"vote": "b"}).status_code == 303
        queued = redis.Redis(port=server.port, decode_responses=True).lrange("votes", 0, -1)
        assert [item.endswith('"vote": "b"}') for item in queued] == [False, True]


def test_responses_carry_security_headers(client: FlaskClient) -> None:
    headers = client.get("/").headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == "default-src 'self'; frame-ancestors 'none'"


def test_livez_answers_while_redis_is_down() -> None:
    """What the probes ask: the process, not Redis (whose state is /healthz's)."""
    client = make_app(free_port(), APP_VERSION="1.4.2").test_client()
    assert client.get("/healthz").status_code == 503
    live = client.get("/livez")
    assert live.status_code == 200 and live.get_json() == {"status": "ok", "version": "1.4.2"}
