"""Building the ``dspy.LM`` an ``LmSettings`` names: for the server's LM tier and for optimize."""

from __future__ import annotations

import os
from typing import Any

from ..settings import LmSettings
from ..store.redaction import mark_secret_variable


def build_lm(settings: LmSettings, *, num_retries: int = 0) -> Any:
    """A ``dspy.LM`` (or the local llama.cpp engine for ``local/<path.gguf>``).

    The server passes ``num_retries=0``: its own retries honour Retry-After and feed the circuit
    breaker. dspy's cache stays off: the server's cache is keyed by unit hash and program
    version, and an optimizer must see fresh answers for each candidate program.
    Raises ``LocalModelError`` when a local model cannot be loaded.
    """
    model = settings.model or ""
    if model.startswith("local/"):
        from .local_engine import local_lm

        return local_lm(
            model,
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
            n_threads=os.cpu_count(),
        )
    import dspy

    kwargs: dict[str, Any] = {
        "num_retries": num_retries,
        "cache": False,
        "max_tokens": settings.max_tokens,
        "timeout": settings.timeout_s,
    }
    if settings.temperature is not None:
        kwargs["temperature"] = settings.temperature
    if settings.api_base:
        kwargs["api_base"] = settings.api_base
    if settings.api_key_env:
        mark_secret_variable(settings.api_key_env)  # whatever its name, never log or store it
        kwargs["api_key"] = os.environ.get(settings.api_key_env, "")
    elif settings.api_base:
        kwargs["api_key"] = "not-needed"
    return dspy.LM(model, **kwargs)
