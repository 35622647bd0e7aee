"""Resource managers (Prefect 1's ``resource_manager``): a resource set up before a block
of tasks and cleaned up after it, each step a task of the flow.

Decorate a class with ``setup()`` (optional; its return value is what the block's tasks
receive) and ``cleanup(resource)``. Calling the decorated class inside a flow adds an
*init* task (builds the object from the arguments, at run time), a *setup* task and a
*cleanup* task; ``with Manager(...) as resource:`` makes the block's first tasks wait for
setup and the cleanup wait for the block's last tasks. Cleanup runs whenever setup
succeeded, even if a task of the block failed; it does not decide the flow's state.

>>> from perfect_nb import Flow, task
>>> log = []
>>> @resource_manager
... class TempTable:
...     def __init__(self, name):
...         self.name = name
...     def setup(self):
...         log.append("create " + self.name)
...         return self.name
...     def cleanup(self, table):
...         log.append("drop " + table)
>>> @task
... def fill(table):
...     log.append("fill " + table)
>>> with Flow("resource") as flow:
...     with TempTable("scratch") as table:
...         _ = fill(table)
>>> flow.run().is_successful(), log
(True, ['create scratch', 'fill scratch', 'drop scratch'])
"""

from __future__ import annotations

from typing import Any, Callable

from perfect_nb.core import context as _context
from perfect_nb.core.task import Task, _Signature
from perfect_nb.engine import signals

__all__ = [
    "ResourceCleanupTask", "ResourceContext", "ResourceInitTask", "ResourceManager",
    "ResourceSetupTask", "resource_cleanup_trigger", "resource_manager",
]


def resource_cleanup_trigger(upstream_states: dict) -> bool:
    """The cleanup task's trigger: wait for every upstream task to finish, then run if the
    init and setup tasks succeeded; end Skipped (saying which) if either failed or skipped."""
    for edge, state in upstream_states.items():
        if not state.is_finished():
            raise signals.TRIGGERFAIL("Trigger was 'resource_cleanup_trigger' but some of the upstream tasks were not finished.")
        step = {"mgr": "init", "resource": "setup"}.get(edge.key)
        if step is not None and not state.is_successful():
            raise signals.SKIP(f"Resource manager {step} failed")
        if step is not None and state.is_skipped():
            raise signals.SKIP(f"Resource manager {step} skipped")
    return True


class ResourceInitTask(Task):
    """Builds the manager object: ``resource_class(**arguments)``, at run time."""

    _resource_role = "init"

    def __init__(self, resource_class: Callable, **kwargs: Any) -> None:
        self.resource_class = resource_class
        init = resource_class.__init__ if isinstance(resource_class, type) else resource_class
        if init is object.__init__:
            init = lambda: None  # noqa: E731 - a class without __init__ takes no arguments
        self._sig = _Signature(init, getattr(resource_class, "__name__", "resource"))
        kwargs.setdefault("name", getattr(resource_class, "__name__", "ResourceInitTask"))
        super().__init__(**kwargs)

    def run(self, **kwargs: Any) -> Any:
        return self.resource_class(**kwargs)


class ResourceSetupTask(Task):
    """Calls ``setup()`` on the manager object; its result is the resource."""

    def run(self, mgr: Any) -> Any:
        return mgr.setup()


class ResourceCleanupTask(Task):
    """Calls ``cleanup(resource)`` on the manager object."""

    _resource_role = "cleanup"

    def run(self, mgr: Any, resource: Any = None) -> None:
        mgr.cleanup(resource)


