"""seamscope's benchmarks: `python -m benchmarks` runs them all and writes docs/performance.md."""
