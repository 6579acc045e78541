"""``python -m dspy_lsp VERB ...`` (and ``python -m dspy_lsp.server.cli``): the ``dspy-lsp``
script. Installed as both modules, so it imports the CLI by its absolute name."""

import os
import sys

# ``-m`` puts the working directory first on sys.path, so a project's black.py or rich.py would
# run inside the verbs that import those lazily; the ``dspy-lsp`` script has no such entry.
if not sys.flags.safe_path and sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from dspy_lsp.server.cli.main import main

sys.exit(main())
