"""Receiving advocacy-bot's CRM webhook: verify the signature and the timestamp, reject replays.

Standard library only. Run: WEBHOOK_SECRET=... python3 webhook_receiver.py (listens on 127.0.0.1:8080;
put it behind your HTTPS reverse proxy).
"""

import hashlib
import hmac
import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Requests stamped further than this from our clock are refused (a captured request replayed later).
TOLERANCE_SECONDS = 300


class Receiver:
    def __init__(self, secret: str) -> None:
        self.secret = secret.encode()
        # Event ids already handled. The bot may send an event again (after a crash mid-request):
        # it is acknowledged and not handled twice. Keep them at least TOLERANCE_SECONDS (here: forever).
        self.seen: set[str] = set()
        self.events: list[dict] = []

    def verify(self, headers, body: bytes) -> tuple[int, str]:
        """(HTTP status, reason) for one request: 200 when handled (or already handled)."""
        timestamp = headers.get("X-Timestamp", "")
        given = headers.get("X-Signature", "")
        expected = "sha256=" + hmac.new(self.secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        # Compared in constant time, so the signature cannot be guessed byte by byte.
        if not hmac.compare_digest(given, expected):
            return 401, "bad signature"
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
            return 401, "stale timestamp"
        event = json.loads(body)
        if event["id"] in self.seen:
            return 200, "already handled"
        self.seen.add(event["id"])
        self.handle(event)
        return 200, "ok"

    def handle(self, event: dict) -> None:
        # Your CRM's work goes here: signature.created adds or updates a supporter, signature.erased
        # deletes them (event["data"]["supporter"] is the same id for one person), pledge.* counts.
        self.events.append(event)


def serve(receiver: Receiver, host: str = "127.0.0.1", port: int = 8080) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status, reason = receiver.verify(self.headers, body)
            self.send_response(status)
            self.end_headers()
            self.wfile.write(reason.encode())

        def log_message(self, *args) -> None:  # the default logs every request to stderr
            pass

    return ThreadingHTTPServer((host, port), Handler)


if __name__ == "__main__":
    serve(Receiver(os.environ["WEBHOOK_SECRET"])).serve_forever()
