"""sentibench benchmark runner: ``python -m benchmark run --all``."""
