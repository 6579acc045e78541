"""With no LM configured: say once how to turn the LM tier on, or offer a local Ollama's model.

The offer is a question (``window/showMessageRequest``); only the user's "Use" writes the model
to the user's own config (never a project's), and "Never" is remembered. Nothing is used
silently: until the user answers, the rules run on their own as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any, Protocol

from lsprotocol import types

log = logging.getLogger(__name__)

HINT_SHOWN = "lm-hint"
OLLAMA_DECLINED = "ollama-offer-declined"
HINT = (
    "dspy-lsp: no LM configured, so the rules run on their own. To add the LM tier, set"
    " lm.model in your editor settings or ~/.config/dspy-lsp/config.toml: a local GGUF"
    " (local/<path>.gguf), Ollama (ollama_chat/<model>) or an API model (openai/gpt-4o-mini"
    " with lm.api-key-env). See the README, 'Turn on the LM'."
)
NOT_NOW, NEVER = "Not now", "Never"


class Host(Protocol):
    """What the offer needs of the session."""

    restricted: bool

    def tell(self, message: str, warning: bool) -> None: ...
    def window_show_message(self, params: types.ShowMessageParams) -> None: ...
    def window_show_message_request_async(
        self, params: types.ShowMessageRequestParams
    ) -> Any: ...  # an awaitable of MessageActionItem | None
    def reload_settings(self) -> None: ...
    def open_documents(self) -> Iterable[str]: ...
    def request_lm(self, uri: str, trigger: str) -> object: ...


async def offer_local_lm(ls: Host) -> None:
    """Run once per session, when a document first finds the LM tier unconfigured."""
    from ..lm.local_ollama import find_local_ollama
    from ..user_config import noticed

    if ls.restricted:  # the LM tier is off until the workspace is trusted; nothing to offer
        return
    found = None if noticed(OLLAMA_DECLINED) else await asyncio.to_thread(find_local_ollama)
    if found is None:
        _hint_once(ls)
        return
    use = f"Use {found.name}"
    question = types.ShowMessageRequestParams(
        type=types.MessageType.Info,
        message=(
            f"dspy-lsp: no LM is configured, and Ollama answers on this machine with"
            f" {found.name}. Use it for the LM tier? Your code goes only to {found.base_url};"
            " the choice is saved in your own dspy-lsp config."
        ),
        actions=[types.MessageActionItem(title=t) for t in (use, NOT_NOW, NEVER)],
    )
    try:
        answer = await ls.window_show_message_request_async(question)
    except Exception as exc:  # a client without showMessageRequest: fall back to the hint
        log.info("could not offer the local Ollama: %s", exc)
        _hint_once(ls)
        return
    title = answer.title if answer is not None else None
    if title == NEVER:
        _remember(OLLAMA_DECLINED)
    elif title == use:
        _use(ls, found.lm_model, found.api_base)


def _use(ls: Host, model: str, api_base: str) -> None:
    from ..user_config import ConfigNotWritten, remember_lm

    try:
        path = remember_lm(model, api_base)
    except (ConfigNotWritten, OSError) as exc:
        ls.tell(f"dspy-lsp: the LM tier was not turned on: {exc}", True)
        return
    ls.tell(f"dspy-lsp: LM tier on with {model} at {api_base} (saved in {path})", False)
    ls.reload_settings()
    for uri in list(ls.open_documents()):
        ls.request_lm(uri, "open")


def _hint_once(ls: Host) -> None:
    from ..user_config import noticed

    if noticed(HINT_SHOWN):
        return
    ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Info, message=HINT))
    _remember(HINT_SHOWN)


def _remember(key: str) -> None:
    from ..user_config import record_notice

    record_notice(key)
