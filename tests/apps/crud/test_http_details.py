"""HTTP details an outside tester checks, on the real services: races, ids,
headers, error bodies."""

from __future__ import annotations

import http.client
import threading
import time
from urllib.parse import urlsplit

import psycopg
import pytest
import requests
from api_gateway import create_app as create_gateway
from api_gateway.config import GatewaySettings

from tests.apps.crud.conftest import CrudStack
from tests.support.servers import PostgresServer


def create_movie(base: str, title: str) -> int:
    answer = requests.post(base + "/api/movies", json={"title": title}, timeout=10)
    assert answer.status_code == 200
    return int(answer.json()["id"])


@pytest.mark.parametrize("through", ["inventory", "gateway"])
def test_a_put_racing_a_delete_is_404_not_500(stack: CrudStack, inventory_db: PostgresServer, through: str) -> None:
    base = stack.inventory.url if through == "inventory" else stack.gateway.url
    movie_id = create_movie(base, "Racing")
    answers: list[requests.Response] = []
    with psycopg.connect(inventory_db.dsn) as conn:
        # Hold the row: the PUT reads it, then waits on it to write.
        conn.execute("SELECT id FROM movies WHERE id = %s FOR UPDATE", (movie_id,))
        put = threading.Thread(
            target=lambda: answers.append(
                requests.put(f"{base}/api/movies/{movie_id}", json={"title": "Renamed"}, timeout=30)
            )
        )
        put.start()
        time.sleep(1)
        # The DELETE wins the race and commits while the PUT waits.
        conn.execute("DELETE FROM movies WHERE id = %s", (movie_id,))
        conn.commit()
        put.join(timeout=30)
    [answer] = answers
    assert answer.status_code == 404, answer.text
    assert "not found" in answer.json()["error"]


# ARABIC-INDIC DIGIT THREE, FULLWIDTH DIGIT THREE, SUPERSCRIPT THREE: \d matches the first two.
@pytest.mark.parametrize("digit", ["%D9%A3", "%EF%BC%93", "%C2%B3"])
def test_ids_are_ascii_digits_only(stack: CrudStack, digit: str) -> None:
    movie_id = create_movie(stack.inventory.url, "Three")
    assert movie_id > 0
    for base in (stack.inventory.url, stack.gateway.url):
        for method in ("GET", "PUT", "DELETE"):
            answer = requests.request(method, f"{base}/api/movies/{digit}", json={"title": "x"}, timeout=10)
            assert answer.status_code == 404, (base, method, digit)


def raw_headers(url: str, method: str = "GET") -> list[tuple[str, str]]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, parts.path)
        return conn.getresponse().getheaders()
    finally:
        conn.close()


def test_the_gateway_app_passes_no_upstream_date_or_server_header(stack: CrudStack) -> None:
    """inventory-app's Date and Server are its own server's: the WSGI app must
    not hand them on, or any server that adds its own (most do) sends two."""
    settings = GatewaySettings.from_env(
        {"RABBITMQ_USER": "x", "RABBITMQ_PASSWORD": "x", "INVENTORY_APP_HOST": "127.0.0.1",
         "INVENTORY_APP_PORT": str(stack.inventory.port)}
    )  # fmt: skip
    answer = create_gateway(settings).test_client().get("/api/movies")
    assert answer.status_code == 200
    assert "Date" not in answer.headers and "Server" not in answer.headers, dict(answer.headers)


@pytest.mark.parametrize("path", ["/api/movies", "/api/movies/999999", "/livez", "/nope"])
def test_the_gateway_sends_one_date_and_one_server_header(stack: CrudStack, path: str) -> None:
    # End to end under gunicorn (which, in version 27, also drops an app's own Date and Server).
    names = [name.lower() for name, _value in raw_headers(stack.gateway.url + path)]
    assert names.count("date") == 1 and names.count("server") == 1, names


def test_csp_forbids_framing(stack: CrudStack) -> None:
    for url in (stack.gateway.url + "/api/movies", stack.inventory.url + "/api/movies", stack.gateway.url + "/nope"):
        assert "frame-ancestors 'none'" in requests.get(url, timeout=10).headers["Content-Security-Policy"]


def test_405_carries_allow_through_the_gateway(stack: CrudStack) -> None:
    answer = requests.patch(stack.gateway.url + "/api/billing", json={}, timeout=10)
    assert answer.status_code == 405 and "POST" in answer.headers["Allow"]
    answer = requests.post(stack.gateway.url + "/api/movies/1", json={}, timeout=10)
    assert answer.status_code == 405 and "PUT" in answer.headers["Allow"]
