"""Building the ``dspy.LM`` an ``LmSettings`` names: for the server's LM tier and for optimize."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..settings import LmSettings
from ..store.redaction import mark_secret_variable
from .llama_loading import PREFIX, check_gguf, import_llama_cpp, model_path_of

if TYPE_CHECKING:
    from .local_engine import LlamaEngine


def check_runnable(settings: LmSettings) -> None:
    """Raise ``LocalModelError`` now if ``settings`` names a local model that cannot run (no
    such file, not a GGUF, no llama-cpp-python); an endpoint is only known by asking it."""
    model = settings.model or ""
    if model.startswith(PREFIX):
        check_gguf(model_path_of(model))
        import_llama_cpp()


LOCAL_THREADS = os.cpu_count()


def local_engine(settings: LmSettings) -> LlamaEngine | None:
    """The engine a local model (``local/<gguf>``) runs on, shared with its ``dspy.LM`` (the
    same weights in memory); None for a model served over HTTP."""
    model = settings.model or ""
    if not model.startswith(PREFIX):
        return None
    from .local_engine import LlamaEngine

    return LlamaEngine.shared(model_path_of(model), n_threads=LOCAL_THREADS)


def build_lm(settings: LmSettings, *, num_retries: int = 0) -> Any:
    """A ``dspy.LM`` (or the local llama.cpp engine for ``local/<path.gguf>``).

    The server passes ``num_retries=0``: its own retries honour Retry-After and feed the circuit
    breaker. dspy's cache stays off: the server's cache is keyed by unit hash and program
    version, and an optimizer must see fresh answers for each candidate program.
    Where dspy would use its native (lm15) engine, the LM gets that engine over a transport that
    stops reading a reply at ``reply_cap_bytes``; a model dspy sends through LiteLLM keeps
    LiteLLM's client (bounded by the tier's deadline only).
    Raises ``LocalModelError`` when a local model cannot be loaded.
    """
    model = settings.model or ""
    if model.startswith(PREFIX):
        from .local_engine import local_lm

        return local_lm(
            model,
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
            n_threads=LOCAL_THREADS,
        )
    import dspy
    from dspy.clients.backend_selection import select_backend

    from .transport import capped_engines, reply_cap_bytes

    options: dict[str, Any] = {
        "num_retries": num_retries,
        "cache": False,
        "max_tokens": settings.max_tokens,
    }
    if settings.temperature is not None:
        options["temperature"] = settings.temperature
    client: dict[str, Any] = {"timeout": settings.timeout_s}
    if settings.api_base:
        client["api_base"] = settings.api_base
    if settings.api_key_env:
        mark_secret_variable(settings.api_key_env)  # whatever its name, never log or store it
        client["api_key"] = os.environ.get(settings.api_key_env, "")
    elif settings.api_base:
        client["api_key"] = "not-needed"
    lm = dspy.LM(model, **options, **client)
    route = select_backend(lm)  # offline: the choice dspy itself would make for this LM
    if not route.native or route.resolution is None:
        return lm
    sync, run_async = capped_engines(
        route.resolution.provider, route.clients, reply_cap_bytes(settings.max_tokens)
    )
    return dspy.LM(model, engine=sync, async_engine=run_async, **options)
