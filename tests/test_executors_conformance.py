"""One conformance suite for every executor, then the faults of the parallel ones.

Each conformance test runs the same flow on LocalExecutor, LocalDaskExecutor
with threads and with processes, and DaskExecutor on a real LocalCluster (one
per module, two single-threaded worker processes), and checks the same final
states and results. Tasks are module-level so that workers can unpickle them.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
import threading
import time

import psutil
import pytest

from perfect_nb import Flow, context, task, triggers, unmapped
from perfect_nb.engine import signals
from perfect_nb.engine.results import LocalResult
from perfect_nb.executors import DaskExecutor, LocalDaskExecutor, LocalExecutor

pytestmark = pytest.mark.timeout(90)
EXECUTORS = ["local", "threads", "processes", "dask"]
REMOTE = ["processes", "dask"]


_clusters: list = []  # the module cluster while it runs


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, silence_logs=50, dashboard_address=":0") as cl:
        _clusters.append(cl)
        yield cl
        _clusters.clear()


def _helpers() -> set[int]:
    """Long-lived multiprocessing helpers (not started by a run)."""
    return {p.pid for p in psutil.Process().children() if any("resource_tracker" in c or "forkserver" in c for c in _cmdline(p))}


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


def _cluster_pids() -> set[int]:
    return {n.process.pid for cl in _clusters for n in cl.workers.values() if n.process is not None and n.process.pid}


@pytest.fixture(autouse=True)
def no_stray_processes(request):
    """After each test, only the module cluster's workers may still be children of this process."""
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    yield
    deadline = time.monotonic() + 10
    while True:
        allowed = before | _helpers() | _cluster_pids()
        stray = [p for p in psutil.Process().children(recursive=True) if p.pid not in allowed and p.is_running()]
        if not stray or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not stray, f"stray processes after the test: {[(p.pid, _cmdline(p)[-2:]) for p in stray]}"


@pytest.fixture(params=EXECUTORS)
def make_executor(request):
    """A factory, so a test can build a fresh executor per run."""
    kind = request.param
    address = request.getfixturevalue("cluster").scheduler_address if kind == "dask" else None
    factories = {
        "local": LocalExecutor,
        "threads": lambda: LocalDaskExecutor("threads", num_workers=4),
        "processes": lambda: LocalDaskExecutor("processes", num_workers=2),
        "dask": lambda: DaskExecutor(address),
    }
    return _Factory(kind, factories[kind])


class _Factory:
    def __init__(self, kind, factory):
        self.kind, self.factory = kind, factory

    def __call__(self):
        return self.factory()


def summary(state, tasks: dict) -> dict:
    """{name: (state type, result)}; mapped tasks list their children; failures give the exception type."""
    out = {}
    for name, t in tasks.items():
        s = state.result[t]
        if s.is_mapped():
            out[name] = ("Mapped", [_brief(c) for c in s.map_states])
        else:
            out[name] = _brief(s)
    return out


def _brief(s):
    if s.is_failed() or s.is_skipped():
        value = type(s.result).__name__ if isinstance(s.result, BaseException) else s.result
    else:
        value = s.result
    return (s.type, value)


# --- tasks ---------------------------------------------------------------------------
@task(max_retries=2, retry_delay=0)
def flaky():
    if context.task_run_count < 3:
        raise ValueError(f"attempt {context.task_run_count}")
    return context.task_run_count


@task(max_retries=1, retry_delay=0)
def hopeless():
    raise RuntimeError("never works")


@task(timeout=0.3)
def sleepy():
    time.sleep(1.5)
    return "woke"


@task
def fail_signal():
    raise signals.FAIL("bad row")


@task
def skip_signal():
    raise signals.SKIP("nothing new")


@task
def one():
    return 1


@task
def add(x, y=0):
    return x + y


@task
def double(x):
    return 2 * x


@task
def invert(x):
    return 1 / x


@task
def total(xs):
    return sum(xs)


