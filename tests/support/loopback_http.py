"""A real HTTP server on 127.0.0.1 for sink tests: scripted replies, every request recorded.

Sinks are tested against sockets, not mocks, so what is checked is what goes over the wire:
the bytes of the body, the headers, how many requests a retry policy really made, and how a
client copes with a slow or failing receiver. Use it as a context manager::

    with LoopbackServer([Reply(500), Reply(200, {"ok": True})]) as server:
        sink = WebhookSink("hook", server.url + "/hook")
        ...
        assert len(server.requests) == 2

Replies are used in order, then ``default`` for every later request. A reply may instead be a
callable taking the Recorded request and returning a Reply (a stateful fake, e.g. Elasticsearch).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it; header names are lower-cased."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass(frozen=True)
class Reply:
    """What to answer: a body (bytes, str, or JSON-able), headers, and a delay before it."""

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if isinstance(self.body, bytes):
            data = self.body
        elif isinstance(self.body, str):
            data = self.body.encode("utf-8")
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        else:
            data = json.dumps(self.body).encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
        return data, headers


Responder = Reply | Callable[[Recorded], Reply]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for a handler sleeping through a timeout test

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (timeout tests) makes the late reply fail: expected


class LoopbackServer:
    """A ThreadingHTTPServer on 127.0.0.1 with an OS-chosen port.

    :param replies: replies for the first requests, in order.
    :param default: the reply for every request after those.
    """

    def __init__(self, replies: Iterable[Responder] = (), default: Responder = Reply()) -> None:
        self.replies = list(replies)
        self.default = default
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _next(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
            responder = self.replies.pop(0) if self.replies else self.default
        return responder(request) if callable(responder) else responder

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the ES client's pool expects

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = owner._next(Recorded(self.command, self.path, headers, body))
                if reply.delay and owner._stopping.wait(reply.delay):
                    return
                data, extra = reply.encoded()
                self.send_response(reply.status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def free_port() -> int:
    """A port nothing listens on: bound by us, then released (for connection-refused tests,
    and for servers that need a port number up front)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
