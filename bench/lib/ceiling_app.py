"""The front door's ceiling: the least a vote handler can do (cookie + RPUSH).

Served by gunicorn with 4 sync workers next to the real vote app, so the
bench can say how much of the possible rate the whole pipeline keeps.
"""

from __future__ import annotations

import json
import os
import secrets

import redis
from flask import Flask, Response, request

app = Flask(__name__)
queue = redis.Redis(host="127.0.0.1", port=int(os.environ["REDIS_PORT"]))


@app.post("/")
def vote() -> Response:
    voter_id = request.cookies.get("voter_id") or secrets.token_hex(16)
    queue.rpush("votes", json.dumps({"voter_id": voter_id, "vote": request.form["vote"]}))
    response = Response("ok")
    response.set_cookie("voter_id", voter_id)
    return response
