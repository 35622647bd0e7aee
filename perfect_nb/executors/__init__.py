"""Executors decide where task bodies run: ``LocalExecutor`` (default), and the Dask ones."""

from perfect_nb.executors.base import Executor
from perfect_nb.executors.local import LocalExecutor

__all__ = ["Executor", "LocalExecutor"]
