"""Benchmark harness: ``python -m bench`` compares plain Python, dask.delayed, Prefect 1.4.1
and perfect_nb on the same workloads, each engine/workload in a fresh subprocess."""
