"""The ceiling of ``bench/hot_path.py``: a bare Flask JSON route, served by the same gunicorn.

It answers ``GET /ceiling/<number>`` with a small JSON object, as the public status does, and
nothing else: no database, no rate limit, no logging. Whatever the router does beyond this is
its own cost.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify

app = Flask(__name__)


@app.get("/ceiling/<string:number>")
def ceiling(number: str) -> Response:
    """A JSON answer shaped like the v2 status."""
    return jsonify(cardNumber=number, status="ACTIVE")
