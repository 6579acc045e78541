"""What dspy-lsp keeps on disk: feedback, cache files, program registry; paths in one place."""
