"""Benchmarks: each runs with `python -m bench.<name>` and writes `bench/results/<name>.json`
(see bench/README.md)."""
