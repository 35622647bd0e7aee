"""The model: tasks, flows, edges and parameters (pure, picklable, no execution).

Prefect-1 import path: ``from perfect_nb.core import Task, Flow, Edge, Parameter``.

``core/`` imports nothing above it (no engine, viz, client, tasks or notebook): the
few methods that hand over to those layers (``flow.run()``, ``flow.visualize()``, ...)
go through :mod:`perfect_nb.core.seam`. The tasks the model builds by itself
(Constant, the collections, the operator tasks) are in :mod:`perfect_nb.core.implicit`,
imported here so that Task's table of them is full whenever Task can be imported.
"""

from perfect_nb.core import implicit as _implicit  # noqa: F401 - fills core.task.IMPLICIT
from perfect_nb.core.edge import Edge
from perfect_nb.core.flow import Flow
from perfect_nb.core.parameter import DateTimeParameter, Parameter
from perfect_nb.core.task import Task

__all__ = ["DateTimeParameter", "Edge", "Flow", "Parameter", "Task"]
