"""Benchmarks of the gateway on this machine: added latency and cold import time.

Run ``.venv/bin/python -m bench`` (or ``python bench/run.py``) from the repository root; see ``bench/README.md``.
"""
