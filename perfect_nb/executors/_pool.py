"""Worker pools for live submission: threads, and processes with one pipe per worker.

``ThreadPool`` is a bare queue and N threads: no Future objects, the callback
is called with a finished future as soon as the call returns.

``concurrent.futures.ProcessPoolExecutor`` fits the flow runner badly: one dead
worker breaks the whole pool (every pending call fails), and results travel on
a channel separate from any live events, so a task's Success event could reach
the flow runner after its result. Here each worker owns one duplex pipe: the
parent sends a pickled call, the worker answers with zero or more event frames
and then one result frame, so events always arrive before their result. One
dispatcher thread waits on every pipe and process sentinel; a worker that dies
fails only the call it was running (naming its pid and exit code) and is
replaced.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import logging
import multiprocessing
import os
import queue
import signal
import sys
import threading
from concurrent.futures import Future
from multiprocessing.connection import wait
from typing import Any, Callable

import cloudpickle

from perfect_nb.engine import timeouts
from perfect_nb.errors import SerializationError
from perfect_nb.executors._pickling import PickledCall, StaticCache, call_pickled, dump_record, reset_worker_cache
from perfect_nb.executors.local import _Done as Done

__all__ = ["PipeSink", "ProcessPool", "Raised", "ThreadPool", "WorkerLostError"]

logger = logging.getLogger("perfect_nb.executors")
_EVENT, _OK, _ERR, _LAST = b"E", b"O", b"X", b"Q"  # _LAST: the worker exits after this answer


class WorkerLostError(RuntimeError):
    """A worker (process or Dask worker) died while running a task."""


class Raised:
    """A finished future holding an exception."""

    __slots__ = ("_exc",)

    def __init__(self, exc: BaseException) -> None:
        self._exc = exc

    def result(self, timeout: float | None = None) -> Any:
        raise self._exc

    def done(self) -> bool:
        return True

    def add_done_callback(self, fn: Callable) -> None:
        fn(self)


class ThreadPool:
    """``n`` threads taking ``(callback, fn, args, kwargs)`` off one queue."""

    def __init__(self, n: int) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"perfect_nb-task-{i}", daemon=True) for i in range(n)]
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        get = self._queue.get
        while True:
            item = get()
            if item is None:
                return
            callback, fn, args, kwargs = item
            try:
                done: Any = Done(fn(*args, **kwargs))
            except BaseException as exc:  # handed to the flow runner through the future
                done = Raised(exc)
            callback(done)

    def submit_then(self, callback: Callable, fn: Callable, args: tuple, kwargs: dict) -> None:
        self._queue.put((callback, fn, args, kwargs))

    def submit(self, fn: Callable, args: tuple, kwargs: dict) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.set_running_or_notify_cancel()
        self.submit_then(lambda done: _settle(future, done), fn, args, kwargs)
        return future

    def cancel_pending(self) -> None:
        """Drop calls that have not started."""
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()

    def close(self, cancel: bool = False) -> None:
        """Stop the threads after the calls already queued, or drop those (``cancel``)."""
        if cancel:
            self.cancel_pending()
        for _ in self._threads:
            self._queue.put(None)
        if not cancel:
            for thread in self._threads:
                thread.join()


def _settle(future: concurrent.futures.Future, done: Any) -> None:
    try:
        future.set_result(done.result())
    except BaseException as exc:
        future.set_exception(exc)


# --- worker side -----------------------------------------------------------
_conn: Any = None
_send_lock = threading.Lock()
_stuck: list[threading.Thread] = []  # timed-out task bodies that did not stop when told


def _exit_after_answer(thread: threading.Thread) -> str:
    """The timeout stopper of a pool worker: exit once this call is answered."""
    _stuck.append(thread)
    return (f"Its body did not stop when told, so worker process {os.getpid()} "
            "exits once it has sent this state, to stop it; a new worker takes its place.")


def _send(tag: bytes, blob: bytes) -> None:
    with _send_lock:
        _conn.send_bytes(tag + blob)


def _dump_exception(exc: BaseException) -> bytes:
    try:
        return cloudpickle.dumps(exc)
    except Exception:
        return cloudpickle.dumps(RuntimeError(f"{type(exc).__name__}: {exc}"))


def _worker_main(conn: Any, inherited: list[int]) -> None:
    """Loop of one worker process: read a call, run it, answer; an empty message stops it.

    ``inherited`` are the parent's pipe ends a forked child must close, so that
    every worker sees end-of-file (and exits) if the parent dies.
    """
    global _conn
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what an interrupt means
    for fd in inherited:
        try:
            os.close(fd)
        except OSError:
            pass
    _conn = conn
    reset_worker_cache()  # a forked worker must not keep its parent's entries
    timeouts.stoppers.insert(0, _exit_after_answer)
    while True:
        try:
            payload = conn.recv_bytes()
        except (EOFError, OSError):
            _leave()
        if not payload:
            _leave()
        try:
            tag, blob = _OK, call_pickled(payload)
        except BaseException as exc:  # sent back to the parent, never raised here
            tag, blob = _ERR, _dump_exception(exc)
        if _stuck:  # only after a timeout whose body did not stop
            _send(_LAST, b"")
            _send(tag, blob)
            os._exit(0)  # the only way to stop a thread blocked outside Python code
        _send(tag, blob)


def _leave() -> None:
    """End this worker now: a thread a task left running (non-daemon or not) must not keep
    the process, and so the pool's close and ``flow.run()``, waiting for it. Notifications
    still being sent get their deadline first, and standard streams are flushed."""
    notifications = sys.modules.get("perfect_nb.utilities.notifications")
    if notifications is not None:
        notifications.flush()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(0)


class PipeSink:
    """Event sink for task runs in pool workers: each record goes up the worker's pipe."""

    __slots__ = ()

    def __call__(self, record: tuple) -> None:
        _send(_EVENT, dump_record(record))


