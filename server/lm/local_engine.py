"""A local GGUF model as a DSPy engine: ``lm.model = "local/<path/to/model.gguf>"``.

The model runs in-process through llama-cpp-python (``pip install "dspy-lsp[local]"``); there
is no server and no network. ``LlamaEngine`` implements the dspy 3.4 custom-engine contract
(``complete(Request) -> Response``), ``AsyncLlamaEngine`` runs it in a worker thread, and
``local_lm`` builds the ``dspy.LM`` around both.

Output hygiene: the language server's stdout *is* the JSON-RPC stream. With ``verbose=False``
llama-cpp-python silences llama.cpp by pointing file descriptors 1 and 2 at /dev/null for the
whole process while a model loads, which would also swallow JSON-RPC messages written by the
event loop during those seconds. So we route llama.cpp's log callback into the ``logging``
logger ``dspy_lsp.llama_cpp`` instead (quiet unless DEBUG is enabled) and turn that fd
redirection into a no-op. Nothing here writes to stdout.

Threads: one ``Llama`` object is not thread-safe, so every use of it holds the engine's lock;
concurrent requests queue. Cancelling an async call makes the running generation stop at its
next token instead of running on to ``max_tokens`` while later requests wait for the lock.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
llama_log = logging.getLogger("dspy_lsp.llama_cpp")

PREFIX = "local/"
INSTALL_HINT = 'pip install "dspy-lsp[local]"  (or: pip install llama-cpp-python)'
GGUF_MAGIC = b"GGUF"

_FINISH_REASONS = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_call",
    "function_call": "tool_call",
    "content_filter": "content_filter",
}


class LocalModelError(RuntimeError):
    """The local model cannot be used: llama-cpp-python is missing, or the file is not a GGUF."""


class _Cancelled(Exception):
    """A generation was abandoned because its caller was cancelled."""


# -- llama_cpp import, logging and the stdout guard ------------------------------------------
_import_lock = threading.Lock()
_llama_cpp: Any = None
_log_callback: Any = None  # the ctypes callback must stay referenced for as long as it is set


def _import_llama_cpp() -> Any:
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


def _route_logs(llama_cpp: Any) -> Any:
    """Replace llama.cpp's log callback (which prints to stderr) with one that uses logging."""
    # ggml_log_level in the llama.cpp this wheel builds (checked with 0.3.36): NONE=0 DEBUG=1
    # INFO=2 WARN=3 ERROR=4 CONT=5. llama_cpp/_logger.py still maps the older enum.
    levels = {1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}
    last = [logging.DEBUG]

    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes, user_data: Any) -> None:
        # llama.cpp's INFO chatter (hundreds of lines per load) is DEBUG for us.
        mapped = last[0] if level == 5 else levels.get(level, logging.DEBUG)
        last[0] = mapped
        effective = logging.DEBUG if mapped <= logging.INFO else mapped
        if llama_log.isEnabledFor(effective):
            message = text.decode("utf-8", "replace").rstrip()
            if message:
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


def llama_cpp_available() -> bool:
    """True when llama-cpp-python can be imported (imports it, so it costs ~0.1-0.5 s once)."""
    try:
        _import_llama_cpp()
    except LocalModelError:
        return False
    return True


# -- paths ------------------------------------------------------------------------------------
def model_path_of(model_string: str) -> Path:
    """``"local/~/models/x.gguf"`` -> ``~/models/x.gguf`` expanded; absolute paths keep their /."""
    name = model_string[len(PREFIX) :] if model_string.startswith(PREFIX) else model_string
    if not name:
        raise LocalModelError(f"{model_string!r} names no file; use local/<path/to/model.gguf>")
    return Path(os.path.expandvars(os.path.expanduser(name)))


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


def _use_extra_buffers(setting: bool | None) -> bool:
    if setting is not None:
        return setting
    env = os.environ.get("DSPY_LSP_LLAMA_EXTRA_BUFFERS", "").strip().lower()
    if env in ("0", "false", "no", "off"):
        return False
    if env in ("1", "true", "yes", "on"):
        return True
    return not _cpu_has_amx()


@contextmanager
def _model_params(**overrides: Any) -> Iterator[None]:
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


# -- the engine -------------------------------------------------------------------------------
_shared: weakref.WeakValueDictionary[tuple[Any, ...], LlamaEngine] = weakref.WeakValueDictionary()
_shared_lock = threading.Lock()


