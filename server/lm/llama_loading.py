"""Loading llama.cpp safely inside a language server: its import, its logs, its stdout.

With ``verbose=False`` llama-cpp-python silences llama.cpp by pointing file descriptors 1 and 2
at /dev/null for the whole process while a model loads, which would also swallow JSON-RPC
messages written by the event loop during those seconds. So llama.cpp's log callback goes to
the ``logging`` logger ``dspy_lsp.llama_cpp`` (quiet unless DEBUG is enabled) and that fd
redirection becomes a no-op. Also here: which files are GGUF models, and the model parameters
llama.cpp's AMX kernels need on CPUs where they crash.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

llama_log = logging.getLogger("dspy_lsp.llama_cpp")

PREFIX = "local/"
INSTALL_HINT = 'pip install "dspy-lsp[local]"  (or: pip install llama-cpp-python)'
GGUF_MAGIC = b"GGUF"


class LocalModelError(RuntimeError):
    """The local model cannot be used: llama-cpp-python is missing, or the file is not a GGUF."""


# -- llama_cpp import, logging and the stdout guard ------------------------------------------
_import_lock = threading.Lock()
_llama_cpp: Any = None
_log_callback: Any = None  # the ctypes callback must stay referenced for as long as it is set


def import_llama_cpp() -> Any:
    """Import llama_cpp once, send its logs to ``logging``, and disable its fd redirection."""
    global _llama_cpp, _log_callback
    with _import_lock:
        if _llama_cpp is not None:
            return _llama_cpp
        try:
            llama_cpp = importlib.import_module("llama_cpp")
        except (ImportError, OSError, RuntimeError) as exc:  # a broken build fails to load its .so
            missing = isinstance(exc, ImportError) and getattr(exc, "name", None) == "llama_cpp"
            what = "is not installed" if missing else f"failed to import ({exc})"
            raise LocalModelError(
                f"local models need llama-cpp-python, which {what}. Install it with: {INSTALL_HINT}"
            ) from exc
        _log_callback = _route_logs(llama_cpp)
        _disable_fd_redirection()
        _llama_cpp = llama_cpp
        return llama_cpp


_MODEL_FILE_QUIRKS = ("control-looking token", "special_eos_id is not in special_eog_ids")
"""llama.cpp warnings about a model file's tokenizer metadata that it fixes itself on every
load (Qwen2.5 GGUFs raise both): nothing a user can act on, so DEBUG rather than stderr."""


def _route_logs(llama_cpp: Any) -> Any:
    """Replace llama.cpp's log callback (which prints to stderr) with one that uses logging."""
    # ggml_log_level in the llama.cpp this wheel builds (checked with 0.3.36): NONE=0 DEBUG=1
    # INFO=2 WARN=3 ERROR=4 CONT=5. llama_cpp/_logger.py still maps the older enum.
    levels = {1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}
    last = [logging.DEBUG]

    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes, user_data: Any) -> None:
        message = text.decode("utf-8", "replace").rstrip()
        mapped = last[0] if level == 5 else levels.get(level, logging.DEBUG)
        if any(known in message for known in _MODEL_FILE_QUIRKS):
            mapped = logging.DEBUG
        last[0] = mapped
        # llama.cpp's INFO chatter (hundreds of lines per load) is DEBUG for us.
        effective = logging.DEBUG if mapped <= logging.INFO else mapped
        if message and llama_log.isEnabledFor(effective):
            llama_log.log(effective, "%s", message)

    llama_cpp.llama_log_set(callback, None)
    return callback


class _NoRedirect:
    """Stands in for ``llama_cpp._utils.suppress_stdout_stderr``: redirects nothing."""

    def __init__(self, disable: bool = True) -> None:
        pass

    def __enter__(self) -> _NoRedirect:
        return self

    def __exit__(self, *_: object) -> None:
        return None


def _disable_fd_redirection() -> None:
    # ``suppress_stdout_stderr`` dup2()s /dev/null over fds 1 and 2 process-wide; with the log
    # callback above it has nothing left to hide, and it would eat concurrent JSON-RPC output.
    for name in ("llama_cpp.llama", "llama_cpp._internals", "llama_cpp.llama_chat_format"):
        module = importlib.import_module(name)
        if hasattr(module, "suppress_stdout_stderr"):
            module.suppress_stdout_stderr = _NoRedirect


# -- paths ------------------------------------------------------------------------------------
def model_path_of(model_string: str) -> Path:
    """``"local/~/models/x.gguf"`` -> ``~/models/x.gguf`` expanded; absolute paths keep their /."""
    name = model_string[len(PREFIX) :] if model_string.startswith(PREFIX) else model_string
    if not name:
        raise LocalModelError(f"{model_string!r} names no file; use local/<path/to/model.gguf>")
    return Path(os.path.expandvars(os.path.expanduser(name)))


def model_label(model: str) -> str:
    """How a model string is shown: ``local//abs/m.gguf`` (an absolute path after ``local/``)
    as ``local:/abs/m.gguf``, without the doubled slash; other strings as they are."""
    if model.startswith(PREFIX + "/"):
        return f"local:{model[len(PREFIX) :]}"
    return model


def check_gguf(path: str | os.PathLike[str]) -> Path:
    """The path, resolved, if it is a readable GGUF file; LocalModelError otherwise."""
    p = Path(path).expanduser()
    if not p.exists():
        raise LocalModelError(f"local model file not found: {p} (cwd {os.getcwd()})")
    if not p.is_file():
        raise LocalModelError(f"local model path is not a file: {p}")
    try:
        with p.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise LocalModelError(f"cannot read local model file {p}: {exc}") from exc
    if magic != GGUF_MAGIC:
        raise LocalModelError(
            f"{p} is not a GGUF model file (it starts with {magic!r}, not b'GGUF'); "
            "llama.cpp needs a .gguf file, e.g. a Q4_K_M quantization"
        )
    return p.resolve()


# -- model parameters llama_cpp.Llama does not expose -----------------------------------------
_params_lock = threading.Lock()


def _cpu_has_amx() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            return any(line.startswith("flags") and " amx_tile" in line for line in fh)
    except OSError:
        return False


def use_extra_buffers(setting: bool | None) -> bool:
    if setting is not None:
        return setting
    env = os.environ.get("DSPY_LSP_LLAMA_EXTRA_BUFFERS", "").strip().lower()
    if env in ("0", "false", "no", "off"):
        return False
    if env in ("1", "true", "yes", "on"):
        return True
    return not _cpu_has_amx()


@contextmanager
def model_params(**overrides: Any) -> Iterator[None]:
    """Make ``llama_model_default_params()`` return ``overrides`` while a Llama is built."""
    from llama_cpp import llama_cpp as lib

    original = lib.llama_model_default_params

    def patched() -> Any:
        params = original()
        for name, value in overrides.items():
            if any(field == name for field, *_ in type(params)._fields_):
                setattr(params, name, value)
        return params

    with _params_lock:
        lib.llama_model_default_params = patched
        try:
            yield
        finally:
            lib.llama_model_default_params = original
