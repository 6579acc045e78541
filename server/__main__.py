"""``python -m dspy_lsp.server`` starts the language server on stdio (flags as ``dspy-lsp serve``)."""

import sys

from .cli import main

sys.exit(main(["serve", *sys.argv[1:]]))
