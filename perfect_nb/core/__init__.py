"""The model: tasks, flows, edges and parameters (pure, picklable, no execution).

Prefect-1 import path: ``from perfect_nb.core import Task, Flow, Edge, Parameter``.
"""

from perfect_nb.core.edge import Edge
from perfect_nb.core.flow import Flow
from perfect_nb.core.parameter import DateTimeParameter, Parameter
from perfect_nb.core.task import Task

__all__ = ["DateTimeParameter", "Edge", "Flow", "Parameter", "Task"]
