"""/api/movies: the inventory's only resource."""

from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from inventory_app.database import TITLE_MAX_LENGTH, Database, Movie

# PostgreSQL's integer: a larger id cannot exist, and must not reach the
# database, where it would be an error instead of a 404.
_MAX_ID = 2**31 - 1

bp = Blueprint("movies", __name__, url_prefix="/api/movies")


def _database() -> Database:
    return current_app.extensions["inventory_db"]


def _text(name: str, value: object, max_length: int | None = None) -> str:
    """Check one text field; PostgreSQL rejects NUL and unpaired surrogates, so we do first."""
    if not isinstance(value, str):
        abort(400, f"'{name}' must be a string")
    if "\x00" in value:
        abort(400, f"'{name}' must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        abort(400, f"'{name}' is not valid Unicode text")
    if max_length is not None and len(value) > max_length:
        abort(400, f"'{name}' is longer than {max_length} characters")
    return value


def _movie_fields(*, partial: bool) -> dict[str, str]:
    """The movie fields of the JSON body; unknown keys are ignored."""
    try:
        payload: Any = request.get_json(force=True, silent=True)
    except RecursionError:
        # Deeply nested arrays exhaust the decoder before silent=True applies.
        payload = None
    if not isinstance(payload, dict):
        abort(400, "the request body must be a JSON object")
    fields: dict[str, str] = {}
    if "title" in payload:
        fields["title"] = _text("title", payload["title"], TITLE_MAX_LENGTH).strip()
        if not fields["title"]:
            abort(400, "'title' must not be empty")
    elif not partial:
        abort(400, "'title' is required")
    if "description" in payload:
        fields["description"] = _text("description", payload["description"])
    if not fields:
        abort(400, "give 'title' and/or 'description'")
    return fields


def _get_movie(session: Session, movie_id: int) -> Movie:
    movie = session.get(Movie, movie_id) if movie_id <= _MAX_ID else None
    if movie is None:
        abort(404, f"movie {movie_id} not found")
    return movie


@bp.get("", strict_slashes=False)
def list_movies() -> Response:
    query = select(Movie).order_by(Movie.id)
    title = request.args.get("title")
    if title:
        # autoescape: a '%' or '_' typed by a user is a character, not a wildcard.
        query = query.where(Movie.title.icontains(_text("title", title), autoescape=True))
    with _database().transaction() as session:
        movies = [movie.to_dict() for movie in session.scalars(query)]
    return jsonify(movies=movies)


@bp.post("", strict_slashes=False)
def create_movie() -> Response:
    fields = _movie_fields(partial=False)
    with _database().transaction() as session:
        movie = Movie(title=fields["title"], description=fields.get("description", ""))
        session.add(movie)
        session.flush()
        created = movie.to_dict()
    return jsonify(created)


@bp.delete("", strict_slashes=False)
def delete_movies() -> Response:
    with _database().transaction() as session:
        deleted = session.execute(delete(Movie)).rowcount
    return jsonify(message="all movies deleted", deleted=deleted)


@bp.get("/<id:movie_id>", strict_slashes=False)
def get_movie(movie_id: int) -> Response:
    with _database().transaction() as session:
        return jsonify(_get_movie(session, movie_id).to_dict())


@bp.put("/<id:movie_id>", strict_slashes=False)
def update_movie(movie_id: int) -> Response:
    fields = _movie_fields(partial=True)
    with _database().transaction() as session:
        movie = _get_movie(session, movie_id)
        for name, value in fields.items():
            setattr(movie, name, value)
        session.flush()
        updated = movie.to_dict()
    return jsonify(updated)


@bp.delete("/<id:movie_id>", strict_slashes=False)
def delete_movie(movie_id: int) -> Response:
    with _database().transaction() as session:
        session.delete(_get_movie(session, movie_id))
    return jsonify(message=f"movie {movie_id} deleted")
