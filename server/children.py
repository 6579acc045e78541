"""How dspy-lsp starts one of its own verbs as a child process (the server's learn runs,
``learn``'s optimize runs)."""

import sys

CLI = (sys.executable, "-P", "-m", "dspy_lsp.server.cli")
"""This interpreter, ``-P`` so the child never imports modules from its working directory."""