@task
def nap(x, seconds=0.05):
    time.sleep(seconds)
    return x


@task
def pid():
    return os.getpid()


# --- conformance ---------------------------------------------------------------------
def test_retries_and_timeouts(make_executor):
    with Flow("retries") as flow:
        tasks = {"flaky": flaky(), "hopeless": hopeless(), "sleepy": sleepy()}
    state = flow.run(executor=make_executor())
    assert state.is_failed()
    assert summary(state, tasks) == {
        "flaky": ("Success", 3),
        "hopeless": ("Failed", "RuntimeError"),
        "sleepy": ("TimedOut", "TaskTimeoutError"),
    }


def test_signals_triggers_and_skips(make_executor):
    with Flow("signals") as flow:
        failed = fail_signal()
        skipped = skip_signal()
        tasks = {
            "failed": failed,
            "skipped": skipped,
            "after_failed": add(failed, 1),
            "on_failure": one(upstream_tasks=[failed], task_args={"trigger": triggers.any_failed}),
            "after_skipped": add(skipped, 1),
            "not_skipping": one(upstream_tasks=[skipped], task_args={"skip_on_upstream_skip": False}),
        }
    state = flow.run(executor=make_executor())
    result = summary(state, tasks)
    assert result == {
        "failed": ("Failed", "FAIL"),
        "skipped": ("Skipped", "SKIP"),  # Prefect 1.4.1: a raised SKIP is the state's result
        "after_failed": ("TriggerFailed", "TRIGGERFAIL"),
        "on_failure": ("Success", 1),
        "after_skipped": ("Skipped", None),
        "not_skipping": ("Success", 1),
    }
    assert state.result[failed].message == "bad row" and state.result[skipped].message == "nothing new"


def test_mapping_chained_map_reduce_and_a_failed_child(make_executor):
    with Flow("mapping") as flow:
        doubled = double.map([1, 2, 3])
        plus = add.map(doubled, y=[10, 20, 30])
        inverted = invert.map([1, 0, 4])
        tasks = {
            "doubled": doubled, "plus": plus, "sum": total(plus), "inverted": inverted,
            "sum_inverted": total(inverted), "empty": double.map([]),
        }
    state = flow.run(executor=make_executor())
    assert state.is_failed()
    assert summary(state, tasks) == {
        "doubled": ("Mapped", [("Success", 2), ("Success", 4), ("Success", 6)]),
        "plus": ("Mapped", [("Success", 12), ("Success", 24), ("Success", 36)]),
        "sum": ("Success", 72),
        "inverted": ("Mapped", [("Success", 1.0), ("Failed", "ZeroDivisionError"), ("Success", 0.25)]),
        "sum_inverted": ("TriggerFailed", "TRIGGERFAIL"),
        "empty": ("Mapped", []),
    }


def test_a_map_over_a_large_constant_list(make_executor):
    items = list(range(3000))  # every child's edges carry it: its static part is scattered on Dask
    with Flow("large constant") as flow:
        doubled = add.map(items, unmapped(1000))
        result = total(doubled)
    state = flow.run(executor=make_executor())
    assert state.result[result].result == sum(items) + 1000 * len(items)


def test_chained_maps_run_depth_first(make_executor):
    with Flow("depth first") as flow:
        first = nap.map(list(range(24)))
        second = nap.map(first)
    events = []
    state = flow.run(executor=make_executor(), listeners=[events.append])
    assert state.is_successful() and state.result[second].result == list(range(24))
    started_second = min(e.timestamp for e in events if e.task is second and e.map_index is not None and e.new_state.is_running())
    last_first = max(e.timestamp for e in events if e.task is first and e.map_index is not None and e.new_state.is_successful())
    assert started_second < last_first, "the second map must start before the first one is done"


