"""Benchmark workloads, each written once against the Prefect 1 API.

A workload is ``fn(api, n) -> (flow, handle)``: it builds a flow of about ``n`` tasks
with ``api.task``, ``api.Flow`` and ``api.unmapped`` and returns the flow plus the task
whose result is checked. ``api`` is ``prefect``/``perfect_nb`` or a shim (bench/engines.py)
that runs the very same code as direct calls or as dask.delayed.

To add a workload: write the function, then add one line to ``WORKLOADS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Executor:
    """Where task bodies run: ``kind`` is local, threads, processes, distributed or cluster.

    Each engine translates it (bench/engines.py): local is LocalExecutor / dask
    ``scheduler="sync"``; threads and processes are LocalDaskExecutor / the dask scheduler
    of that name; distributed is DaskExecutor() starting a LocalCluster in the timed run /
    the same for dask; cluster is DaskExecutor(address) / Client(address) on a cluster that
    bench/cluster.py started before the timing, whose ``address`` the runner fills in.
    """

    kind: str = "local"
    workers: int = 1
    address: str | None = None


LOCAL = Executor()


@dataclass(frozen=True)
class Workload:
    """One registry entry. ``slow`` engines are skipped at full size unless ``--all``."""

    name: str
    fn: Callable[[Any, int], tuple[Any, Any]]
    size: int
    quick_size: int
    repeats: int = 3
    executor: Executor = LOCAL
    slow: tuple[str, ...] = ()
    warmup: int = 0  # untimed runs in the same process before timing (cache re-runs)
    about: str = ""


def chain(api, n):
    """``n`` dependent tasks, each adding 1 to its input."""

    @api.task
    def inc(x):
        return x + 1

    with api.Flow("chain") as flow:
        x = 0
        for _ in range(n):
            x = inc(x)
    return flow, x


def fan_in(api, n):
    """``n`` independent tasks feeding one reducer."""

    @api.task
    def inc(x):
        return x + 1

    @api.task
    def total(xs):
        return sum(xs)

    with api.Flow("fan_in") as flow:
        result = total([inc(i) for i in range(n)])
    return flow, result


def map_reduce(api, n):
    """A map over ``n`` items, then a reducer over the mapped results."""

    @api.task
    def add(x, y):
        return x + y

    @api.task
    def total(xs):
        return sum(xs)

    with api.Flow("map_reduce") as flow:
        result = total(add.map(list(range(n)), api.unmapped(1)))
    return flow, result


def sleepy_fan_in(api, n):
    """``n`` independent tasks that each sleep 10 ms, then a count."""
    import time

    @api.task
    def nap(i):
        time.sleep(0.01)
        return i

    @api.task
    def count(xs):
        return len(xs)

    with api.Flow("sleepy_fan_in") as flow:
        result = count([nap(i) for i in range(n)])
    return flow, result


def cpu_bound(api, n):
    """``n`` pure-Python CPU-bound tasks of about 0.5 s each, then a sum."""

    @api.task
    def burn(i):
        x = 0
        for k in range(6_000_000):
            x += k ^ i
        return x

    @api.task
    def total(xs):
        return sum(xs)

    with api.Flow("cpu_bound") as flow:
        result = total([burn(i) for i in range(n)])
    return flow, result


WORKLOADS = {
    w.name: w
    for w in [
        Workload("chain", chain, 1_000, 50, about="1,000 dependent tasks"),
        Workload("fan_in", fan_in, 2_000, 100, about="2,000 independent tasks + sum"),
        Workload("map_5k", map_reduce, 5_000, 200, about="map over 5,000 + sum"),
        Workload("map_100k", map_reduce, 100_000, 1_000, repeats=1, slow=("prefect", "dask"),
                 about="map over 100,000 + sum"),
        Workload("sleep_200_threads8", sleepy_fan_in, 200, 50, executor=Executor("threads", 8),
                 about="200 tasks sleeping 10 ms, 8 threads (ideal 0.25 s)"),
        Workload("fan_in_threads8", fan_in, 2_000, 100, executor=Executor("threads", 8),
                 about="2,000 tiny tasks on 8 threads: per-task overhead"),
        Workload("map_5k_processes2", map_reduce, 5_000, 200, executor=Executor("processes", 2),
                 about="map over 5,000 + sum on 2 processes: per-task overhead"),
        Workload("cpu_8_local", cpu_bound, 8, 2, about="8 CPU-bound tasks of ~0.5 s, one thread"),
        Workload("cpu_8_processes2", cpu_bound, 8, 2, executor=Executor("processes", 2),
                 about="the same on 2 processes"),
        Workload("cpu_8_cluster2", cpu_bound, 8, 2, executor=Executor("cluster", 2),
                 about="the same on a running 2-worker dask.distributed cluster"),
        Workload("cpu_8_distributed2", cpu_bound, 8, 2, executor=Executor("distributed", 2),
                 about="the same, starting a 2-worker LocalCluster inside the timed run"),
        Workload("map_5k_cluster2", map_reduce, 5_000, 200, repeats=1, executor=Executor("cluster", 2),
                 about="map over 5,000 + sum on a running 2-worker cluster"),
        Workload("map_100k_cluster2", map_reduce, 100_000, 1_000, repeats=1, executor=Executor("cluster", 2),
                 slow=("prefect", "dask"), about="map over 100,000 + sum on a running 2-worker cluster"),
    ]
}
