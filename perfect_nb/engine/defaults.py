"""The runner and executor classes ``config.engine.*.default_class`` names (Prefect 1's
``prefect.engine.get_default_flow_runner_class`` and friends).

A value is a dotted path (``"perfect_nb.engine.flow_runner.FlowRunner"``; Prefect 1's
``"prefect.engine.flow_runner.FlowRunner"`` names the same class here) or a class. One that
cannot be imported gives a warning and the default class, as in Prefect 1.

>>> get_default_flow_runner_class().__name__, get_default_task_runner_class().__name__
('FlowRunner', 'TaskRunner')
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from perfect_nb.configuration import config

__all__ = ["get_default_executor_class", "get_default_flow_runner_class", "get_default_task_runner_class"]

_DEFAULTS = {
    "executor": "perfect_nb.executors.LocalExecutor",
    "flow_runner": "perfect_nb.engine.flow_runner.FlowRunner",
    "task_runner": "perfect_nb.engine.task_runner.TaskRunner",
}


def _load(path: str) -> Any:
    if path.startswith("prefect."):
        path = "perfect_nb." + path[len("prefect."):]
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _configured(kind: str) -> type:
    value = config.get_nested(f"engine.{kind}.default_class") or _DEFAULTS[kind]
    if isinstance(value, type):
        return value
    try:
        return _load(str(value))
    except (ImportError, AttributeError, ValueError):
        warnings.warn(f"Could not import {value}; using {_DEFAULTS[kind]} instead.", stacklevel=3)
        return _load(_DEFAULTS[kind])


def get_default_flow_runner_class() -> type:
    """The FlowRunner class of ``config.engine.flow_runner.default_class``."""
    return _configured("flow_runner")


def get_default_task_runner_class() -> type:
    """The TaskRunner class of ``config.engine.task_runner.default_class``."""
    return _configured("task_runner")


def get_default_executor_class() -> type:
    """The executor class of ``config.engine.executor.default_class``."""
    return _configured("executor")
