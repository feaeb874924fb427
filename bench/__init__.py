"""Benchmark harness (not part of the app or of the test suite): `python -m bench.run`, see RESULTS.md."""
