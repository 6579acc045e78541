"""DSPy programs of the LM tier. Importing this package imports dspy (slow): do it lazily."""
