"""The engine: states, signals, triggers and the runners that turn a flow into states.

Prefect-1 import paths: ``from perfect_nb.engine import FlowRunner, TaskRunner``,
``from perfect_nb.engine import signals``, ``from perfect_nb.engine.state import Success``.
"""

from perfect_nb.engine.defaults import get_default_executor_class, get_default_flow_runner_class, get_default_task_runner_class
from perfect_nb.engine.flow_runner import FlowRunner
from perfect_nb.engine.task_runner import TaskRunner

__all__ = ["FlowRunner", "TaskRunner", "get_default_executor_class", "get_default_flow_runner_class", "get_default_task_runner_class"]
