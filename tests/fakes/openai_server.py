"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions API.

Why a real server rather than a mocked client: dspy 3.4 routes ``openai/*`` models
through its bundled lm15 engine, and the only way to learn which exception each
provider failure becomes (and whether ``Retry-After`` survives the trip) is to send
real bytes over a real socket. The server is deliberately dumb: a responder turns
the request's messages into assistant text, and a fault script decides which
requests misbehave.

Every connection carries exactly one request (``Connection: close``), so a
``reset`` fault never hits a pooled connection that the client might silently
retry, and shutdown never waits on idle keep-alive sockets.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import random
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Self

FaultKind = Literal[
    "429", "500", "503", "timeout", "reset", "garbage", "truncated", "trickle", "huge"
]
Responder = Callable[[list[dict[str, Any]]], str]

_COMPLETION_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})
_STATUS_TEXT = {429: "Rate limit reached", 500: "Internal server error", 503: "Overloaded"}


@dataclass(frozen=True)
class Fault:
    """One misbehaviour applied to a single request.

    ``retry_after_s`` is sent as a ``Retry-After`` header (fractional seconds allowed)
    on the status faults ``429``, ``500`` and ``503``; real gateways send it on 503 too. ``hang_s`` only matters for ``timeout``: how
    long the server stalls before answering; it must exceed the client's timeout.

    Hostile bodies: ``trickle`` answers 200 at once, then sends its body one byte every
    ``trickle_s`` seconds, never finishing (each byte resets a read timeout); ``huge`` answers
    200 with a well-formed completion whose content is ``size_bytes`` long, streamed in chunks
    so the fake never holds it in memory.
    """

    kind: FaultKind
    retry_after_s: float | None = None
    hang_s: float = 5.0
    trickle_s: float = 1.0
    size_bytes: int = 100_000_000


@dataclass(frozen=True)
class RecordedRequest:
    """What the client actually sent, kept for assertions."""

    path: str
    headers: Mapping[str, str]
    body: Mapping[str, Any]
    messages: list[dict[str, Any]]
    fault: Fault | None
    received_at: float = field(default_factory=time.monotonic)


def echo_responder(messages: list[dict[str, Any]]) -> str:
    """Default reply: echo the last user message so tests can see it arrived."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return f"echo: {_text_of(message)}"
    return "echo:"


def _text_of(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def _count_tokens(text: str) -> int:
    """A whitespace 'tokenizer': good enough for plausible, deterministic usage numbers."""
    return len(text.split())


class FakeOpenAI:
    """OpenAI chat-completions double, usable as a context manager or a pytest fixture.

    >>> with FakeOpenAI() as server:
    ...     server.script(Fault("429", retry_after_s=1), Fault("500"))
    ...     lm = dspy.LM("openai/fake-model", api_base=server.base_url, api_key="test")

    Configuration (``responder``, ``latency_s``, faults) may change while requests are
    in flight; every read and write of shared state goes through one lock.
    """

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        latency_s: float = 0.0,
        seed: int = 0,
    ) -> None:
        self._lock = threading.Lock()
        self._responder: Responder = responder or echo_responder
        self._latency_s = latency_s
        self._scripted: deque[Fault] = deque()
        self._random_faults: list[tuple[Fault, float]] = []
        self._rng = random.Random(seed)
        self._requests: list[RecordedRequest] = []
        self._body_bytes_sent = 0
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.ollama_models: list[str] | None = None
        """Set: ``GET /api/tags`` lists these, as a local Ollama does; None: 404."""

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> Self:
        """Bind a free port on 127.0.0.1 and serve from a daemon thread."""
        if self._httpd is not None:
            raise RuntimeError("FakeOpenAI already started")
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.fake = self
        self._httpd = httpd
        self._stopping.clear()
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-openai",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop serving; bounded because hanging handlers wait on ``_stopping``."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        httpd.close_open_connections()
        if thread is not None:
            thread.join(timeout_s)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeOpenAI is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, ending in ``/v1`` as clients expect."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- configuration -------------------------------------------------------------

    @property
    def responder(self) -> Responder:
        with self._lock:
            return self._responder

    @responder.setter
    def responder(self, responder: Responder) -> None:
        with self._lock:
            self._responder = responder

    @property
    def latency_s(self) -> float:
        with self._lock:
            return self._latency_s

    @latency_s.setter
    def latency_s(self, latency_s: float) -> None:
        with self._lock:
            self._latency_s = latency_s

    def script(self, *faults: Fault | FaultKind) -> None:
        """Apply these faults, in order, to the next requests; later requests succeed."""
        with self._lock:
            self._scripted.extend(_as_fault(f) for f in faults)

    def fail_randomly(self, faults: Mapping[Fault | FaultKind, float], *, seed: int = 0) -> None:
        """Fail a fraction of requests: each fault maps to its probability per request.

        Reseeds the RNG so a test run is reproducible regardless of earlier traffic.
        Scripted faults take precedence over random ones.
        """
        total = sum(faults.values())
        if any(p < 0 for p in faults.values()) or total > 1.0:
            raise ValueError("fault probabilities must be >= 0 and sum to <= 1")
        with self._lock:
            self._random_faults = [(_as_fault(f), p) for f, p in faults.items()]
            self._rng = random.Random(seed)

    def clear_faults(self) -> None:
        with self._lock:
            self._scripted.clear()
            self._random_faults = []

    def reset(self) -> None:
        """Forget faults and recorded requests; keep responder and latency."""
        with self._lock:
            self._scripted.clear()
            self._random_faults = []
            self._requests.clear()

    # -- observation ---------------------------------------------------------------

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._requests)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def body_bytes_sent(self) -> int:
        """Reply body bytes handed to the socket so far: what a client could have read."""
        with self._lock:
            return self._body_bytes_sent

    def _count_sent(self, size: int) -> None:
        with self._lock:
            self._body_bytes_sent += size

    # -- used by the handler -------------------------------------------------------

    def _admit(
        self,
        path: str,
        headers: Mapping[str, str],
        body: Mapping[str, Any],
    ) -> tuple[Fault | None, float, Responder]:
        """Record a request and decide, atomically, how it will be treated."""
        messages = list(body.get("messages") or [])
        with self._lock:
            fault = self._next_fault_locked()
            self._requests.append(RecordedRequest(path, dict(headers), body, messages, fault))
            return fault, self._latency_s, self._responder

    def _record_rejected(
        self, path: str, headers: Mapping[str, str], body: Mapping[str, Any]
    ) -> None:
        with self._lock:
            messages = list(body.get("messages") or [])
            self._requests.append(RecordedRequest(path, dict(headers), body, messages, None))

    def _next_fault_locked(self) -> Fault | None:
        if self._scripted:
            return self._scripted.popleft()
        if not self._random_faults:
            return None
        roll = self._rng.random()
        for fault, probability in self._random_faults:
            if roll < probability:
                return fault
            roll -= probability
        return None

    def _completion(self, body: Mapping[str, Any], content: str) -> dict[str, Any]:
        messages = body.get("messages") or []
        prompt_tokens = sum(_count_tokens(_text_of(m)) for m in messages if isinstance(m, dict))
        completion_tokens = _count_tokens(content)
        return {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(body.get("model", "fake-model")),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                },
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


def _as_fault(fault: Fault | FaultKind) -> Fault:
    return fault if isinstance(fault, Fault) else Fault(fault)


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops connections under concurrent clients
    """Tracks live sockets so ``stop()`` can cut stalled handlers loose."""

    daemon_threads = True
    block_on_close = False  # bounded shutdown: never join handler threads
    fake: FakeOpenAI

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        with self._open_lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 10  # an idle client cannot pin a handler thread forever

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request stderr logging; tests assert on recorded requests instead."""

    def do_GET(self) -> None:
        """Ollama's model list (``ollama_models``), recorded like any request."""
        fake = self.server.fake
        path = self.path.split("?", 1)[0]
        fake._record_rejected(f"GET {path}", dict(self.headers.items()), {})
        if path != "/api/tags" or fake.ollama_models is None:
            self._send_json(404, {"error": f"no route {path}"})
            return
        self._send_json(200, {"models": [{"name": name} for name in fake.ollama_models]})

    def do_POST(self) -> None:
        fake = self.server.fake
        path = self.path.split("?", 1)[0]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = dict(self.headers.items())
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        if path not in _COMPLETION_PATHS or not isinstance(body, dict):
            # Recorded (so tests can count it) but never consumes a scripted fault.
            fake._record_rejected(path, headers, body if isinstance(body, dict) else {})
            status, message = (404, f"no route {path}") if body is not None else (400, "not JSON")
            self._send_json(
                status, {"error": {"message": message, "type": "invalid_request_error"}}
            )
            return
        fault, latency_s, responder = fake._admit(path, headers, body)
        if latency_s and fake._stopping.wait(latency_s):
            return
        # The client may have given up already (its timeout fired): nothing left to say.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._respond(fake, body, fault, responder)

    def _respond(
        self,
        fake: FakeOpenAI,
        body: Mapping[str, Any],
        fault: Fault | None,
        responder: Responder,
    ) -> None:
        kind = fault.kind if fault else None
        if kind == "reset":
            self._reset_connection()
            return
        if kind == "timeout" and fault is not None and fake._stopping.wait(fault.hang_s):
            return
        if kind in ("429", "500", "503"):
            status = int(kind)
            headers = {}
            if fault is not None and fault.retry_after_s is not None:
                headers["Retry-After"] = f"{fault.retry_after_s:g}"
            error = {"message": _STATUS_TEXT[status], "type": "fake_fault", "code": kind}
            self._send_json(status, {"error": error}, headers)
            return
        if body.get("stream"):
            self._send_json(400, {"error": {"message": "streaming is not supported by the fake"}})
            return
        if kind == "trickle" and fault is not None:
            self._trickle(fake, fault.trickle_s)
            return
        if kind == "huge" and fault is not None:
            self._send_huge(fake, body, fault.size_bytes)
            return
        try:
            content = responder(list(body.get("messages") or []))
        except Exception as error:
            # Surface a broken responder as a 500 the test can read, not a dead socket.
            message = f"responder raised {error!r}"
            self._send_json(500, {"error": {"message": message, "type": "responder_error"}})
            return
        payload = json.dumps(fake._completion(body, content))
        if kind == "garbage":
            self._send_raw(200, b"<html>definitely not json</html>", "application/json")
        elif kind == "truncated":
            encoded = payload.encode()
            self._send_raw(200, encoded[: len(encoded) // 2], "application/json")
        else:
            self._send_raw(200, payload.encode(), "application/json")

    def _send_json(self, status: int, obj: Any, headers: Mapping[str, str] | None = None) -> None:
        self._send_raw(status, json.dumps(obj).encode(), "application/json", headers)

    def _send_raw(
        self,
        status: int,
        data: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.server.fake._count_sent(len(data))

    def _start_body(self, length: int) -> None:
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(length))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()

    def _trickle(self, fake: FakeOpenAI, interval_s: float) -> None:
        """A 200 whose body never ends: one byte per ``interval_s`` until the client leaves."""
        self._start_body(1 << 30)
        with contextlib.suppress(OSError):  # the client gave up: that is the point
            while not fake._stopping.wait(interval_s):
                self.wfile.write(b" ")
                self.wfile.flush()
                fake._count_sent(1)

    def _send_huge(self, fake: FakeOpenAI, body: Mapping[str, Any], size: int) -> None:
        """A well-formed completion with ``size`` bytes of content, written 64 KiB at a time."""
        marker = "@@content@@"
        head, tail = json.dumps(fake._completion(body, marker)).encode().split(marker.encode())
        self._start_body(len(head) + size + len(tail))
        chunk = b"x" * 65536
        with contextlib.suppress(OSError):  # a client that stops reading closes the socket
            self.wfile.write(head)
            for start in range(0, size, len(chunk)):
                if fake._stopping.is_set():
                    return
                part = chunk[: min(len(chunk), size - start)]
                self.wfile.write(part)
                fake._count_sent(len(part))
            self.wfile.write(tail)

    def _reset_connection(self) -> None:
        """Abort with a TCP RST (SO_LINGER 0) so the client sees a genuine reset."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
