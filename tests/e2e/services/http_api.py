"""A small HTTP API with a REST route and a GraphQL endpoint (the callee of the httpx calls)."""

from __future__ import annotations

import signal
import sys
from typing import Any

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.get("/orders/<oid>")
def order(oid: str) -> Any:
    return jsonify({"id": oid, "status": "placed"})


@app.post("/graphql")
def graphql() -> Any:
    payload = request.get_json(silent=True) or {}
    return jsonify({"data": {"echo": payload.get("operationName")}})


@app.get("/health")
def health() -> Any:
    return "ok"


def _stop(signum: int, frame: Any) -> None:
    # A normal exit runs atexit, which flushes the spans still queued.
    sys.exit(0)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _stop)
    app.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True)
