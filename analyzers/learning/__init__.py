"""Turning feedback, rule examples and mutations into datasets, metrics and optimized programs.

Everything here but ``optimize`` and ``dspy_glue`` is pure and imports no dspy.
"""
