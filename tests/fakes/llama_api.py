"""The keyword arguments of ``llama_cpp.Llama.create_chat_completion`` (llama-cpp-python 0.3.36),
so a stand-in for ``Llama`` refuses what the real one would: passing ``stopping_criteria``,
which only ``create_completion`` takes, broke every local call once, unseen by the fakes."""

from __future__ import annotations

from typing import Any

CHAT_COMPLETION_KEYWORDS = frozenset(
    {
        "messages", "functions", "function_call", "tools", "tool_choice", "temperature", "top_p",
        "top_k", "min_p", "typical_p", "stream", "stop", "seed", "response_format", "max_tokens",
        "presence_penalty", "frequency_penalty", "repeat_penalty", "tfs_z", "mirostat_mode",
        "mirostat_tau", "mirostat_eta", "model", "logits_processor", "grammar", "logit_bias",
        "logprobs", "top_logprobs",
    }
)  # fmt: skip


def check_chat_completion_keywords(kwargs: dict[str, Any]) -> None:
    if unknown := sorted(set(kwargs) - CHAT_COMPLETION_KEYWORDS):
        raise TypeError(f"create_chat_completion() got unexpected keyword arguments {unknown}")