def test_target_and_cache_for_give_the_same_states(make_executor, tmp_path):
    @task(target="{task_name}-{x}.pkl", result=LocalResult(dir=str(tmp_path)))
    def stored(x):
        return x * 3

    @task(cache_for=60)
    def cached(x):
        return x + 100

    def build():
        with Flow("caching") as flow:
            tasks = {"stored": stored(2), "cached": cached(1)}
        return flow, tasks

    first, tasks = build()
    run1 = summary(first.run(executor=make_executor(), context={"checkpointing": True}), tasks)  # writes the target
    second, tasks = build()
    state = second.run(executor=make_executor())  # reads it: a target is checked with checkpointing off too
    assert run1 == {"stored": ("Success", 6), "cached": ("Cached", 101)}
    assert summary(state, tasks) == {"stored": ("Cached", 6), "cached": ("Cached", 101)}
    assert "Result found at task target" in state.result[tasks["stored"]].message


def _mark_pid(task_, old, new):
    if new.is_successful():
        new.message = f"ran in {os.getpid()}"
    return new


@task(state_handlers=[_mark_pid])
def slow_marked():
    time.sleep(1.0)
    return "done"


def test_live_events_arrive_while_the_flow_runs(make_executor):
    with Flow("live") as flow:
        slow = slow_marked()
        after = add(slow, "!")
    received = []
    state = flow.run(executor=make_executor(), listeners=[lambda e: received.append((e, time.time()))])
    flow_end = next(e.timestamp for e, _ in received if e.task is None and e.new_state.is_finished())
    assert state.is_successful() and state.result[after].result == "done!"
    running = [(e, at) for e, at in received if e.task is slow and e.new_state.is_running()]
    success = [e for e, _ in received if e.task is slow and e.new_state.is_successful()]
    assert len(running) == 1 and len(success) == 1
    event, at = running[0]
    assert at < flow_end - 0.5, "the Running event must arrive while the task runs, not at the end"
    assert 0 <= at - event.timestamp < 0.5
    assert 0.9 < success[0].timestamp - event.timestamp < 1.5
    order = [(e.task, e.new_state.type) for e, _ in received]
    assert order.index((slow, "Success")) < order.index((after, "Running")) < order.index((None, "Success"))
    # task state handlers run where the task runs
    here = f"ran in {os.getpid()}"
    assert (success[0].new_state.message == here) == (make_executor.kind in ("local", "threads"))


def test_flow_executor_default_is_used(make_executor):
    executor = make_executor()
    with Flow("default executor", executor=executor) as flow:
        where = pid()
    state = flow.run()
    assert state.is_successful()
    assert (state.result[where].result == os.getpid()) == (make_executor.kind in ("local", "threads"))


# --- what a task cannot do to the flow runner -----------------------------------------
class Stop(BaseException):
    """A user's own BaseException, not an Exception and not a signal."""


@task
def stops():
    raise Stop("enough")


@task
def closes():
    raise GeneratorExit("closed")


@task
def exits(code=3):
    sys.exit(code)


@task
def recurses():
    def down(n):
        return down(n + 1)

    return down(0)


@task
def interrupts():
    raise KeyboardInterrupt


def test_a_base_exception_fails_its_task_and_the_run_returns_a_state(make_executor):
    with Flow("base exceptions") as flow:
        first = one()
        stop = stops(upstream_tasks=[first])
        tasks = {"first": first, "stop": stop, "closes": closes(upstream_tasks=[first]), "after": add(stop, 1), "other": add(first, 1)}
    state = flow.run(executor=make_executor())
    assert flow.last_run is state and state.is_failed()
    assert summary(state, tasks) == {
        "first": ("Success", 1), "stop": ("Failed", "Stop"), "closes": ("Failed", "GeneratorExit"),
        "after": ("TriggerFailed", "TRIGGERFAIL"), "other": ("Success", 2),
    }
    assert state.result[stop].message == "Error during execution of task: Stop('enough')"
    assert str(state.result[stop].result) == "enough"


