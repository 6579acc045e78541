"""``python -m dspy_lsp.server`` starts the language server on stdio (flags as ``dspy-lsp serve``)."""

import os
import sys

# Editors often start this with the project as the working directory, and ``-m`` puts that
# directory first on sys.path: a project's json.py or secrets.py would shadow the standard
# library's and run inside the server. (``python -P`` does this too; not every editor passes it.)
if not sys.flags.safe_path and sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from .cli.main import main

sys.exit(main(["serve", *sys.argv[1:]]))
