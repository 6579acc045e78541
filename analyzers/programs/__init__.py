"""DSPy programs of the LM tier.

Its modules import dspy (slow): import them lazily. ``artifact``, the contract of saved state,
does not.
"""