# --- parent side -----------------------------------------------------------
class _Worker:
    __slots__ = ("proc", "conn", "future", "statics", "last")

    def __init__(self, proc: Any, conn: Any) -> None:
        self.proc, self.conn, self.future = proc, conn, None
        self.last = False  # it said it exits after its current answer
        self.statics = StaticCache()  # mirrors the static parts this worker holds


class ProcessPool:
    """``n`` worker processes; ``submit(call)`` returns a concurrent Future.

    Each worker is sent a call's static part only the first time it needs it.

    ``on_event`` is called (in the dispatcher thread) with each event record.
    """

    def __init__(self, n: int, context: str | None = None, on_event: Callable[[tuple], None] | None = None) -> None:
        self._ctx = multiprocessing.get_context(context or default_context())
        self._fork = self._ctx.get_start_method() == "fork"
        self._on_event = on_event
        self._lock = threading.Lock()
        self._pending: collections.deque = collections.deque()
        self._idle: collections.deque = collections.deque()
        self._workers: set[_Worker] = set()
        self._closing = False
        for _ in range(n):
            self._spawn()
        self._thread = threading.Thread(target=self._dispatch, name="perfect_nb-process-pool", daemon=True)
        self._thread.start()

    def _spawn(self) -> None:
        parent, child = self._ctx.Pipe(duplex=True)
        inherited = [parent.fileno()]
        if self._fork:
            with self._lock:
                inherited += [w.conn.fileno() for w in self._workers if not w.conn.closed]
        proc = self._ctx.Process(target=_worker_main, args=(child, inherited if self._fork else []), name="perfect_nb-worker", daemon=True)
        proc.start()
        child.close()
        worker = _Worker(proc, parent)
        with self._lock:
            closing = self._closing
            if not closing:
                self._workers.add(worker)
        if closing:  # the pool shut down while this replacement started: stop it again
            with contextlib.suppress(OSError, ValueError):
                parent.send_bytes(b"")
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join()
            parent.close()
            return
        self._give_work(worker)

    def submit(self, call: PickledCall) -> Future:
        future: Future = Future()
        with self._lock:
            if self._closing:
                raise RuntimeError("The process pool is shut down; submit inside `with executor.start():`.")
            self._pending.append((call, future))
            worker = self._idle.popleft() if self._idle else None
        if worker is not None:
            self._give_work(worker)
        return future

    def _give_work(self, worker: _Worker) -> None:
        """Send the next pending call to ``worker``, or mark it idle."""
        with self._lock:
            if worker not in self._workers:
                return
            while self._pending:
                call, future = self._pending.popleft()
                if future.set_running_or_notify_cancel():
                    worker.future = future
                    break
            else:
                if not self._closing:
                    self._idle.append(worker)
                return
        try:
            worker.conn.send_bytes(call.payload(call.token is None or worker.statics.needs(call.token)))
        except (OSError, ValueError):
            pass  # the worker died; the dispatcher sees its sentinel and fails the call

    def _dispatch(self) -> None:
        while True:
            with self._lock:
                if self._closing and not self._workers:
                    return
                conns = {w.conn: w for w in self._workers}
                sentinels = {w.proc.sentinel: w for w in self._workers}
            for ready in wait([*conns, *sentinels]):
                try:
                    if ready in conns:
                        self._read(conns[ready])
                    else:
                        self._lost(sentinels[ready])
                except Exception:
                    logger.exception("perfect_nb process pool: error while handling a worker message")

    def _read(self, worker: _Worker) -> None:
        if worker not in self._workers:
            return
        try:
            message = worker.conn.recv_bytes()
        except (EOFError, OSError):
            return self._lost(worker)
        self._handle(worker, message)

    def _handle(self, worker: _Worker, message: bytes) -> None:
        tag, blob = message[:1], message[1:]
        if tag == _EVENT:
            if self._on_event is not None:
                self._on_event(cloudpickle.loads(blob))
            return
        if tag == _LAST:
            worker.last = True
            return
        future, worker.future = worker.future, None
        if not worker.last:  # one that exits is replaced when it is gone
            self._give_work(worker)
        if future is None:
            return
        try:
            value = cloudpickle.loads(blob)
        except Exception as exc:
            future.set_exception(SerializationError(f"A task result could not be unpickled in the flow runner: {exc!r}"))
            return
        future.set_exception(value) if tag == _ERR else future.set_result(value)

    def _lost(self, worker: _Worker) -> None:
        self._drain(worker)
        with self._lock:
            if worker not in self._workers:
                return
            self._workers.discard(worker)
            if worker in self._idle:
                self._idle.remove(worker)
            closing, future = self._closing, worker.future
        worker.proc.join(1)
        worker.conn.close()
        if future is not None:
            code = worker.proc.exitcode
            how = f"killed by {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
            future.set_exception(WorkerLostError(
                f"Worker process {worker.proc.pid} died while running this task ({how}); "
                "a replacement worker was started. Look for a crash or the out-of-memory killer."
            ))
        if not closing:
            self._spawn()

    def _drain(self, worker: _Worker) -> None:
        """Read what a worker sent before it exited (the answer of one that retired)."""
        try:
            while worker.future is not None and worker in self._workers and worker.conn.poll():
                self._handle(worker, worker.conn.recv_bytes())
        except (EOFError, OSError):
            pass

    def cancel_pending(self) -> None:
        """Cancel calls that have not started."""
        with self._lock:
            pending = list(self._pending)
            self._pending.clear()
        for _, future in pending:
            future.cancel()

    def close(self, terminate: bool = False) -> None:
        """Stop the workers: after their current call, or at once (``terminate``)."""
        self.cancel_pending()
        with self._lock:
            self._closing = True
            workers = list(self._workers)
            self._idle.clear()
        for worker in workers:
            try:
                worker.proc.terminate() if terminate else worker.conn.send_bytes(b"")
            except (OSError, ValueError):
                pass
        for worker in workers:
            worker.proc.join(2 if terminate else 30)
            if worker.proc.is_alive():
                worker.proc.kill()
                worker.proc.join()
        self._thread.join(5)

    @property
    def pids(self) -> list[int]:
        with self._lock:
            return [w.proc.pid for w in self._workers]


def default_context() -> str:
    """``fork`` on Linux (workers start in milliseconds), ``spawn`` elsewhere."""
    return "fork" if sys.platform.startswith("linux") else "spawn"
