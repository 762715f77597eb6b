"""The vote service as a real gunicorn process: routes, and hostile HTTP."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest
import redis

from tests.apps.vote.checks import queued_votes
from tests.apps.vote.processes import service_env, vote_service, wait_http
from tests.support.servers import RedisServer, free_port


@pytest.fixture(scope="module")
def vote(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("vote") / "gunicorn.log"
    with vote_service(service_env(redis_server, APP_VERSION="3.1.0"), log=log) as base:
        wait_http(f"{base}/healthz")
        yield base
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: object, **_kwargs: object) -> None:
        return None  # the redirect itself is the answer under test


_OPENER = urllib.request.build_opener(_NoRedirect)


def request(
    url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, str, dict[str, str]]:
    """One request, redirects not followed."""
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with _OPENER.open(req, timeout=5) as response:
            return response.status, response.read().decode(), _flat(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), _flat(exc.headers)


def _flat(headers: Message) -> dict[str, str]:
    """Headers as a dict, repeated ones (Set-Cookie) joined with newlines."""
    return {name: "\n".join(headers.get_all(name) or []) for name in headers}


def raw(base: str, payload: bytes) -> int:
    """Send bytes as they are; return the HTTP status of the answer (0 if none)."""
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


def test_healthz_reports_redis_and_the_version(vote: str, redis_client: redis.Redis) -> None:
    status, body, headers = request(f"{vote}/healthz")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    health = json.loads(body)
    assert (health["status"], health["redis"], health["version"]) == ("ok", "up", "3.1.0")
    assert health["hostname"] == socket.gethostname()


def test_a_form_post_queues_the_vote_and_sets_both_cookies(vote: str, redis_client: redis.Redis) -> None:
    status, _html, headers = request(vote, urllib.parse.urlencode({"vote": "b"}).encode())
    assert status == 303 and headers["Location"] == "/"
    cookies = headers["Set-Cookie"]
    assert "voter_id=" in cookies and "vote=b" in cookies
    [queued] = queued_votes(redis_client)
    assert queued["vote"] == "b" and f"voter_id={queued['voter_id']}" in cookies


def test_static_stylesheet_is_served(vote: str) -> None:
    status, css, _headers = request(f"{vote}/static/style.css")
    assert status == 200 and "button" in css


HOSTILE_REQUESTS = {
    "garbage request line": b"HELLO\r\n\r\n",
    "unknown method": b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n",
    "request line too long": b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "header too long": b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10_000 + b"\r\n\r\n",
    "too many headers": b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(200)) + b"\r\n",
    "declared huge body": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 10000000\r\n\r\nvote=a",
    "chunked huge body": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n" + (b"1000\r\n" + b"x" * 4096 + b"\r\n") * 8 + b"0\r\n\r\n",
    "bad content length": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\nvote=a",
    "short body": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 100\r\n\r\nvote=a",
    "broken multipart": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=zz\r\n"
    b"Content-Length: 20\r\n\r\n--zz\r\nno headers here",
    "sql in the vote": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 34\r\n\r\nvote=a%27%3B+DROP+TABLE+votes%3B--",
    "sql in the cookie": b"GET / HTTP/1.1\r\nHost: x\r\nCookie: voter_id=1' OR '1'='1; vote=\"><script>\r\n\r\n",
    "binary path": b"GET /\xff\xfe%00%ZZ HTTP/1.1\r\nHost: x\r\n\r\n",
    "json body": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b'Content-Length: 12\r\n\r\n{"vote":"a"}',
}


@pytest.mark.parametrize("payload", HOSTILE_REQUESTS.values(), ids=HOSTILE_REQUESTS.keys())
def test_hostile_requests_get_4xx_never_5xx(vote: str, redis_client: redis.Redis, payload: bytes) -> None:
    status = raw(vote, payload)
    # 0: gunicorn may close a connection whose request it cannot parse at all.
    assert status == 0 or 200 <= status < 500, status
    if b"POST" in payload[:5]:
        assert redis_client.llen("votes") == 0
    assert request(f"{vote}/healthz")[0] == 200, "the service must survive the request"


def test_sql_looking_cookie_is_replaced_not_used(vote: str, redis_client: redis.Redis) -> None:
    status, _body, headers = request(vote, b"vote=a", {"Cookie": "voter_id=1' OR '1'='1"})
    assert status == 303
    [queued] = queued_votes(redis_client)
    assert "'" not in queued["voter_id"]
    assert f"voter_id={queued['voter_id']}" in headers["Set-Cookie"]


def test_redis_down_is_a_readable_503(tmp_path: Path) -> None:
    env = service_env(REDIS_HOST="127.0.0.1", REDIS_PORT=str(free_port()))
    with vote_service(env, workers=1, log=tmp_path / "gunicorn.log") as base:
        wait_http(f"{base}/healthz", expect=503)
        status, html, headers = request(base, b"vote=a")
        assert status == 503
        assert "Your vote was not recorded" in html and "Traceback" not in html
        assert headers["Retry-After"] == "5"
        assert request(base)[0] == 200


def test_a_handful_of_stalled_uploads_does_not_stall_voting(vote: str, redis_client: redis.Redis) -> None:
    """Clients that announce a body and never finish it (slow networks, or on
    purpose) must not hold every worker: the NodePort exposes them directly."""
    port = int(vote.rsplit(":", 1)[1])
    head = (
        b"POST / HTTP/1.1\r\nHost: vote\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 100\r\n\r\nvote="
    )
    stalled = []
    try:
        for _connection in range(10):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(head)
            stalled.append(sock)
        time.sleep(0.5)  # every stalled upload has reached a worker
        started = time.monotonic()
        status, _body, _headers = request(vote, b"vote=a")
        assert status == 303
        assert time.monotonic() - started < 2, "a vote waited behind the stalled uploads"
        assert request(f"{vote}/livez")[0] == 200
        assert [q["vote"] for q in queued_votes(redis_client)] == ["a"]
    finally:
        for sock in stalled:
            sock.close()
