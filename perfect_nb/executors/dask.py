"""Executors on Dask: ``LocalDaskExecutor`` and ``DaskExecutor`` (dask.distributed).

The flow runner hands over one task run at a time, as soon as it is ready, and
keeps at most ``max_inflight`` runs in the executor so chained maps go
depth-first. dask's local schedulers (``dask.threaded.get`` and friends) take
a whole graph at once and return when it is done, which does not fit live
submission, so ``LocalDaskExecutor`` keeps Prefect 1's name and arguments but
runs on a thread pool or on perfect_nb's own process pool (see ``_pool``).
``DaskExecutor`` submits each task run to a dask.distributed cluster as a
Dask task of its own; runs handed over together (a map expanding, or the
runner refilling from half its cap, ``refill_at``) reach the scheduler in one
message, which is what a submission costs most on a busy scheduler.

State events of tasks running in other processes come back while the flow
runs: through each pool worker's pipe, or through the Dask scheduler's event
log (``Worker.log_event`` and ``Client.subscribe_topic``). The flow runner
fires its listeners in the caller's thread either way.

This is the only module of perfect_nb that imports ``distributed``, and only
when a ``DaskExecutor`` starts.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import importlib
import itertools
import logging
import os
import threading
import time
import uuid
from typing import Any, Callable, Iterator, NamedTuple

import cloudpickle

from perfect_nb.engine import timeouts
from perfect_nb.errors import SerializationError
from perfect_nb.executors._pickling import CallPickler, PickledCall, call_pickled, dump_record
from perfect_nb.executors._pool import PipeSink, ProcessPool, Raised, ThreadPool, WorkerLostError
from perfect_nb.executors.base import Executor
from perfect_nb.executors.local import _Done

__all__ = ["DaskExecutor", "LocalDaskExecutor", "WorkerLostError"]

logger = logging.getLogger("perfect_nb.executors")
_SCHEDULERS = {
    "threads": "threads", "threading": "threads",
    "processes": "processes", "multiprocessing": "processes",
    "synchronous": "synchronous", "sync": "synchronous", "single-threaded": "synchronous",
}


class LocalDaskExecutor(Executor):
    """Run tasks in parallel on this machine: threads, processes, or inline.

    Parameters
    ----------
    scheduler : {"threads", "processes", "synchronous"}
        Threads share memory (best for I/O and code that releases the GIL);
        processes run pure-Python CPU work in parallel, pickling inputs and
        results with cloudpickle; synchronous runs inline, like LocalExecutor.
    num_workers : int, optional
        Threads or processes to use (default: the number of CPUs).
    **kwargs
        ``mp_context`` picks how worker processes start: "fork" (the default on
        Linux: workers start in milliseconds), "spawn" (the default elsewhere;
        each worker imports perfect_nb anew, ~0.3 s, but safe whatever threads
        the parent runs) or "forkserver". Anything else is set as dask config
        during the run (as in Prefect 1), for dask code inside tasks.

    >>> from perfect_nb import Flow, task
    >>> with Flow("squares") as flow:
    ...     squares = task(lambda x: x * x, name="square").map([1, 2, 3])
    >>> state = flow.run(executor=LocalDaskExecutor(num_workers=2))
    >>> state.result[squares].result
    [1, 4, 9]
    """

    def __init__(self, scheduler: str = "threads", num_workers: int | None = None, **kwargs: Any) -> None:
        if scheduler not in _SCHEDULERS:
            raise ValueError(f"Unknown scheduler {scheduler!r}: use 'threads', 'processes' or 'synchronous'.")
        self.scheduler = _SCHEDULERS[scheduler]
        self.num_workers = int(num_workers or os.cpu_count() or 1)
        self.mp_context = kwargs.pop("mp_context", None)
        self.dask_config = kwargs
        # twice the workers: every worker stays busy, and new work (the next link of
        # a chained map) is submitted before old breadth-first work piles up
        self.max_inflight = 1 if self.scheduler == "synchronous" else 2 * self.num_workers
        self._pool: Any = None
        self._emit: Callable | None = None
        self._interrupted = False
        self._pickler = CallPickler()

    def __repr__(self) -> str:
        return f"<LocalDaskExecutor scheduler={self.scheduler!r} num_workers={self.num_workers}>"

    @contextlib.contextmanager
    def start(self) -> Iterator[None]:
        """Start the pool for one flow run; stop it (and its processes) afterwards."""
        self._interrupted = False
        with contextlib.ExitStack() as stack:
            if self.dask_config:
                import dask

                stack.enter_context(dask.config.set(self.dask_config))
            if self.scheduler == "threads":
                self._pool = ThreadPool(self.num_workers)
            elif self.scheduler == "processes":
                self._pool = ProcessPool(self.num_workers, self.mp_context, self._emit)
            try:
                yield
            except BaseException:
                self._interrupted = True
                raise
            finally:
                pool, self._pool, self._emit = self._pool, None, None
                self._pickler.clear()
                if pool is not None:
                    pool.close(self._interrupted)

    def submit(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        if self.scheduler == "synchronous":
            return _Done(fn(*args, **kwargs))
        if self._pool is None:
            raise RuntimeError("LocalDaskExecutor.submit() needs a running pool: call it inside `with executor.start():`.")
        if self.scheduler == "threads":
            return self._pool.submit(fn, args, kwargs)
        try:
            call = self._pickler.dumps(fn, args, kwargs)
        except SerializationError as exc:
            return Raised(exc)
        return self._pool.submit(call)

    def submit_then(self, callback: Callable[[Any], None], fn: Callable, *args: Any, **kwargs: Any) -> None:
        if self.scheduler == "synchronous":
            callback(_Done(fn(*args, **kwargs)))
        elif self.scheduler == "threads" and self._pool is not None:
            self._pool.submit_then(callback, fn, args, kwargs)
        else:
            self.submit(fn, *args, **kwargs).add_done_callback(callback)

    def event_sink(self, emit: Callable[[tuple], None]) -> Callable[[tuple], None]:
        if self.scheduler != "processes":
            return emit
        self._emit = emit
        return PipeSink()

    def cancel_pending(self) -> None:
        self._interrupted = True
        if self._pool is not None:
            self._pool.cancel_pending()


# --- dask.distributed ---------------------------------------------------------
class _Calls(threading.local):
    """The call a Dask worker thread is running, how many events it sent, and
    the worker to restart when it timed out with its body still running."""

    call_id: int | None = None
    count = 0
    stuck: str | None = None


_calls = _Calls()
# one topic per process: the scheduler keeps the last events of every topic it saw
_TOPIC = f"perfect_nb-events-{uuid.uuid4().hex}"
_SCATTER_FROM = 16 * 1024  # static parts this large are scattered once, not sent with each call


def _run_remote(call_id: int, payload: bytes, static: bytes | None = None) -> tuple[bytes, int]:
    """What runs on a Dask worker: the pickled call, plus its number of events.

    ``static`` is the call's static part when it was scattered to the cluster.
    """
    _calls.call_id, _calls.count = call_id, 0
    try:
        blob = call_pickled(payload, static)
    except Exception:
        raise
    except BaseException as exc:  # raised outside the task runner's care: never let it end the worker
        raise RuntimeError(f"A task run raised {type(exc).__name__} {exc!r} on the Dask worker.") from None
    finally:
        _calls.call_id = None
    if _calls.stuck is None:
        return blob, _calls.count
    stuck, _calls.stuck = _calls.stuck, None
    return blob, _calls.count, stuck


def _restart_stuck_worker(thread: threading.Thread) -> str | None:
    """The timeout stopper on a Dask worker: have the client restart it through its nanny."""
    if _calls.call_id is None:  # not a task run of a DaskExecutor
        return None
    from distributed import get_worker

    worker = get_worker()
    if not worker.nanny:
        return (f"Its body did not stop when told and may still be running on Dask worker {worker.address}, "
                "which has no nanny to restart it; on a cluster of worker processes (LocalCluster's default) it is stopped.")
    _calls.stuck = worker.address
    return (f"Its body did not stop when told, so Dask worker {worker.address} is restarted through its "
            "nanny to stop it (Dask reschedules other tasks that were running there).")


timeouts.stoppers.append(_restart_stuck_worker)


class TopicSink:
    """Event sink for task runs on Dask workers: logs each record to a scheduler topic."""

    __slots__ = ("topic", "token")

    def __init__(self, topic: str, token: str) -> None:
        self.topic, self.token = topic, token

    def __call__(self, record: tuple) -> None:
        from distributed import get_worker

        get_worker().log_event(self.topic, [self.token, _calls.call_id, dump_record(record)])
        _calls.count += 1

    def __reduce__(self) -> tuple:
        return (TopicSink, (self.topic, self.token))


class _Relay:
    """Client side of the events: forwards them to ``emit`` and counts them per call.

    A call's result is handed to the flow runner only after all the events the
    call sent have arrived, so listeners see Success before anything downstream.
    Both methods run on the client's event loop.
    """

    def __init__(self, emit: Callable[[tuple], None], topic: str) -> None:
        self.emit, self.topic, self.token = emit, topic, uuid.uuid4().hex
        self.seen: collections.Counter = collections.Counter()

    def handle(self, event: tuple) -> None:
        token, call_id, blob = event[1]
        if token != self.token:
            return  # a late event of an earlier run
        try:
            self.emit(cloudpickle.loads(blob))
        except Exception:
            logger.exception("Could not deliver a state event from a Dask worker.")
        self.seen[call_id] += 1

    async def arrived(self, call_id: int, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while self.seen[call_id] < count and time.monotonic() < deadline:
            await asyncio.sleep(0.002)
        self.seen.pop(call_id, None)


def _import(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _resources(tags: Any) -> dict | None:
    """``{"GPU": 1.0}`` from tags like ``"dask-resource:GPU=1"``."""
    found = {}
    for tag in tags or ():
        if isinstance(tag, str) and tag.lower().startswith("dask-resource:"):
            key, _, amount = tag.split(":", 1)[1].partition("=")
            try:
                found[key.strip()] = float(amount)
            except ValueError:
                raise ValueError(f"Tag {tag!r}: write Dask resources as 'dask-resource:NAME=AMOUNT', e.g. 'dask-resource:GPU=1'.") from None
    return found or None


class _Call(NamedTuple):
    """One task run waiting to be sent to the scheduler."""

    call_id: int
    key: str
    payload: bytes
    static: Any  # None, or the future of the scattered static part
    resources: dict | None
    callback: Callable[[Any], None]


async def _restart(client: Any, address: str) -> None:
    """Restart a Dask worker through its nanny (how a timed-out body blocked in C code is stopped)."""
    try:
        await client.scheduler.restart_workers(workers=[address], timeout=30, on_error="return", stimulus_id=f"perfect_nb-timeout-{time.time()}")
    except Exception:
        logger.warning("DaskExecutor: could not restart worker %s to stop a timed-out task.", address, exc_info=True)


class DaskExecutor(Executor):
    """Run each task on a dask.distributed cluster.

    Parameters
    ----------
    address : str, optional
        Scheduler address (``"tcp://..."``) of a running cluster; it is left
        running afterwards. Without it, a cluster is started for the flow run
        and closed after it.
    cluster_class : type or str, optional
        Cluster to start (default ``distributed.LocalCluster``); a class or an
        import path such as ``"dask_kubernetes.KubeCluster"``.
    cluster_kwargs : dict, optional
        Arguments for ``cluster_class``.
    adapt_kwargs : dict, optional
        When given, the started cluster scales with ``cluster.adapt(**adapt_kwargs)``.
    client_kwargs : dict, optional
        Arguments for ``distributed.Client``.
    debug : bool
        Keep the started cluster's logs (they are silenced by default).

    Tags of the form ``"dask-resource:NAME=AMOUNT"`` become Dask worker
    resources of that task. ``client`` is the connected Client during a run.
    """

    max_inflight: int | None = 8

    def __init__(
        self,
        address: str | None = None,
        cluster_class: Any = None,
        cluster_kwargs: dict | None = None,
        adapt_kwargs: dict | None = None,
        client_kwargs: dict | None = None,
        debug: bool = False,
    ) -> None:
        if address is not None and (cluster_class is not None or cluster_kwargs or adapt_kwargs):
            raise ValueError("DaskExecutor: pass either address= (an existing cluster) or cluster_class/cluster_kwargs/adapt_kwargs (a new one), not both.")
        self.address = address
        self.cluster_class = cluster_class
        self.cluster_kwargs = dict(cluster_kwargs or {})
        self.adapt_kwargs = adapt_kwargs
        self.client_kwargs = dict(client_kwargs or {})
        self.debug = debug
        self.client: Any = None
        self.cluster: Any = None
        self._topic = _TOPIC
        self._relay: _Relay | None = None
        self._futures: set = set()
        self._outbox: list[_Call] = []
        self._scattered: dict = {}  # static token -> future, for one flow run
        self._bursts = 0
        self._run_token = uuid.uuid4().hex[:8]
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._interrupted = False
        self._pickler = CallPickler()

    def __repr__(self) -> str:
        where = self.address or getattr(self.cluster_class, "__name__", self.cluster_class) or "LocalCluster"
        return f"<DaskExecutor {where}>"

    _SETTINGS = ("address", "cluster_class", "cluster_kwargs", "adapt_kwargs", "client_kwargs", "debug")

    def __getstate__(self) -> dict:
        """Only the settings: a flow stored by value (``flow.register()``) carries its executor
        to the agent's run process, which connects anew; a live client does not travel."""
        return {name: getattr(self, name) for name in self._SETTINGS}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    def _make_cluster(self) -> Any:
        from distributed import LocalCluster

        cls = self.cluster_class or LocalCluster
        if isinstance(cls, str):
            cls = _import(cls)
        kwargs = dict(self.cluster_kwargs)
        if cls is LocalCluster:
            kwargs.setdefault("dashboard_address", ":0")  # a free port: 8787 may be taken
            if not self.debug:
                kwargs.setdefault("silence_logs", logging.CRITICAL)
        cluster = cls(**kwargs)
        if self.adapt_kwargs is not None:
            cluster.adapt(**self.adapt_kwargs)
        return cluster

    @contextlib.contextmanager
    def start(self) -> Iterator[None]:
        """Connect (starting a cluster if needed) for one flow run; close what was started."""
        from distributed import Client

        self._interrupted = False
        client_kwargs = {"set_as_default": False, **self.client_kwargs}
        with contextlib.ExitStack() as stack:
            if self.address is None:
                stack.callback(_stop_tracker_if_started(_tracker_pid()))  # runs last: after the cluster closed
                self.cluster = self._make_cluster()
                stack.callback(self._close_cluster)
                self.client = Client(self.cluster, **client_kwargs)
            else:
                self.client = Client(self.address, **client_kwargs)
            stack.callback(self._close_client)
            self.max_inflight = self._inflight_cap()
            self.refill_at = self.max_inflight // 2
            if self._relay is not None:
                self.client.subscribe_topic(self._topic, self._relay.handle)
            try:
                yield
            except BaseException:
                self._interrupted = True
                raise
            finally:
                self._pickler.clear()
                self._scattered.clear()
                if self._interrupted:
                    self.cancel_pending()

    def _inflight_cap(self) -> int:
        # each run costs a few network round trips and the scheduler handles
        # bigger batches more cheaply per task: keep more in flight than on a local
        # pool, still few enough that chained maps go depth-first
        threads = sum(self.client.nthreads().values())
        cap = max(16 * threads, 64)
        if self.adapt_kwargs is not None:
            # an adaptive cluster only grows when the scheduler sees queued work
            cap = max(cap, 2 * int(self.adapt_kwargs.get("maximum", 0) or 0), 64)
        return cap

    def _close_client(self) -> None:
        client, self.client, self._relay = self.client, None, None
        with self._lock:
            self._futures.clear()
        try:
            with contextlib.suppress(Exception):
                client.unsubscribe_topic(self._topic)
            client.close()
        except Exception:
            logger.warning("DaskExecutor: closing the Dask client failed.", exc_info=True)

    def _close_cluster(self) -> None:
        cluster, self.cluster = self.cluster, None
        try:
            cluster.close()
        except Exception:
            logger.warning("DaskExecutor: closing the cluster it started failed.", exc_info=True)

    def event_sink(self, emit: Callable[[tuple], None]) -> Callable[[tuple], None]:
        self._relay = _Relay(emit, self._topic)
        return TopicSink(self._topic, self._relay.token)

    def submit_then(self, callback: Callable[[Any], None], fn: Callable, *args: Any, **kwargs: Any) -> None:
        if self.client is None:
            raise RuntimeError("DaskExecutor.submit() needs a client: call it inside `with executor.start():`.")
        try:
            pickled = self._pickler.dumps(fn, args, kwargs)
            payload, static = self._split(pickled)
        except SerializationError as exc:
            return callback(Raised(exc))
        task = getattr(getattr(fn, "__self__", None), "task", None)
        call_id = next(self._ids)
        name = task.slug if task is not None else getattr(fn, "__name__", "call")
        resources = _resources(task.tags) if task is not None else None
        call = _Call(call_id, f"{name}-{self._run_token}-{call_id}", payload, static, resources, callback)
        with self._lock:
            self._outbox.append(call)
            if len(self._outbox) > 1:
                return  # a flush is scheduled already and will take this call too
        self.client.loop.add_callback(self._flush)

    def _split(self, call: PickledCall) -> tuple[bytes, Any]:
        """The payload to send, and the future of its static part if that was scattered.

        A large static part (a mapped task over a big constant list carries it in
        its edges) goes to the cluster once per flow run, not with every call.
        """
        if call.static is None or len(call.static) < _SCATTER_FROM:
            return call.payload(), None
        future = self._scattered.get(call.token)
        if future is None:
            future = self._scattered[call.token] = self.client.scatter(call.static, hash=False, broadcast=True)
        return call.payload(with_static=False), future

    def _flush(self) -> None:
        """Send every call waiting in the outbox: one scheduler message per resource set.

        Runs on the client's event loop. A burst of submissions (a mapped task
        expanding, a fan-out becoming ready) costs one message instead of one
        per task; newer bursts get a higher priority, so chained maps go depth-first.
        """
        with self._lock:
            calls, self._outbox = self._outbox, []
        client = self.client
        if client is None or not calls:
            return
        self._bursts += 1
        groups: dict = {}
        for call in calls:
            groups.setdefault(tuple(sorted(call.resources.items())) if call.resources else (), []).append(call)
        for resources, group in groups.items():
            try:
                futures = client.map(
                    _run_remote, [c.call_id for c in group], [c.payload for c in group], [c.static for c in group],
                    key=[c.key for c in group], pure=False, priority=self._bursts, resources=dict(resources) or None,
                )
            except BaseException as exc:  # the flow runner turns it into Failed states
                for call in group:
                    call.callback(Raised(exc))
                continue
            with self._lock:
                self._futures.update(futures)
            for call, future in zip(group, futures):
                asyncio.ensure_future(self._watch(client, future, call.call_id, call.callback))

    async def _watch(self, client: Any, future: Any, call_id: int, callback: Callable[[Any], None]) -> None:
        """Wait for ``future`` on the client's event loop (results are fetched concurrently)."""
        from distributed import KilledWorker

        relay = self._relay
        try:
            blob, count, *stuck = await client.gather(future, asynchronous=True)
            if count and relay is not None:
                await relay.arrived(call_id, count)
            done: Any = _Done(cloudpickle.loads(blob))
            if stuck:  # a timed-out body still runs there: restart the worker, once this run's key is gone
                future.release()
                await _restart(client, stuck[0])
        except KilledWorker as exc:
            done = Raised(WorkerLostError(f"The Dask worker running this task died: {exc}"))
        except BaseException as exc:  # the flow runner turns it into a Failed state
            done = Raised(exc)
        with self._lock:
            self._futures.discard(future)
        callback(done)

    def submit(self, fn: Callable, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        """Run ``fn`` on the cluster; the returned Future resolves to its result."""
        out: concurrent.futures.Future = concurrent.futures.Future()

        def settle(done: Any) -> None:
            try:
                out.set_result(done.result())
            except BaseException as exc:
                out.set_exception(exc)

        self.submit_then(settle, fn, *args, **kwargs)
        return out

    def cancel_pending(self) -> None:
        self._interrupted = True
        with self._lock:
            futures, self._futures = list(self._futures), set()
            self._outbox.clear()  # never sent: the flow runner marks them Cancelled
        if futures and self.client is not None:
            with contextlib.suppress(Exception):
                self.client.cancel(futures, force=True)


def _tracker_pid() -> int | None:
    """The pid of this process's multiprocessing resource tracker, if one runs."""
    from multiprocessing import resource_tracker

    return getattr(resource_tracker._resource_tracker, "_pid", None)


def _stop_tracker_if_started(before: int | None) -> Callable[[], None]:
    """A callback that stops the resource tracker a cluster we started has started (its
    spawned workers need one), so no helper process outlives the run. One that ran before
    is someone else's (it may track their shared memory) and is left alone."""

    def stop() -> None:
        from multiprocessing import resource_tracker

        tracker = resource_tracker._resource_tracker
        if before is None and _tracker_pid() is not None and hasattr(tracker, "_stop"):
            try:
                tracker._stop()  # closes its pipe and reaps it; the next user starts a new one
            except Exception:
                logger.debug("The resource tracker could not be stopped.", exc_info=True)

    return stop
