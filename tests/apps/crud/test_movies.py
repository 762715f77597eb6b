"""Every /api/movies route and error case of the spec, direct and through the gateway."""

from __future__ import annotations

import pytest
import requests

from tests.apps.crud.conftest import CrudStack


@pytest.fixture(params=["direct", "gateway"])
def movies(request: pytest.FixtureRequest, stack: CrudStack) -> str:
    """Base URL of /api/movies on inventory-app or on api-gateway, emptied."""
    service = stack.inventory if request.param == "direct" else stack.gateway
    url = service.url + "/api/movies"
    assert requests.delete(url, timeout=10).status_code == 200
    return url


def _create(movies: str, title: str, description: str = "") -> dict[str, object]:
    response = requests.post(movies + "/", json={"title": title, "description": description}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("slash", ["", "/"])
def test_post_then_get_lists_the_movie(movies: str, slash: str) -> None:
    response = requests.post(movies + slash, json={"title": "Alien", "description": "In space"}, timeout=10)
    assert response.status_code == 200
    created = response.json()
    assert created["title"] == "Alien" and created["description"] == "In space"
    listed = requests.get(movies + slash, timeout=10)
    assert listed.status_code == 200
    assert listed.headers["Content-Type"] == "application/json"
    assert listed.json() == {"movies": [created]}


def test_description_is_optional(movies: str) -> None:
    assert _create(movies, "Heat")["description"] == ""
    response = requests.post(movies, json={"title": "Ran"}, timeout=10)
    assert response.status_code == 200 and response.json()["description"] == ""


def test_title_filter_is_a_case_insensitive_substring(movies: str) -> None:
    for title in ("The Matrix", "Matrix Reloaded", "Amélie", "100% Wolf", "1000 Wolves"):
        _create(movies, title)

    def titles(query: str) -> list[str]:
        response = requests.get(movies + "/", params={"title": query}, timeout=10)
        assert response.status_code == 200
        return [movie["title"] for movie in response.json()["movies"]]

    assert titles("matrix") == ["The Matrix", "Matrix Reloaded"]
    assert titles("MATRIX re") == ["Matrix Reloaded"]
    assert titles("amélie") == ["Amélie"]
    # '%' and '_' are characters, not wildcards.
    assert titles("0%") == ["100% Wolf"]
    assert titles("_") == []
    assert titles("nothing like it") == []
    assert len(titles("")) == 5


@pytest.mark.parametrize("slash", ["", "/"])
def test_get_put_delete_one_movie(movies: str, slash: str) -> None:
    movie = _create(movies, "Vertigo", "Hitchcock")
    url = f"{movies}/{movie['id']}{slash}"

    got = requests.get(url, timeout=10)
    assert got.status_code == 200 and got.json() == movie

    changed = requests.put(url, json={"description": "Hitchcock, 1958"}, timeout=10)
    assert changed.status_code == 200
    assert changed.json() == {**movie, "description": "Hitchcock, 1958"}
    renamed = requests.put(url, json={"title": "Vertigo (1958)"}, timeout=10)
    assert renamed.json()["title"] == "Vertigo (1958)" and renamed.json()["description"] == "Hitchcock, 1958"
    assert requests.get(url, timeout=10).json() == renamed.json()

    deleted = requests.delete(url, timeout=10)
    assert deleted.status_code == 200
    assert requests.get(url, timeout=10).status_code == 404
    assert requests.get(movies, timeout=10).json() == {"movies": []}


def test_delete_all_movies(movies: str) -> None:
    for title in ("A", "B", "C"):
        _create(movies, title)
    response = requests.delete(movies + "/", timeout=10)
    assert response.status_code == 200 and response.json()["deleted"] == 3
    assert requests.get(movies, timeout=10).json() == {"movies": []}


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("movie_id", ["999999", "2147483648", "99999999999999999999999", "abc", "-1", "1.5"])
def test_absent_movie_is_404(movies: str, method: str, movie_id: str) -> None:
    _create(movies, "Only one")
    response = requests.request(method, f"{movies}/{movie_id}", json={"title": "x"}, timeout=10)
    assert response.status_code == 404
    assert "error" in response.json()


BAD_BODIES = {
    "no body": b"",
    "malformed JSON": b'{"title": "Alien",',
    "not JSON": b"title=Alien",
    "JSON array": b'["Alien"]',
    "JSON string": b'"Alien"',
    "JSON null": b"null",
    "invalid UTF-8": b'{"title": "\xff\xfe"}',
    "title missing": b'{"description": "no title"}',
    "title a number": b'{"title": 42}',
    "title null": b'{"title": null}',
    "title a list": b'{"title": ["Alien"]}',
    "title empty": b'{"title": "   "}',
    "title too long": b'{"title": "' + b"x" * 256 + b'"}',
    "title with NUL": b'{"title": "Ali\\u0000en"}',
    "lone surrogate": b'{"title": "\\ud800"}',
    "description a number": b'{"title": "Alien", "description": 7}',
    "deeply nested": b"[" * 100_000,
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_movie_body_is_400_with_a_message(movies: str, body: bytes) -> None:
    response = requests.post(movies + "/", data=body, headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 400, response.text
    assert response.json()["error"]
    assert requests.get(movies, timeout=10).json() == {"movies": []}


@pytest.mark.parametrize("body", [b"", b"{bad", b"{}", b'{"unknown": 1}', b'{"title": 3}'])
def test_bad_update_body_is_400(movies: str, body: bytes) -> None:
    movie = _create(movies, "Solaris")
    response = requests.put(f"{movies}/{movie['id']}", data=body, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]
    assert requests.get(f"{movies}/{movie['id']}", timeout=10).json() == movie


def test_sql_looking_text_is_stored_literally(movies: str) -> None:
    title = "Robert'); DROP TABLE movies;--"
    movie = _create(movies, title, "' OR 1=1 --")
    response = requests.get(movies, params={"title": "'); drop"}, timeout=10)
    assert response.json() == {"movies": [movie]}
    assert requests.get(movies, params={"title": "' OR '1'='1"}, timeout=10).json() == {"movies": []}


def test_title_query_with_nul_is_400(movies: str) -> None:
    response = requests.get(movies + "?title=a%00b", timeout=10)
    assert response.status_code == 400


def test_wrong_method_is_405_with_allow(movies: str) -> None:
    response = requests.patch(movies, json={"title": "x"}, timeout=10)
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert requests.post(f"{movies}/1", json={"title": "x"}, timeout=10).status_code == 405


def test_huge_body_is_413(movies: str) -> None:
    body = b'{"title": "big", "description": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = requests.post(movies, data=body, timeout=30)
    assert response.status_code == 413
    assert requests.get(movies, timeout=10).json() == {"movies": []}