class ResourceContext:
    """What calling a :class:`ResourceManager` returns: ``with`` it around the tasks that
    use the resource; ``as`` gives the setup task (None when the class has no ``setup``)."""

    def __init__(self, init_task: Task, setup_task: Task | None, cleanup_task: Task, flow: Any) -> None:
        self.init_task = init_task
        self.setup_task = setup_task
        self.cleanup_task = cleanup_task
        self._flow = flow
        self._before: set | None = None
        self._scope: Any = None

    def __enter__(self) -> Task | None:
        if self._before is not None:
            raise RuntimeError("This resource block is already open; call the resource manager again for another block.")
        self._before = set(self._flow.tasks)
        self._scope = _context.context(resource=self)
        self._scope.__enter__()
        return self.setup_task

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        flow, before = self._flow, self._before
        self._scope.__exit__(exc_type, exc, tb)
        self._before = self._scope = None
        if exc_type is not None:
            return
        inside = flow.tasks - before - {self.init_task, self.setup_task, self.cleanup_task}
        for child in sorted(inside, key=flow._order.__getitem__):
            upstream = flow.upstream_tasks(child)
            if self.setup_task is not None and not (upstream & inside) and self.setup_task not in upstream:
                flow.add_edge(self.setup_task, child)
            downstream = flow.downstream_tasks(child)
            if not (downstream & inside) and self.cleanup_task not in downstream:
                flow.add_edge(child, self.cleanup_task)


class ResourceManager:
    """A resource class turned into a factory of resource blocks (see the module doc).

    Parameters
    ----------
    resource_class : callable
        The class; ``setup()`` is optional, ``cleanup(resource)`` is required.
    name : str, optional
        The init task's name (default: the class name); setup and cleanup are
        named ``NAME.setup`` and ``NAME.cleanup``.
    init_task_kwargs, setup_task_kwargs, cleanup_task_kwargs : dict, optional
        Task options (tags, retries, ...) for each of the three tasks.
    """

    def __init__(self, resource_class: Callable, name: str | None = None, init_task_kwargs: dict | None = None,
                 setup_task_kwargs: dict | None = None, cleanup_task_kwargs: dict | None = None) -> None:
        if not hasattr(resource_class, "cleanup"):
            raise TypeError(f"resource_manager: {getattr(resource_class, '__name__', resource_class)!r} needs a cleanup(self, resource) method.")
        self.resource_class = resource_class
        self.name = name or getattr(resource_class, "__name__", "Resource")
        self.init_task_kwargs = {"name": self.name, **(init_task_kwargs or {})}
        self.setup_task_kwargs = {"name": f"{self.name}.setup", "checkpoint": False, **(setup_task_kwargs or {})}
        self.cleanup_task_kwargs = {
            "name": f"{self.name}.cleanup", "trigger": resource_cleanup_trigger,
            "skip_on_upstream_skip": False, "checkpoint": False, **(cleanup_task_kwargs or {}),
        }

    def __repr__(self) -> str:
        return f"<ResourceManager: {self.name}>"

    def __call__(self, *args: Any, flow: Any = None, **kwargs: Any) -> ResourceContext:
        flow = flow if flow is not None else _context.current().get("flow")
        if flow is None:
            raise ValueError(f"{self.name}(...) is a resource manager: call it inside `with Flow('name') as flow:` (or pass flow=...).")
        init = ResourceInitTask(self.resource_class, **self.init_task_kwargs).bind(*args, flow=flow, **kwargs)
        setup = None
        if hasattr(self.resource_class, "setup"):
            setup = ResourceSetupTask(**self.setup_task_kwargs).bind(init, flow=flow)
            cleanup = ResourceCleanupTask(**self.cleanup_task_kwargs).bind(init, setup, flow=flow)
        else:
            cleanup = ResourceCleanupTask(**self.cleanup_task_kwargs).bind(init, flow=flow)
        return ResourceContext(init, setup, cleanup, flow)


def resource_manager(resource_class: Callable | None = None, *, name: str | None = None, init_task_kwargs: dict | None = None,
                     setup_task_kwargs: dict | None = None, cleanup_task_kwargs: dict | None = None) -> Any:
    """Decorate a class as a resource manager: ``@resource_manager`` or
    ``@resource_manager(name=..., cleanup_task_kwargs=...)``."""
    options = {"name": name, "init_task_kwargs": init_task_kwargs, "setup_task_kwargs": setup_task_kwargs, "cleanup_task_kwargs": cleanup_task_kwargs}
    if resource_class is None:
        return lambda cls: ResourceManager(cls, **options)
    return ResourceManager(resource_class, **options)
