"""perfect_nb: Prefect Core 1.x semantics, a hundred times faster, with a live DAG in Jupyter.

>>> from perfect_nb import Flow, Parameter, task
>>> @task
... def plus_one(x):
...     return x + 1
>>> with Flow("quick") as flow:
...     n = Parameter("n", default=1)
...     result = plus_one(n)
>>> flow.run(n=41).result[result].result
42
"""

from perfect_nb.utilities.logging import configure_logging as _configure_logging

_configure_logging()

from perfect_nb import triggers  # noqa: E402
from perfect_nb.configuration import config  # noqa: E402
from perfect_nb.core.context import context, tags  # noqa: E402
from perfect_nb.core.edge import flatten, mapped, unmapped  # noqa: E402
from perfect_nb.core.flow import Flow  # noqa: E402
from perfect_nb.core.parameter import DateTimeParameter, Parameter  # noqa: E402
from perfect_nb.core.task import Task, task  # noqa: E402
from perfect_nb.engine.flow_runner import FlowRunner  # noqa: E402
from perfect_nb.engine.task_runner import TaskRunner  # noqa: E402
from perfect_nb.tasks.control_flow import case  # noqa: E402
from perfect_nb.tasks.core.resource_manager import resource_manager  # noqa: E402
from perfect_nb.utilities.tasks import apply_map  # noqa: E402

from perfect_nb._version import __version__  # noqa: E402

__all__ = [
    "DateTimeParameter",
    "Flow",
    "FlowRunner",
    "Parameter",
    "Task",
    "TaskRunner",
    "__version__",
    "apply_map",
    "case",
    "config",
    "context",
    "flatten",
    "load_ipython_extension",
    "mapped",
    "resource_manager",
    "tags",
    "task",
    "triggers",
    "unmapped",
]


# Reached as attributes after a plain `import perfect_nb`, as `prefect.schedules` is after
# `import prefect`; imported on first use, so the import stays light (Client brings httpx).
_SUBMODULES = frozenset({"agent", "backend", "client", "exceptions", "executors", "schedules", "utilities"})


def __getattr__(name: str):
    if name == "Client":
        from perfect_nb.client import Client

        return Client
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"perfect_nb.{name}")
    raise AttributeError(f"module 'perfect_nb' has no attribute {name!r}")


def load_ipython_extension(ipython):  # pragma: no cover - exercised through IPython
    """``%load_ext perfect_nb``: register the notebook magics."""
    from perfect_nb.notebook import backend_magic
    from perfect_nb.notebook.magics import load_ipython_extension as load

    load(ipython)
    backend_magic.load(ipython)
