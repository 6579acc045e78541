"""A local GGUF model as a DSPy engine: ``lm.model = "local/<path/to/model.gguf>"``.

The model runs in-process through llama-cpp-python (``pip install "dspy-lsp[local]"``); there
is no server and no network. ``LlamaEngine`` implements the dspy 3.4 custom-engine contract
(``complete(Request) -> Response``), ``AsyncLlamaEngine`` runs it in a worker thread, and
``local_lm`` builds the ``dspy.LM`` around both.

Loading llama.cpp without touching the server's stdout is ``llama_loading``'s job.

Threads: one ``Llama`` object is not thread-safe, so every use of it holds the engine's lock;
concurrent requests queue. Cancelling an async call makes the running generation stop at its
next token instead of running on to ``max_tokens`` while later requests wait for the lock.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any

from .llama_loading import (
    PREFIX,
    LocalModelError,
    check_gguf,
    import_llama_cpp,
    model_params,
    model_path_of,
    use_extra_buffers,
)

log = logging.getLogger(__name__)

LOOKUP_TOKENS = 4
"""Prompt-lookup speculative decoding: llama.cpp drafts this many next tokens by finding the
last few in the prompt, and checks them in one batch. A repair writes the unit out again, so
most drafts are right; greedy output is unchanged. Measured on 8 QuixBugs programs' repairs
with the 1.5B model: 9.6 s a unit without and 9.2 s with it on 2 threads, 14.2 s and 10.5 s on
one (a busy machine). It keeps the logits of every token (``logits_all``): about 0.6 MB a
token with a 152k vocabulary, some 600 MB more resident for a 1,000-token exchange. 0 turns
it off."""


_FINISH_REASONS = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_call",
    "function_call": "tool_call",
    "content_filter": "content_filter",
}


class RepetitionStop:
    """Whether a reply repeats itself (checked on every token by ``_stop_when``'s processor).

    Fires when the newest tokens are one block of 1 to ``max_period`` tokens repeated back to
    back over at least ``min_span`` tokens (and at least three times): a small model's run-away
    loop, which would otherwise go on to ``max_tokens`` for minutes. JSON keys recur in every
    finding with other text between them, so a list of findings does not fire it; a finding
    repeated word for word three times does. (llama.cpp's ``repeat_penalty`` is left alone: it
    penalises exactly the keys and brackets a JSON reply must repeat.)
    """

    def __init__(self, max_period: int = 256, min_span: int = 48) -> None:
        self.max_period = max_period
        self.min_span = min_span
        self.fired = False

    def __call__(self, input_ids: Sequence[int]) -> bool:
        tokens = list(input_ids[-3 * self.max_period - self.min_span :])
        for period in range(1, min(self.max_period, len(tokens) // 3) + 1):
            if tokens[-1] != tokens[-1 - period]:
                continue
            span = period * max(3, -(-self.min_span // period))
            if span <= len(tokens) and tokens[-span:-period] == tokens[-span + period :]:
                self.fired = True
                return True
        return False


class _Cancelled(Exception):
    """A generation was abandoned because its caller was cancelled."""


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
        lookup_tokens: int = LOOKUP_TOKENS,
    ) -> None:
        self.model_path = check_gguf(model_path)
        self.lookup_tokens = lookup_tokens
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.chat_format = chat_format
        self.extra_buffers = extra_buffers
        self.load_seconds: float | None = None
        self._lock = threading.Lock()
        self._llm: Any = None

    @classmethod
    def shared(cls, model_path: str | os.PathLike[str], **options: Any) -> LlamaEngine:
        """One engine (one copy of the weights in memory) per file and settings while in use.

        ``options`` are ``__init__``'s; building an engine is cheap (nothing loads until used).
        """
        candidate = cls(model_path, **options)
        key = tuple(sorted(candidate.dump_state().items()))
        with _shared_lock:
            return _shared.setdefault(key, candidate)

    # dspy saves a program's LM with its custom engine only through these two.
    def dump_state(self) -> dict[str, Any]:
        return {
            "model_path": str(self.model_path),
            "n_ctx": self.n_ctx,
            "n_threads": self.n_threads,
            "chat_format": self.chat_format,
            "extra_buffers": self.extra_buffers,
            "lookup_tokens": self.lookup_tokens,
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
        llama_cpp = import_llama_cpp()
        check_gguf(self.model_path)  # it may have gone away since __init__
        extra = use_extra_buffers(self.extra_buffers)
        drafting: dict[str, Any] = {}
        if self.lookup_tokens > 0:
            draft = llama_cpp.llama_speculative.LlamaPromptLookupDecoding
            drafting = {
                "logits_all": True,
                "draft_model": draft(num_pred_tokens=self.lookup_tokens),
            }
        started = time.monotonic()
        try:
            with model_params(use_extra_bufts=extra):
                self._llm = llama_cpp.Llama(
                    model_path=str(self.model_path),
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    chat_format=self.chat_format,
                    verbose=False,
                    **drafting,
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
            # llama-cpp-python's create_chat_completion takes no stopping_criteria (only
            # create_completion does), so both stops end the reply through the logits.
            looping = RepetitionStop()
            kwargs["logits_processor"] = _stop_when(cancel, looping, llm)
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
            # A reply stopped in a loop ran away like one cut off at max_tokens: "length".
            finish_reason="length"
            if looping.fired
            else _FINISH_REASONS.get(choice.get("finish_reason") or "stop", "stop"),
            usage=lm15.Usage(
                input_tokens=usage.get("prompt_tokens"),
                output_tokens=usage.get("completion_tokens"),
                total_tokens=usage.get("total_tokens"),
            ),
        )

    def token_logprobs(self, text: str) -> list[tuple[int, float]]:
        """Each token of ``text`` after the first: (byte offset where it starts, the
        log-probability the model gave it), from one forward pass, no generation. Needs the
        logits of every position, which drafting keeps (``lookup_tokens`` > 0)."""
        import numpy as np

        if self.lookup_tokens <= 0:
            raise LocalModelError("token log-probabilities need lookup_tokens > 0 (logits_all)")
        with self._lock:
            llm = self._ensure_loaded()
            tokens = llm.tokenize(text.encode("utf-8", "surrogatepass"), add_bos=False)
            tokens = tokens[: self.n_ctx]
            llm.reset()
            llm.eval(tokens)
            logits = np.asarray(llm.scores[: len(tokens)], dtype=np.float64)
            pieces = [llm.detokenize([t]) for t in tokens]
            llm.reset()  # the next chat evaluates its own prompt from the start
        peak = logits.max(axis=1, keepdims=True)
        normaliser = peak[:, 0] + np.log(np.exp(logits - peak).sum(axis=1))
        found, offset = [], len(pieces[0]) if pieces else 0
        for i in range(1, len(tokens)):
            found.append((offset, float(logits[i - 1, tokens[i]] - normaliser[i - 1])))
            offset += len(pieces[i])
        return found

    def text_logprobs(self, texts: Sequence[str]) -> list[float]:
        """The log-probability of each of ``texts`` (of its tokens after the first), in one
        hold of the model. Only what differs from what the model holds is evaluated (the text
        before, or the text ``departure_logprobs`` read), so texts that begin alike (edits of
        one unit, sorted) cost a few tokens each; the logits of every position are needed
        (``lookup_tokens`` > 0)."""
        import numpy as np

        if self.lookup_tokens <= 0:
            raise LocalModelError("token log-probabilities need lookup_tokens > 0 (logits_all)")
        found: list[float] = []
        chosen: list[float] = []
        """Log-probability of each token after the first of the text evaluated last."""
        with self._lock:
            llm = self._ensure_loaded()
            for text in texts:
                tokens = llm.tokenize(text.encode("utf-8", "surrogatepass"), add_bos=False)
                tokens = tokens[: self.n_ctx]
                if len(tokens) < 2:
                    found.append(0.0)
                    continue
                held = llm.input_ids[: llm.n_tokens].tolist()
                shared = next(
                    (i for i, (a, b) in enumerate(zip(held, tokens, strict=False)) if a != b),
                    min(len(held), len(tokens)),
                )
                shared = min(shared, len(tokens) - 1)  # the last token is evaluated again
                llm.n_tokens = shared
                llm.eval(tokens[shared:])
                # Rows of held tokens stay valid: read those not yet read, then the new ones.
                known = min(len(chosen), max(shared, 1) - 1)
                rows = np.asarray(llm.scores[known : len(tokens) - 1], dtype=np.float64)
                peak = rows.max(axis=1, keepdims=True)
                normaliser = peak[:, 0] + np.log(np.exp(rows - peak).sum(axis=1))
                picked = rows[np.arange(len(rows)), tokens[known + 1 :]] - normaliser
                chosen = chosen[:known] + picked.tolist()
                found.append(float(sum(chosen)))
            llm.reset()  # the next chat evaluates its own prompt from the start
        return found

    def departure_logprobs(self, text: str, variants: Sequence[str]) -> list[float]:
        """For each of ``variants``, at the first token where it departs from ``text``: the
        log-probability of its token there less that of ``text``'s, all from one forward pass
        over ``text`` (the context before a departure is ``text``'s own). 0 for a variant that
        does not depart within ``text``, or departs at its first token (no context)."""
        import numpy as np

        if self.lookup_tokens <= 0:
            raise LocalModelError("token log-probabilities need lookup_tokens > 0 (logits_all)")
        with self._lock:
            llm = self._ensure_loaded()
            base = llm.tokenize(text.encode("utf-8", "surrogatepass"), add_bos=False)
            base = base[: self.n_ctx]
            departures: list[tuple[int, int] | None] = []
            for variant in variants:
                tokens = llm.tokenize(variant.encode("utf-8", "surrogatepass"), add_bos=False)
                at = next(
                    (i for i, (a, b) in enumerate(zip(base, tokens, strict=False)) if a != b), 0
                )
                departures.append((at, tokens[at]) if at > 0 else None)
            llm.reset()
            llm.eval(base)
            wanted = sorted({d[0] - 1 for d in departures if d is not None})
            logits = np.asarray(llm.scores[wanted], dtype=np.float64) if wanted else None
            # Held, not reset: the edits ``text_logprobs`` scores next begin with this text.
        row_of = {position: i for i, position in enumerate(wanted)}
        # Both tokens share one softmax, so the difference of their logits is the answer.
        return [
            0.0
            if d is None or logits is None
            else float(logits[row_of[d[0] - 1], d[1]] - logits[row_of[d[0] - 1], base[d[0]]])
            for d in departures
        ]

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
    import_llama_cpp()
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


class _Processors(list[Any]):
    """What ``logits_processor`` must be: llama.cpp's sampler iterates it, older code calls it
    (the shape of ``llama_cpp.LogitsProcessorList``, without importing llama_cpp for it)."""

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        for processor in self:
            scores = processor(input_ids, scores)
        return scores


def _stop_when(cancel: threading.Event | None, looping: RepetitionStop, llm: Any) -> Any:
    """A logits processor that leaves end-of-generation as the only choice once the caller is
    cancelled or the reply repeats itself."""
    import numpy as np

    eos = llm.token_eos()

    def processor(input_ids: Any, scores: Any) -> Any:
        if (cancel is not None and cancel.is_set()) or looping.fired or looping(input_ids):
            scores[:] = -np.inf
            scores[eos] = 0.0
        return scores

    return _Processors([processor])