def test_sys_exit_in_a_task_fails_that_task_and_never_exits_the_process(make_executor):
    with Flow("exits") as flow:
        first = one()
        gone = exits(upstream_tasks=[first])
        zero = exits(0, upstream_tasks=[first])
        tasks = {"first": first, "gone": gone, "zero": zero, "after": add(first, 1), "downstream": add(gone, 1)}
    state = flow.run(executor=make_executor())  # we are still here: the process did not exit
    assert flow.last_run is state and state.is_failed()
    assert summary(state, tasks) == {
        "first": ("Success", 1), "gone": ("Failed", "SystemExit"), "zero": ("Failed", "SystemExit"),
        "after": ("Success", 2), "downstream": ("TriggerFailed", "TRIGGERFAIL"),
    }
    assert "task called sys.exit(3)" in state.result[gone].message
    assert "task called sys.exit(0)" in state.result[zero].message
    assert "signals.FAIL" in state.result[gone].message  # what to do instead


def test_a_recursion_error_is_reported_as_a_recursion_error(make_executor):
    with Flow("recursion") as flow:
        deep = recurses()
        fine = one()
    state = flow.run(executor=make_executor())
    assert state.result[fine].result == 1
    failed = state.result[deep]
    assert failed.is_failed() and isinstance(failed.result, RecursionError)
    assert "RecursionError" in failed.message and "pickl" not in failed.message.lower()


@pytest.mark.parametrize("kind", ["threads", "processes", "dask"])
def test_keyboard_interrupt_raised_by_task_code_on_a_worker_fails_only_that_task(kind, request):
    executors = {
        "threads": lambda: LocalDaskExecutor("threads", 2),
        "processes": lambda: LocalDaskExecutor("processes", 2),
        "dask": lambda: DaskExecutor(request.getfixturevalue("cluster").scheduler_address),
    }
    executor = executors[kind]()
    workers = _cluster_pids()
    with Flow("task raises KeyboardInterrupt") as flow:
        first = one()
        raised = interrupts(upstream_tasks=[first])
        after = add(first, 1)
    start = time.monotonic()
    state = flow.run(executor=executor)
    assert time.monotonic() - start < 5, "no worker may die or restart over it"
    assert state.type == "Failed" and flow.last_run is state
    assert state.result[raised].is_failed() and isinstance(state.result[raised].result, KeyboardInterrupt)
    assert "KeyboardInterrupt" in state.result[raised].message
    assert state.result[after].result == 2
    assert _cluster_pids() == workers  # the Dask workers are the same processes


@task(timeout=0.3)
def blocked():
    time.sleep(3)  # inside C: a request to stop waits until it returns
    return "late"


@task(timeout=0.3)
def spins():
    while True:
        pass


