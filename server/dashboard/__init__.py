"""Mission control: the data behind the dashboard (``panels.load_dashboard``, shaped by
``models``), and the local web page and static report that draw it.

Imports nothing: the CLI's parser may name this package without paying for pydantic.
"""
