"""Stand-ins for external vendors (Mailchimp, Algolia): ``python vendors.py mailchimp=PORT ...``.

Each listens on 127.0.0.1 at its own port and answers every request with a small JSON body. They
run without tracing, as a vendor's servers would.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20


def handler_for(vendor: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self.send_error(413)
                return
            if length:
                self.rfile.read(length)
            body = json.dumps({"vendor": vendor, "ok": True}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _answer  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    return Handler


def main(argv: list[str]) -> int:
    servers: list[ThreadingHTTPServer] = []
    for spec in argv:
        vendor, _, port = spec.partition("=")
        try:
            servers.append(ThreadingHTTPServer(("127.0.0.1", int(port)), handler_for(vendor)))
        except (OSError, ValueError) as exc:
            print(f"vendors: cannot serve {spec!r}: {exc}", file=sys.stderr)
            return 2
    # A signal handler must take no lock (threading.Event.set does, and a second signal that
    # arrives inside it deadlocks the process): it appends, and the loop looks.
    signals: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _: signals.append(signum))
    signal.signal(signal.SIGINT, lambda signum, _: signals.append(signum))
    for server in servers:
        # It looks for shutdown() every 0.1 s, not the standard 0.5: the demo's stop waits for it.
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        ).start()
    print("vendors: ready", file=sys.stderr, flush=True)
    while not signals:
        time.sleep(0.1)
    for server in servers:
        server.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
