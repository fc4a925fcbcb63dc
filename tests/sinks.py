"""Local receivers for what Whistle sends: a webhook receiver (HTTP) and a mail server (SMTP).
Each records what arrived, with the idempotency key, so tests can count keys."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections import Counter
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """A webhook receiver on 127.0.0.1: records what it got, answers `status` after
    `delay` seconds."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(
                    {"headers": dict(self.headers), "body": body, "at": time.monotonic()}
                )
                if receiver.delay:
                    time.sleep(receiver.delay)
                try:
                    self.send_response(receiver.status)
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:
                    pass  # the client gave up (timeout)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def json(self, i: int = -1) -> dict:
        return json.loads(self.requests[i]["body"])

    def keys(self) -> Counter:
        return Counter(r["headers"].get("X-Whistle-Delivery") for r in self.requests)


class MailSink:
    """An SMTP server on 127.0.0.1 (aiosmtpd). Each message is recorded when its DATA has
    arrived, before the server answers 250 after `delay` seconds — so a sender killed in
    between has delivered a message it does not know about, as with a real mail server."""

    def __init__(self, delay: float = 0.0) -> None:
        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)  # a line per SMTP command
        self.delay = delay
        self.messages: list[dict] = []
        self.lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                msg = message_from_bytes(envelope.content)
                with sink.lock:
                    sink.messages.append(
                        {
                            "key": msg["X-Whistle-Delivery"],
                            "message_id": msg["Message-ID"],
                            "to": list(envelope.rcpt_tos),
                            "subject": msg["Subject"],
                        }
                    )
                if sink.delay:
                    await asyncio.sleep(sink.delay)
                return "250 Message accepted for delivery"

        with socket.socket() as s:  # a free port (aiosmtpd checks it can connect to it)
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> MailSink:
        self.controller.start()
        return self

    def close(self) -> None:
        self.controller.stop()

    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def keys(self) -> Counter:
        with self.lock:
            return Counter(m["key"] for m in self.messages)
