"""The floor for ``latency.py``'s start-up column: a pygls server on stdio with nothing else."""

from pygls.lsp.server import LanguageServer

LanguageServer("bare-pygls", "0").start_io()
