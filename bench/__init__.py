"""Benchmark harness: ``python -m bench`` compares plain Python, dask.delayed, Prefect 1.4.1
and perfect_nb on the same workloads, each engine/workload in a fresh subprocess."""

import os


def quiet_logs() -> None:
    """Run perfect_nb at ERROR in this benchmark process and the ones it starts, unless the
    caller chose a level. Called when a bench module runs as a program, never on import, so
    a test importing ``bench.ui_pages`` leaves the suite's environment as it was."""
    os.environ.setdefault("PERFECT_NB_LOGGING_LEVEL", "ERROR")
