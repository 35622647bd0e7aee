"""Executors decide where task bodies run: ``LocalExecutor`` (default), and the Dask ones.

``LocalDaskExecutor`` and ``DaskExecutor`` are imported on first use, so that
``import perfect_nb`` does not import dask.distributed.
"""

from perfect_nb.executors.base import Executor
from perfect_nb.executors.local import LocalExecutor

__all__ = ["DaskExecutor", "Executor", "LocalDaskExecutor", "LocalExecutor"]

_LAZY = {"DaskExecutor", "LocalDaskExecutor"}


def __getattr__(name: str):
    if name in _LAZY:
        from perfect_nb.executors import dask

        return getattr(dask, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY)
