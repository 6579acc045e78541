"""The LM runtime: jobs off the event loop, cache, retries, breaker, limits, budgets, engines."""
