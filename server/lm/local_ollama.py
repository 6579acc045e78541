"""A local Ollama, found on its loopback port, as a model the user may choose for the LM tier.

Only asked at the loopback address (``$DSPY_LSP_OLLAMA_URL`` may move the port, never the host
off this machine), with no proxy, and only to list models: nothing about the project is sent.
The model it offers is reached through Ollama's OpenAI-compatible endpoint, the path the LM
tier's tests run.
"""

from __future__ import annotations

import ipaddress
import json
import os
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_URL = "http://127.0.0.1:11434"
URL_VARIABLE = "DSPY_LSP_OLLAMA_URL"
PROBE_TIMEOUT_S = 0.5
MAX_REPLY_BYTES = 1_000_000


@dataclass(frozen=True)
class OllamaModel:
    name: str
    base_url: str

    @property
    def lm_model(self) -> str:
        return f"openai/{self.name}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/v1"


def ollama_url() -> str | None:
    """Where to look; None when the variable points off this machine."""
    url = os.environ.get(URL_VARIABLE, DEFAULT_URL).rstrip("/")
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return url
    try:
        return url if ipaddress.ip_address(host).is_loopback else None
    except ValueError:
        return None


def find_local_ollama(timeout_s: float = PROBE_TIMEOUT_S) -> OllamaModel | None:
    """The model to offer (a coder model first) if Ollama answers here with any; else None."""
    url = ollama_url()
    if url is None:
        return None
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{url}/api/tags", timeout=timeout_s) as reply:
            listed = json.loads(reply.read(MAX_REPLY_BYTES))
    except (OSError, ValueError):
        return None
    models = listed.get("models") if isinstance(listed, dict) else None
    names = [
        m["name"] for m in models or () if isinstance(m, dict) and isinstance(m.get("name"), str)
    ]
    if not names:
        return None
    coders = [name for name in names if "coder" in name.lower()]
    return OllamaModel((coders or names)[0], url)
