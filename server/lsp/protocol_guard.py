"""The server's side of LSP's rules for the conversation, which pygls leaves unanswered.

pygls drops a request whose params do not decode (the client waits forever), answers a request
before ``initialize`` with an internal error and a traceback, and ignores requests after
``shutdown``. Here every request gets an answer: ``-32602`` for params that do not decode,
``-32002`` before ``initialize``, ``-32600`` after ``shutdown`` (or a second ``initialize``),
``-32700`` for a body that is not JSON. Notifications out of turn are dropped, except ``exit``,
which pygls ends with 0 after ``shutdown`` and 1 without it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cattrs
from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcParseError,
    JsonRpcServerNotInitialized,
)
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import RPCRequest

if TYPE_CHECKING:
    from .framing import FrameReader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Undecoded:
    """A message whose fields do not fit its method's types, and why."""

    data: dict[str, Any]
    error: JsonRpcException


class GuardedProtocol(LanguageServerProtocol):
    """pygls's protocol, answering what it would drop or mis-answer (see the module doc)."""

    _initialize_seen = False

    @property
    def converter(self) -> cattrs.Converter:
        """The cattrs converter pygls built for this protocol (building another takes 20 ms)."""
        return self._converter

    def notify_json(self, method: str, params: dict[str, Any]) -> None:
        """Send a notification whose params are JSON already (``diagnostics_wire``): pygls
        serialises a plain dict as it is, past the converter."""
        self._send_data({"jsonrpc": "2.0", "method": method, "params": params})

    async def serve(self, frames: FrameReader) -> None:
        """Handle each message until the stream ends; ``exit`` raises ``SystemExit``."""
        while (body := await frames.next()) is not None:
            self.receive(body)
            # Messages already buffered come back without a wait: let what this one started
            # (an async handler) take its first step before the next, as it did behind a read.
            await asyncio.sleep(0)

    def receive(self, body: bytes) -> None:
        """Decode one body and handle it; a failing handler is logged, as pygls's loop does."""
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON, or absurd nesting
            log.error("refused a message that is not JSON: %s", exc)
            self._send_response(None, error=JsonRpcParseError(str(exc)).to_response_error())
            return
        if not isinstance(data, dict) or data.get("jsonrpc") != self.VERSION:
            log.error("refused a message that is not a JSON-RPC 2.0 object: %.200r", data)
            msg_id = _msg_id(data) if isinstance(data, dict) else None
            self._send_response(msg_id, error=JsonRpcInvalidRequest().to_response_error())
            return
        try:
            self.handle_message(self.structure_message(data))
        except Exception as exc:
            log.exception("unable to handle a %s message", data.get("method", "response"))
            self._server._report_server_error(exc, JsonRpcException)

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if isinstance(exc.__cause__, cattrs.ClassValidationError):
                problems = "; ".join(cattrs.transform_error(exc.__cause__))
                exc = JsonRpcInvalidParams(f"invalid params: {problems}")
            return Undecoded(data, exc)

    def handle_message(self, message: Any) -> None:
        if isinstance(message, Undecoded):
            self._refuse_undecoded(message)
            return
        method = getattr(message, "method", None)
        if isinstance(method, str):
            out_of_turn = self._out_of_turn(method)
            if out_of_turn is not None:
                if isinstance(message, RPCRequest):
                    self._send_response(message.id, error=out_of_turn.to_response_error())
                else:
                    log.warning("dropped %s: %s", method, out_of_turn.message)
                return
            self._initialize_seen = self._initialize_seen or method == types.INITIALIZE
        super().handle_message(message)

    def _out_of_turn(self, method: str) -> JsonRpcException | None:
        """Why ``method`` may not come now (LSP's lifecycle), or ``None`` if it may."""
        if method == types.EXIT:
            return None
        if not self._initialize_seen:
            if method == types.INITIALIZE:
                return None
            return JsonRpcServerNotInitialized("the server is not initialized yet")
        if method == types.INITIALIZE:
            return JsonRpcInvalidRequest("the server is already initialized")
        if self._shutdown:
            return JsonRpcInvalidRequest("the server is shutting down: only exit may follow")
        return None

    def _refuse_undecoded(self, message: Undecoded) -> None:
        """Answer a request, fail the server's own request a response was for, drop the rest."""
        msg_id, method = _msg_id(message.data), message.data.get("method")
        log.error("could not decode %s: %s", method or "a response", message.error.message)
        if method is not None and msg_id is not None:
            self._send_response(msg_id, error=message.error.to_response_error())
        elif method is None and msg_id is not None:
            self._handle_response(msg_id, error=message.error.to_response_error())


def _msg_id(data: dict[str, Any]) -> int | str | None:
    """The message's id if it is one JSON-RPC allows (a bool is no id)."""
    value = data.get("id")
    return value if isinstance(value, int | str) and not isinstance(value, bool) else None
