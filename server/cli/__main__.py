"""``python -m dspy_lsp.server.cli VERB ...``: the same as the ``dspy-lsp`` script."""

import sys

from .main import main

sys.exit(main())
