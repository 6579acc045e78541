"""The ``dspy-lsp`` command line: one module per verb."""
