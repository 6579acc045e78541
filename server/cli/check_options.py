"""The choices of ``check``'s options, in one place the parser can import without the
reporters (pydantic) or the engine."""

OUTPUT_FORMATS = ("text", "json", "sarif", "github", "junit")
LM_FAIL_ON = ("error", "warning", "never")
"""``--lm-fail-on``: an LM finding fails the run at this severity or worse (never: it does not)."""