def test_a_timed_out_body_is_stopped_where_python_allows_and_the_message_says_where_not(make_executor):
    kind = make_executor.kind
    workers = _cluster_pids()
    with Flow("timeouts") as flow:
        stuck = blocked()
        spinning = spins()
        after = pid(upstream_tasks=[stuck, spinning], task_args={"trigger": triggers.all_finished})
    state = flow.run(executor=make_executor())
    stuck_state, spin_state = state.result[stuck], state.result[spinning]
    assert stuck_state.type == spin_state.type == "TimedOut"
    assert spin_state.message == "Task timed out during execution (timeout: 0.3 s). Its body was stopped."
    assert stuck_state.message.startswith("Task timed out during execution (timeout: 0.3 s). Its body did not stop when told")
    assert state.result[after].is_successful()  # the executor still works
    if kind in ("local", "threads"):
        assert "may still be running in this process" in stuck_state.message
        assert "LocalDaskExecutor('processes') or DaskExecutor" in stuck_state.message
        assert any(t.name == "perfect_nb-timeout" and t.is_alive() for t in threading.enumerate())
    elif kind == "processes":
        worker = int(re.search(r"worker process (\d+) exits", stuck_state.message).group(1))
        assert state.result[after].result != worker
        deadline = time.monotonic() + 5
        while psutil.pid_exists(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not psutil.pid_exists(worker), "the worker holding the stuck body must be gone"
    else:
        assert re.search(r"Dask worker tcp://\S+ is restarted through its nanny", stuck_state.message)
        deadline = time.monotonic() + 20
        while (len(_cluster_pids()) < 2 or _cluster_pids() == workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        now = _cluster_pids()
        assert len(now) == 2 and len(now - workers) == 1, "one worker process was replaced"


# --- faults --------------------------------------------------------------------------
@task
def unpicklable():
    return threading.Lock()


@pytest.mark.parametrize("kind", REMOTE)
def test_an_unpicklable_result_fails_with_a_clear_message(kind, request):
    executor = LocalDaskExecutor("processes", 2) if kind == "processes" else DaskExecutor(request.getfixturevalue("cluster").scheduler_address)
    with Flow("unpicklable") as flow:
        bad = unpicklable()
        after = add(bad, 1)
        fine = one()
    state = flow.run(executor=executor)
    assert state.result[bad].is_failed() and state.result[fine].result == 1
    assert "could not be pickled" in state.result[bad].message and "'unpicklable'" in state.result[bad].message
    assert state.result[after].type == "TriggerFailed"


def test_an_unpicklable_input_fails_with_a_clear_message():
    with Flow("bad input") as flow:
        bad = add(threading.Lock(), 1)
    state = flow.run(executor=LocalDaskExecutor("processes", 2))
    assert state.result[bad].is_failed() and "could not be pickled" in state.result[bad].message


@task
def die(code=7):
    os._exit(code)


def test_a_dead_pool_worker_fails_only_its_task_and_names_it():
    with Flow("dying") as flow:
        dead = die()
        others = nap.map(list(range(4)), seconds=unmapped(0.2))
        after = total(others)
    state = flow.run(executor=LocalDaskExecutor("processes", 2))
    message = state.result[dead].message
    assert state.result[dead].is_failed() and "Worker process" in message and "exit code 7" in message
    assert state.result[after].result == 6


@task
def die_once(marker):
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(3)
    return "second try"


def test_a_dead_dask_worker_is_retried_by_dask(cluster, tmp_path):
    with Flow("dies once") as flow:
        out = die_once(str(tmp_path / "died"))
    state = flow.run(executor=DaskExecutor(cluster.scheduler_address))
    assert state.result[out].result == "second try"


def test_a_task_that_keeps_killing_dask_workers_fails_naming_the_worker():
    import dask
    import distributed  # noqa: F401  (its config defaults must exist before dask.config.set)

    with Flow("always dies") as flow:
        dead = die()
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        executor = DaskExecutor(cluster_kwargs={"n_workers": 1, "threads_per_worker": 1, "dashboard_address": ":0"})
        state = flow.run(executor=executor)
    message = state.result[dead].message
    assert state.result[dead].is_failed() and "died" in message and "tcp://" in message
    assert executor.cluster is None and executor.client is None


def test_tasks_the_scheduler_refuses_fail_instead_of_hanging(cluster, monkeypatch):
    import distributed

    def refuse(self, *args, **kwargs):
        raise TypeError("Could not serialize object of type _MapExpr")

    monkeypatch.setattr(distributed.Client, "map", refuse)
    with Flow("refused") as flow:
        first = one()
        after = add(first, 1)
    state = flow.run(executor=DaskExecutor(cluster.scheduler_address))
    assert state.is_failed() and state.result[first].is_failed()
    assert "Could not serialize" in state.result[first].message
    assert state.result[after].is_failed()  # refused too, or TriggerFailed: never left pending


@task(tags=["dask-resource:GPU=1"])
def gpu_free():
    from distributed import get_worker

    return get_worker().state.available_resources["GPU"]


def test_dask_executor_starts_and_closes_its_own_cluster_and_maps_resources():
    executor = DaskExecutor(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={"n_workers": 1, "threads_per_worker": 2, "resources": {"GPU": 1}, "dashboard_address": ":0"},
        adapt_kwargs={"minimum": 1, "maximum": 1},
    )
    with Flow("own cluster") as flow:
        free = gpu_free()
    state = flow.run(executor=executor)
    assert state.result[free].result == 0  # the task held the worker's one GPU while it ran
    assert executor.cluster is None and executor.client is None


@pytest.fixture
def sigint_raises():
    """Ctrl-C raises KeyboardInterrupt during the test, however the suite was started: a job
    started with SIGINT ignored (``nohup``, ``cmd &`` in a script, some CI runners) passes the
    ignore on, and Python then leaves it ignored. The test sends its own interrupt."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("kind", ["threads", "processes", "dask", "dask-own"])
def test_an_interrupt_cancels_pending_work_and_keeps_finished_results(kind, request, sigint_raises):
    executors = {
        "threads": lambda: LocalDaskExecutor("threads", 2),
        "processes": lambda: LocalDaskExecutor("processes", 2),
        "dask": lambda: DaskExecutor(request.getfixturevalue("cluster").scheduler_address),
        "dask-own": lambda: DaskExecutor(cluster_kwargs={"n_workers": 2, "threads_per_worker": 1, "dashboard_address": ":0"}),
    }
    executor = executors[kind]()
    with Flow("interrupted") as flow:
        first = one()
        slow = nap.map([first] * 6, seconds=unmapped(1.0))
    sent: list[float] = []

    def interrupt_soon(event):
        if not sent and event.task is slow and event.new_state.is_running():
            sent.append(time.monotonic() + 0.2)
            threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()

    state = flow.run(executor=executor, listeners=[interrupt_soon])
    after_interrupt = time.monotonic() - sent[0]
    assert state.type == "Cancelled"
    assert state.result[first].result == 1
    assert [s.type for s in state.result[slow].map_states].count("Cancelled") >= 4
    # no waiting for the 1 s tasks, except the cluster's own graceful shutdown
    assert after_interrupt < (5.0 if kind == "dask-own" else 0.9)
    if kind == "dask-own":
        assert executor.cluster is None
    if kind == "dask":  # the cluster it connected to keeps running, without our tasks
        from distributed import Client

        with Client(request.getfixturevalue("cluster"), set_as_default=False) as client:
            deadline = time.monotonic() + 5
            while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) == 0
            assert client.submit(sum, [1, 2], pure=False).result() == 3


def test_a_thread_left_running_by_a_task_on_processes_does_not_hold_the_run():
    @task
    def leaves_a_thread():
        threading.Thread(target=time.sleep, args=(30,)).start()  # not a daemon: it would keep its process
        return 1

    with Flow("left a thread") as flow:
        left = leaves_a_thread()
    start = time.monotonic()
    state = flow.run(executor=LocalDaskExecutor("processes", num_workers=1))
    assert state.result[left].result == 1
    assert time.monotonic() - start < 10  # was 30 s: the worker waited for the thread before exiting


NO_HELPERS_LEFT = """
import psutil
from perfect_nb import Flow, task
from perfect_nb.executors import DaskExecutor

@task
def one():
    return 1

if __name__ == "__main__":
    with Flow("no helpers left") as flow:
        one()
    executor = DaskExecutor(cluster_kwargs={"n_workers": 1, "threads_per_worker": 1, "dashboard_address": ":0"})
    assert flow.run(executor=executor).is_successful()
    print([(p.pid, p.status(), p.cmdline()[-1][:60]) for p in psutil.Process().children(recursive=True)])
"""


def test_a_dask_run_on_its_own_cluster_leaves_no_process_behind(tmp_path):
    import subprocess

    script = tmp_path / "run.py"
    script.write_text(NO_HELPERS_LEFT)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"  # no worker, no zombie, no resource tracker


def test_importing_the_executors_does_not_import_distributed():
    import subprocess
    import sys

    code = (
        "import sys, perfect_nb, perfect_nb.executors\n"
        "from perfect_nb.executors import LocalDaskExecutor\n"
        "from perfect_nb import Flow, task\n"
        "with Flow('f') as flow:\n"
        "    t = task(lambda: 1, name='t')()\n"
        "assert flow.run(executor=LocalDaskExecutor(num_workers=2)).is_successful()\n"
        "print(sorted(m for m in ('distributed', 'IPython', 'ipywidgets', 'graphviz') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@task
def chatty(x):
    logger = context.get("logger")
    logger.info("chatty got %s", x)
    try:
        1 / 0
    except ZeroDivisionError:
        logger.warning("chatty recovered", exc_info=True)
    return x


class _Seen(logging.Handler):
    """Records handled in this (the flow runner's) process, with the task run they belong to."""

    def __init__(self, log):
        super().__init__(logging.DEBUG)
        self.log = log

    def emit(self, record):
        from perfect_nb.core.context import current

        ctx = current()
        self.log.append(("log", record.getMessage(), ctx.get("task_full_name"), ctx.get("flow_run_id"), record.exc_text or ""))


def test_task_logs_are_handled_once_where_the_flow_runs(make_executor):
    """A task's log records reach the handlers of the flow runner's process once each,
    in their task run's context and before its Success event, whichever executor ran it
    (the view, the backend's reporter and the terminal all listen there)."""
    seen = []
    with Flow("chatty") as flow:
        chatty.map([1, 2])
    handler = _Seen(seen)
    logger = logging.getLogger("perfect_nb")
    logger.addHandler(handler)
    old_level, logger.level = logger.level, logging.INFO
    try:
        state = flow.run(executor=make_executor(), listeners=[lambda e: seen.append(("event", e.task_slug, e.map_index, e.new_state.type, e.flow_run_id))])
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert state.is_successful()
    logs = [s for s in seen if s[0] == "log" and s[1].startswith("chatty")]
    run_id = next(s[4] for s in seen if s[0] == "event")
    assert sorted(s[1:3] for s in logs) == [("chatty got 1", "chatty[0]"), ("chatty got 2", "chatty[1]"),
                                            ("chatty recovered", "chatty[0]"), ("chatty recovered", "chatty[1]")], logs
    assert all(s[3] == run_id for s in logs)
    assert all("ZeroDivisionError" in s[4] for s in logs if s[1] == "chatty recovered")
    for index in (0, 1):
        got = seen.index(next(s for s in logs if s[2] == f"chatty[{index}]" and s[1] == "chatty recovered"))
        success = seen.index(next(s for s in seen if s[0] == "event" and s[2] == index and s[3] == "Success"))
        assert got < success, seen


def test_a_worker_process_does_not_print_a_forwarded_log_line_too(tmp_path):
    """On the terminal, a task's log line from a process worker shows once (the flow
    runner's process prints it), not once by the worker and again by the runner."""
    script = tmp_path / "chatty.py"
    script.write_text(
        "from perfect_nb import Flow, task, context\n"
        "from perfect_nb.executors import LocalDaskExecutor\n"
        "@task\n"
        "def say():\n"
        "    context.get('logger').info('said once')\n"
        "if __name__ == '__main__':\n"
        "    with Flow('say') as flow:\n"
        "        say()\n"
        "    import logging\n"
        "    seen = []\n"
        "    here = logging.Handler()\n"
        "    here.emit = lambda record: seen.append(record.getMessage())\n"
        "    logging.getLogger('perfect_nb').addHandler(here)\n"
        "    assert flow.run(executor=LocalDaskExecutor('processes', num_workers=1), listeners=[lambda e: None]).is_successful()\n"
        "    print('runner saw', seen.count('said once'))\n"
    )
    import subprocess

    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PERFECT_NB_LOGGING_LEVEL": "INFO"})
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("said once") == 1, out.stderr
    assert "runner saw 1" in out.stdout, out.stdout
