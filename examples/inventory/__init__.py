"""A toy inventory service used to demonstrate dspy-lsp."""
