"""Benchmarks: run from the checkout as modules, e.g. ``.venv/bin/python -m bench.bench_wards``,
so they can share this folder's helpers; they import the installed safer_streets package."""
