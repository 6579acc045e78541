"""DSPy programs of the LM tier: one contract per program kind.

``kinds`` names the kinds, ``inputs`` builds what each is asked (for the server, the datasets and
the benchmarks alike), ``artifact`` says what saved state may hold: these import no dspy. The
modules, the catalogue and the verified plan loop do (slow): import them lazily.
"""
