"""/api/movies...: forwarded as-is (method, path, query, body, status) to inventory-app."""

from collections.abc import Iterable
from urllib.parse import quote

import requests
from flask import Blueprint, Response, abort, current_app, jsonify, request

# Headers that describe one connection, not the message (RFC 9110 7.6.1), plus
# those requests and werkzeug recompute for the new connection.
_NOT_FORWARDED = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}
# Headers of inventory-app's answer that gunicorn sets again on ours: passed
# along, they would be sent twice.
_NOT_RETURNED = _NOT_FORWARDED | {"date", "server"}
PROXIED_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
# Connect fast to tell "down" from "slow"; a movie query never takes 30 s.
_TIMEOUT = (3.0, 30.0)

bp = Blueprint("inventory_proxy", __name__)


def _forwardable(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name: value for name, value in headers if name.lower() not in _NOT_FORWARDED}


@bp.route("/api/movies", methods=PROXIED_METHODS, strict_slashes=False, defaults={"subpath": ""})
@bp.route("/api/movies/<path:subpath>", methods=PROXIED_METHODS)
def forward(subpath: str) -> Response | tuple[Response, int]:
    # The HTTP client would resolve "..", so /api/movies/../../x must not
    # reach another path of inventory-app.
    if any(segment in {".", ".."} for segment in subpath.split("/")):
        abort(404)
    session: requests.Session = current_app.extensions["inventory_session"]
    url = current_app.config["INVENTORY_URL"] + quote(request.path)
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    try:
        upstream = session.request(
            request.method,
            url,
            data=request.get_data(),
            headers=_forwardable(request.headers.items()),
            timeout=_TIMEOUT,
            allow_redirects=False,
            stream=True,
        )
    except requests.ConnectionError as exc:
        current_app.logger.warning("inventory-app unreachable: %s", exc)
        return jsonify(error="the inventory service is unavailable, try again later"), 503
    except requests.Timeout:
        return jsonify(error="the inventory service did not answer in time"), 504
    with upstream:
        # decode_content=False keeps the body byte for byte, matching the
        # Content-Encoding header passed along with it.
        body = upstream.raw.read(decode_content=False)
    headers = {name: value for name, value in upstream.headers.items() if name.lower() not in _NOT_RETURNED}
    return Response(body, status=upstream.status_code, headers=headers)