class LlamaEngine:
    """dspy custom engine running a GGUF through ``llama_cpp.Llama`` in this process.

    The file is checked when the engine is built; llama_cpp is imported and the model loaded
    on the first ``complete`` (or ``load``), which takes seconds: call ``load`` from a worker
    thread to warm it up. ``close`` frees the model; a later call loads it again.

    ``extra_buffers``: let ggml use its extra CPU buffer types (AMX, weight repacking). None
    means on, unless the CPU advertises AMX or ``DSPY_LSP_LLAMA_EXTRA_BUFFERS=0``: with
    llama-cpp-python 0.3.36 (built from source with the native flags) on an AMX CPU in a
    Firecracker VM, the first decode segfaulted in ``ggml_backend_amx_mul_mat``.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        n_ctx: int = 4096,
        n_threads: int | None = None,
        chat_format: str | None = None,
        extra_buffers: bool | None = None,
    ) -> None:
        self.model_path = check_gguf(model_path)
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.chat_format = chat_format
        self.extra_buffers = extra_buffers
        self.load_seconds: float | None = None
        self._lock = threading.Lock()
        self._llm: Any = None

    @classmethod
    def shared(
        cls,
        model_path: str | os.PathLike[str],
        n_ctx: int = 4096,
        n_threads: int | None = None,
        chat_format: str | None = None,
        extra_buffers: bool | None = None,
    ) -> LlamaEngine:
        """One engine (one copy of the weights in memory) per file and settings while in use."""
        key = (str(check_gguf(model_path)), n_ctx, n_threads, chat_format, extra_buffers)
        with _shared_lock:
            engine = _shared.get(key)
            if engine is None:
                engine = cls(
                    model_path,
                    n_ctx=n_ctx,
                    n_threads=n_threads,
                    chat_format=chat_format,
                    extra_buffers=extra_buffers,
                )
                _shared[key] = engine
            return engine

    # dspy saves a program's LM with its custom engine only through these two.
    def dump_state(self) -> dict[str, Any]:
        return {
            "model_path": str(self.model_path),
            "n_ctx": self.n_ctx,
            "n_threads": self.n_threads,
            "chat_format": self.chat_format,
            "extra_buffers": self.extra_buffers,
        }

    @classmethod
    def load_state(cls, state: dict[str, Any]) -> LlamaEngine:
        return cls.shared(**state)

    @property
    def loaded(self) -> bool:
        return self._llm is not None

    def load(self) -> None:
        """Load the model now (blocking, seconds) unless it is already loaded."""
        with self._lock:
            self._ensure_loaded()

    def _ensure_loaded(self) -> Any:
        if self._llm is not None:
            return self._llm
        llama_cpp = _import_llama_cpp()
        check_gguf(self.model_path)  # it may have gone away since __init__
        extra = _use_extra_buffers(self.extra_buffers)
        started = time.monotonic()
        try:
            with _model_params(use_extra_bufts=extra):
                self._llm = llama_cpp.Llama(
                    model_path=str(self.model_path),
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    chat_format=self.chat_format,
                    verbose=False,
                )
        except ValueError as exc:  # llama_cpp's "Failed to load model from file"
            raise LocalModelError(f"llama.cpp could not load {self.model_path}: {exc}") from exc
        self.load_seconds = time.monotonic() - started
        log.info(
            "loaded %s in %.1fs (extra CPU buffer types %s)",
            self.model_path.name,
            self.load_seconds,
            "on" if extra else "off",
        )
        return self._llm

    def complete(self, request: Any, cancel: threading.Event | None = None) -> Any:
        """Run one chat completion; ``cancel`` set mid-generation stops it at the next token."""
        from dspy import lm15

        messages = _chat_messages(request)
        kwargs = _sampling_kwargs(request.config)
        with self._lock:
            if cancel is not None and cancel.is_set():
                raise _Cancelled()
            try:
                llm = self._ensure_loaded()
            except LocalModelError as exc:
                # dspy reports lm15 ConfigurationError as a non-retryable LMConfigurationError.
                raise lm15.ConfigurationError(str(exc)) from exc
            if cancel is not None:
                kwargs["logits_processor"] = _stop_when(cancel, llm)
            try:
                out = llm.create_chat_completion(messages=messages, **kwargs)
            except ValueError as exc:
                if "exceed context window" in str(exc):
                    raise lm15.ContextLengthError(f"{exc} (n_ctx={self.n_ctx})") from exc
                raise
        if cancel is not None and cancel.is_set():
            raise _Cancelled()
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        return lm15.Response(
            id=out.get("id"),
            model=request.model,
            message=lm15.Message.assistant(choice["message"].get("content") or ""),
            finish_reason=_FINISH_REASONS.get(choice.get("finish_reason") or "stop", "stop"),
            usage=lm15.Usage(
                input_tokens=usage.get("prompt_tokens"),
                output_tokens=usage.get("completion_tokens"),
                total_tokens=usage.get("total_tokens"),
            ),
        )

    def close(self) -> None:
        """Free the model (waits for a running call); the next call loads it again."""
        with self._lock:
            llm, self._llm = self._llm, None
        if llm is not None:
            llm.close()


class AsyncLlamaEngine:
    """Async face of a ``LlamaEngine``: each call runs in a worker thread (``asyncio.to_thread``)."""

    def __init__(self, sync: LlamaEngine) -> None:
        self.sync = sync

    def dump_state(self) -> dict[str, Any]:
        return self.sync.dump_state()

    @classmethod
    def load_state(cls, state: dict[str, Any]) -> AsyncLlamaEngine:
        return cls(LlamaEngine.load_state(state))

    async def complete(self, request: Any) -> Any:
        cancel = threading.Event()
        try:
            return await asyncio.to_thread(self.sync.complete, request, cancel)
        except asyncio.CancelledError:
            cancel.set()  # the thread cannot be killed, but it stops generating at once
            raise

    async def aclose(self) -> None:
        await asyncio.to_thread(self.sync.close)


def local_lm(
    model_string: str,
    *,
    max_tokens: int | None,
    temperature: float | None,
    n_ctx: int = 4096,
    n_threads: int | None = None,
    chat_format: str | None = None,
    num_retries: int = 0,
) -> Any:
    """``dspy.LM`` for ``"local/<path/to/model.gguf>"``, backed by a shared ``LlamaEngine``.

    Fails fast (LocalModelError) when llama-cpp-python is missing or the file is not a GGUF.
    Custom engines own their connection settings, so dspy refuses ``api_key``, ``api_base``
    and ``timeout`` here; there is no network to time out. DSPy's cache is off (the server
    keeps its own). The model itself loads on the first call.
    """
    import dspy

    path = model_path_of(model_string)
    check_gguf(path)
    _import_llama_cpp()
    engine = LlamaEngine.shared(path, n_ctx=n_ctx, n_threads=n_threads, chat_format=chat_format)
    name = model_string if model_string.startswith(PREFIX) else PREFIX + model_string
    kwargs: dict[str, Any] = {"num_retries": num_retries, "cache": False}
    if max_tokens is not None:
        kwargs["max_tokens"] = max_tokens
    if temperature is not None:
        kwargs["temperature"] = temperature
    return dspy.LM(name, engine=engine, async_engine=AsyncLlamaEngine(engine), **kwargs)


# -- request translation ----------------------------------------------------------------------
def _text_of(parts: Any, where: str) -> str:
    from dspy import lm15

    if isinstance(parts, str):
        return parts
    texts = []
    for part in parts:
        text = getattr(part, "text", None)
        if not isinstance(text, str):
            raise lm15.UnsupportedFeatureError(
                f"local models take text only; {where} has a {type(part).__name__}",
                feature="multimodal",
            )
        texts.append(text)
    return "\n".join(texts)


def _chat_messages(request: Any) -> list[dict[str, str]]:
    from dspy import lm15

    if request.tools:
        raise lm15.UnsupportedFeatureError(
            "local models do not support tool calls", feature="tools"
        )
    messages: list[dict[str, str]] = []
    if request.system:
        messages.append(
            {"role": "system", "content": _text_of(request.system, "the system prompt")}
        )
    for m in request.messages:
        if m.role not in ("user", "assistant", "developer"):
            raise lm15.UnsupportedFeatureError(
                f"local models do not support {m.role} messages", feature=m.role
            )
        role = "system" if m.role == "developer" else m.role
        messages.append({"role": role, "content": _text_of(m.parts, f"a {m.role} message")})
    return messages


def _sampling_kwargs(config: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for name in (
        "temperature",
        "max_tokens",
        "top_p",
        "top_k",
        "seed",
        "frequency_penalty",
        "presence_penalty",
    ):
        value = getattr(config, name, None)
        if value is not None:
            kwargs[name] = value
    if getattr(config, "stop", None):
        kwargs["stop"] = list(config.stop)
    fmt = getattr(config, "response_format", None)
    if isinstance(fmt, dict):
        if fmt.get("type") == "json_schema":
            schema = (fmt.get("json_schema") or {}).get("schema")
            kwargs["response_format"] = {
                "type": "json_object",
                **({"schema": schema} if schema else {}),
            }
        elif fmt.get("type") == "json_object":
            kwargs["response_format"] = dict(fmt)
    return kwargs


def _stop_when(cancel: threading.Event, llm: Any) -> Any:
    """A logits processor that leaves end-of-generation as the only choice once cancelled."""
    import numpy as np
    from llama_cpp import LogitsProcessorList

    eos = llm.token_eos()

    def processor(input_ids: Any, scores: Any) -> Any:
        if cancel.is_set():
            scores[:] = -np.inf
            scores[eos] = 0.0
        return scores

    return LogitsProcessorList([processor])
