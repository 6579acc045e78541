"""The ``dspy-lsp`` command line: one module per verb.

This package's ``__init__`` and ``__main__`` are also installed as the top-level ``dspy_lsp``
package, so ``python -m dspy_lsp`` runs the CLI (pyproject.toml): importing it imports nothing.
"""
