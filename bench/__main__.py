"""`python -m bench`: the benchmarks (measured, never asserted; not part of the test suite)."""

from bench.sync_bench import main

if __name__ == "__main__":
    main()
