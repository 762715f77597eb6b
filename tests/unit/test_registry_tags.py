"""scripts/registry_tags.py: references, the HTTP/HTTPS choice, and the registry protocol
(tag present, missing, bearer-token challenge, refused credentials) against a small stand-in
registry on loopback. The real distribution registry is exercised by tests/e2e/test_pipeline.py."""

from __future__ import annotations

import base64
import importlib.util
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "registry_tags.py"
_spec = importlib.util.spec_from_file_location("registry_tags", SCRIPT)
assert _spec and _spec.loader
registry_tags = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(registry_tags)

DIGEST = "sha256:" + "ab" * 32
TOKEN = "t0ken"  # noqa: S105 (a stand-in registry's token)


class _Registry(BaseHTTPRequestHandler):
    """Holds vote:1.0; with `auth` set, wants a bearer token from /token (basic user:pw)."""

    auth = False

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        host = self.headers["Host"]
        if self.path.startswith("/token"):
            if self.headers.get("Authorization") != "Basic " + base64.b64encode(b"user:pw").decode():
                self.send_response(401)
                self.end_headers()
                return
            body = json.dumps({"token": TOKEN}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_error(404, host)

    def do_HEAD(self) -> None:  # noqa: N802
        if self.auth and self.headers.get("Authorization") != f"Bearer {TOKEN}":
            host = self.headers["Host"]
            self.send_response(401)
            self.send_header(
                "WWW-Authenticate", f'Bearer realm="http://{host}/token",service="test",scope="repository:vote:pull"'
            )
            self.end_headers()
            return
        if self.path == "/v2/team/vote/manifests/1.0":
            self.send_response(200)
            self.send_header("Docker-Content-Digest", DIGEST)
        else:
            self.send_response(404)
        self.end_headers()


@pytest.fixture
def registry() -> Iterator[tuple[str, type[_Registry]]]:
    handler = type("Handler", (_Registry,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()


def test_references_split_into_registry_repository_and_tag() -> None:
    assert registry_tags.split_reference("10.213.7.5:5000/vote:build-42") == (
        "10.213.7.5:5000",
        "vote",
        "build-42",
    )
    assert registry_tags.split_reference("docker.io/me/vote:0.2.0") == ("registry-1.docker.io", "me/vote", "0.2.0")
    for bad in ("vote:1", "me/vote:1", "host:5000/vote", "host:5000/vote:-x"):
        with pytest.raises(ValueError, match="is not a registry/repository:tag"):
            registry_tags.split_reference(bad)


def test_plain_http_only_for_loopback_and_private_addresses() -> None:
    assert registry_tags.plain_http("127.0.69.232:5000")
    assert registry_tags.plain_http("10.213.7.5:5000")
    assert registry_tags.plain_http("localhost:5000")
    assert not registry_tags.plain_http("registry.example.com")
    assert not registry_tags.plain_http("registry-1.docker.io")
    assert not registry_tags.plain_http("8.8.8.8:5000")


def test_present_and_missing_tags(registry: tuple[str, type[_Registry]], capsys: pytest.CaptureFixture[str]) -> None:
    address, _handler = registry
    assert registry_tags.digest_of(f"{address}/team/vote:1.0") == DIGEST
    assert registry_tags.digest_of(f"{address}/team/vote:9.9") is None
    assert registry_tags.main([f"{address}/team/vote:1.0", f"{address}/team/vote:9.9"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{address}/team/vote:1.0 {DIGEST}",
        f"{address}/team/vote:9.9 missing",
    ]


def test_bearer_challenge_with_credentials(registry: tuple[str, type[_Registry]]) -> None:
    address, handler = registry
    handler.auth = True
    assert registry_tags.digest_of(f"{address}/team/vote:1.0", "user", "pw") == DIGEST
    with pytest.raises(registry_tags.RegistryError, match="no token"):
        registry_tags.digest_of(f"{address}/team/vote:1.0", "user", "wrong")


def test_unreachable_registry_is_an_error_not_a_missing_tag(capsys: pytest.CaptureFixture[str]) -> None:
    assert registry_tags.main(["127.0.0.1:9/team/vote:1.0"]) == 2
    assert "registry_tags:" in capsys.readouterr().err
