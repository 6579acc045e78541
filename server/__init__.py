"""dspy-lsp's processes around the analyzers: ``lsp/`` (editor), ``cli/`` (shell), ``lm/``
(model runtime) and ``store/`` (files), over the analysis service and settings here.

Importing this package imports nothing: ``python -m dspy_lsp.server`` runs it before
``__main__`` can drop the working directory from ``sys.path``.
"""


def version() -> str:
    from importlib import metadata

    try:
        return metadata.version("dspy-lsp")
    except metadata.PackageNotFoundError:
        return "0+unknown"
