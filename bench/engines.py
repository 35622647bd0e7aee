"""Engine adapters: each gives the workloads ``task``, ``Flow``, ``unmapped`` and ``run``.

``prefect`` and ``perfect_nb`` are used as they are; ``plain`` and ``dask`` are shims that
run the same workload code as direct function calls or as dask.delayed graphs.
"""

from __future__ import annotations

import importlib
import platform
from itertools import repeat

ENGINES = ("plain", "dask", "prefect", "perfect_nb")
LABELS = {
    "plain": "plain Python",
    "dask": "dask.delayed",
    "prefect": "Prefect 1.4.1",
    "perfect_nb": "perfect_nb",
}


class Unmapped:
    """Marks a ``.map`` argument that is passed whole to every call."""

    def __init__(self, value):
        self.value = value


class NoFlow:
    """Stand-in for ``Flow`` in the shims: a context manager that records nothing."""

    def __init__(self, name=None, **kwargs):
        self.name = name

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def map_calls(args, kwargs):
    """Per-item ``(args, kwargs)`` pairs: sequences are zipped, ``Unmapped`` values repeat."""
    mapped = [a for a in (*args, *kwargs.values()) if not isinstance(a, Unmapped)]
    if len({len(a) for a in mapped}) != 1:
        raise ValueError(f"map needs sequences of one length, got {[len(a) for a in mapped]}")

    def column(a):
        return repeat(a.value) if isinstance(a, Unmapped) else a

    rows = zip(*map(column, args))
    if not kwargs:
        return zip(rows, repeat({}))
    names = list(kwargs)
    return ((a, dict(zip(names, k))) for a, k in zip(rows, zip(*map(column, kwargs.values()))))


class PlainAPI:
    """Tasks are the undecorated functions, called directly while the flow is 'built'."""

    name = "plain"
    version = platform.python_version()
    Flow = NoFlow
    unmapped = Unmapped

    def task(self, fn=None, **_options):
        if fn is None:
            return self.task
        fn.map = lambda *a, **k: [fn(*x, **y) for x, y in map_calls(a, k)]
        return fn

    def run(self, flow, handle, executor):
        return handle


class DaskTask:
    """A function wrapped once in ``dask.delayed(pure=False)``; calls build the graph."""

    def __init__(self, delayed_fn):
        self.delayed_fn = delayed_fn

    def __call__(self, *args, **kwargs):
        return self.delayed_fn(*args, **kwargs)

    def map(self, *args, **kwargs):
        return [self.delayed_fn(*x, **y) for x, y in map_calls(args, kwargs)]


class DaskAPI:
    """dask.delayed; local workloads use ``scheduler="sync"``, like LocalExecutor."""

    name = "dask"
    Flow = NoFlow
    unmapped = Unmapped

    def __init__(self):
        import dask

        self.dask = dask
        self.version = dask.__version__

    def task(self, fn=None, **_options):
        if fn is None:
            return self.task
        return DaskTask(self.dask.delayed(fn, pure=False))

    def run(self, flow, handle, executor):
        if executor.kind == "cluster":
            from distributed import Client

            with Client(executor.address) as client:
                return client.compute(handle).result()
        if executor.kind == "distributed":
            from distributed import Client, LocalCluster

            with LocalCluster(n_workers=executor.workers, threads_per_worker=1) as cluster:
                with Client(cluster) as client:
                    return client.compute(handle).result()
        if executor.kind == "local":
            return self.dask.compute(handle, scheduler="sync")[0]
        return self.dask.compute(handle, scheduler=executor.kind, num_workers=executor.workers)[0]


class FlowAPI:
    """``prefect`` or ``perfect_nb`` itself: the same public API, imported by name."""

    def __init__(self, module_name):
        self.name = module_name
        module = importlib.import_module(module_name)
        self.version = getattr(module, "__version__", "?")
        self.task, self.Flow, self.unmapped = module.task, module.Flow, module.unmapped

    def make_executor(self, executor):
        if executor.kind == "local":
            return None  # the default: LocalExecutor
        executors = importlib.import_module(f"{self.name}.executors")
        if executor.kind == "cluster":
            return executors.DaskExecutor(address=executor.address)
        if executor.kind == "distributed":
            kwargs = {"n_workers": executor.workers, "threads_per_worker": 1}
            return executors.DaskExecutor(cluster_kwargs=kwargs)
        return executors.LocalDaskExecutor(scheduler=executor.kind, num_workers=executor.workers)

    def run(self, flow, handle, executor):
        chosen = self.make_executor(executor)
        state = flow.run() if chosen is None else flow.run(executor=chosen)
        if not state.is_successful():
            raise RuntimeError(f"flow run did not succeed: {state!r}")
        return state.result[handle].result


def make_api(engine):
    """Import and wrap one engine (the caller times this as import time)."""
    if engine == "plain":
        return PlainAPI()
    if engine == "dask":
        return DaskAPI()
    if engine in ("prefect", "perfect_nb"):
        return FlowAPI(engine)
    raise ValueError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
