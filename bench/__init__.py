"""Benchmarks (`make bench`): each module's `run()` returns results; __main__ prints and saves them."""
