"""%%perfect_flow: builds the flow from the cell, binds NAME, shows the view, runs it."""

import pytest
from IPython.core.error import UsageError

from perfect_nb import Flow
from perfect_nb.notebook import views

TASKS = """
from perfect_nb import task, Parameter
@task
def double(x):
    return 2 * x
@task
def add(x, y):
    return x + y
"""


def test_binds_flow_and_runs_it(ip, run_cell):
    run_cell(TASKS)
    ip.run_cell_magic("perfect_flow", "etl", "n = Parameter('n', default=2)\ntotal = add(double(n), 1)\n")
    flow = ip.user_ns["etl"]
    assert isinstance(flow, Flow) and flow.name == "etl"
    assert flow.last_run.is_successful()
    assert flow.last_run.result[ip.user_ns["total"]].result == 5
    assert views["etl"].flow is flow


def test_param_values_are_parsed_as_literals(ip, run_cell):
    run_cell(TASKS)
    ip.run_cell_magic("perfect_flow", "etl --param n=10 --param label=ten", "n = Parameter('n', default=2)\nlabel = Parameter('label', default='x')\ntotal = add(double(n), 1)\n")
    state = ip.user_ns["etl"].last_run
    assert state.result[ip.user_ns["total"]].result == 21
    assert state.result[ip.user_ns["label"]].result == "ten"


def test_no_run_builds_without_running(ip, run_cell):
    run_cell(TASKS)
    ip.run_cell_magic("perfect_flow", "etl --no-run", "total = double(4)\n")
    assert ip.user_ns["etl"].last_run is None
    assert views["etl"].states == {"double": "Pending"}


def test_cell_that_raises_binds_nothing(ip, run_cell):
    run_cell(TASKS)
    ip.user_ns.pop("broken", None)
    with pytest.raises(ZeroDivisionError):
        ip.run_cell_magic("perfect_flow", "broken", "total = double(1)\n1 / 0\n")
    assert "broken" not in ip.user_ns
    assert "broken" not in views


def test_cell_that_raises_keeps_the_previous_flow(ip, run_cell):
    run_cell(TASKS)
    ip.run_cell_magic("perfect_flow", "etl", "total = double(1)\n")
    before = ip.user_ns["etl"]
    with pytest.raises(NameError):
        ip.run_cell_magic("perfect_flow", "etl", "total = double(undefined_name)\n")
    assert ip.user_ns["etl"] is before


def test_rerunning_the_cell_reuses_the_widget(ip, run_cell):
    run_cell(TASKS)
    ip.run_cell_magic("perfect_flow", "etl", "total = double(1)\n")
    first = views["etl"]
    ip.run_cell_magic("perfect_flow", "etl", "total = double(2)\nmore = double(total)\n")
    assert views["etl"] is first
    assert set(first.states) == {"double", "double-2"}


@pytest.mark.parametrize(
    "line, message",
    [
        ("1bad", "valid Python identifier"),
        ("etl --executor nowhere", "--executor must be"),
        ("etl --param novalue", "KEY=VALUE"),
        ("etl --param bogus=1", "has no parameter(s) ['bogus']"),
        ("etl --unknown-flag", "Bad arguments"),
        ("", "Bad arguments"),
    ],
)
def test_bad_arguments_raise_usage_error(ip, run_cell, line, message):
    run_cell(TASKS)
    with pytest.raises(UsageError, match=None) as info:
        ip.run_cell_magic("perfect_flow", line, "n = Parameter('n', default=2)\ntotal = double(n)\n")
    text = str(info.value)
    assert message in text and "\n" not in text.strip()


def test_missing_required_parameter_is_a_usage_error(ip, run_cell):
    run_cell(TASKS)
    with pytest.raises(UsageError, match="required parameter") as info:
        ip.run_cell_magic("perfect_flow", "etl", "n = Parameter('n')\ntotal = double(n)\n")
    assert "--param" in str(info.value)
    assert views["etl"].form.errors == {"n": "Required: enter a value."}  # shown next to the field
    assert ip.user_ns["etl"].last_run is None


def test_cycle_in_cell_is_reported(ip, run_cell):
    run_cell(TASKS)
    body = "a = double(1)\nb = double(a)\na.set_upstream(b)\n"
    with pytest.raises(Exception, match="cycle"):
        ip.run_cell_magic("perfect_flow", "cyclic", body)
    assert "cyclic" not in ip.user_ns


def test_failing_task_is_a_failed_state_not_an_error(ip, run_cell):
    run_cell(TASKS + "\n@task\ndef boom():\n    raise ValueError('bad input')\n")
    ip.run_cell_magic("perfect_flow", "etl", "b = boom()\n")
    state = ip.user_ns["etl"].last_run
    assert state.is_failed()
    assert "bad input" in views["etl"].summary.value


def test_threads_executor_from_the_magic(ip, run_cell):
    run_cell(TASKS)
    ip.run_cell_magic("perfect_flow", "etl --executor threads", "total = add(double(1), double(2))\n")
    assert ip.user_ns["etl"].last_run.result[ip.user_ns["total"]].result == 6


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_executor_address_nothing_answers_at_is_a_usage_error_at_once(ip, run_cell):
    import time

    run_cell(TASKS)
    address = f"tcp://127.0.0.1:{_closed_port()}"
    start = time.monotonic()
    with pytest.raises(UsageError) as info:
        ip.run_cell_magic("perfect_flow", f"etl --executor {address}", "total = double(1)\n")
    assert time.monotonic() - start < 5
    text = str(info.value)
    assert address in text and "no Dask scheduler answers" in text and "--executor dask" in text
    assert "\n" not in text.strip()


def test_an_executor_address_that_accepts_but_is_not_a_dask_scheduler_is_a_usage_error(ip, run_cell):
    import socket
    import time

    run_cell(TASKS)
    with socket.socket() as server:  # accepts connections (the kernel's backlog) and never speaks
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        start = time.monotonic()
        with pytest.raises(UsageError, match="no Dask handshake") as info:
            ip.run_cell_magic("perfect_flow", f"etl --executor {address}", "total = double(1)\n")
        assert time.monotonic() - start < 5
    assert address in str(info.value)


@pytest.mark.timeout(120)
def test_re_running_an_unchanged_cell_500_times_does_not_grow_the_kernel(ip, run_cell):
    """Measured on this machine (2 parameters, 4 tasks, after 250 warm-up runs): before
    the fix each re-run left 35 widgets and ~110 kB behind (+54 MB over 500 re-runs in a
    plain process); closing the replaced form left ~15 kB a run, IPython's record of each
    displayed bundle (``history_manager.outputs``); keeping only the view's newest record
    leaves nothing: no widget, no Python object, flat memory in a plain process (pytest's
    own process still shows some allocator growth, hence the generous bound)."""
    import gc

    import psutil
    from ipywidgets.widgets.widget import _instances

    run_cell(TASKS)
    body = "n = Parameter('n', default=2)\nm = Parameter('m', default=3, help='how many')\na = double(n)\nb = double(m)\nc = add(a, b)\nd = add(c, 1)\n"
    for _ in range(250):  # warm up: the first few hundred runs grow the allocator's arenas (~25 MB)
        ip.run_cell_magic("perfect_flow", "etl", body)
    gc.collect()
    process = psutil.Process()
    rss, widgets_open, objects = process.memory_info().rss, len(_instances), len(gc.get_objects())
    for _ in range(500):
        ip.run_cell_magic("perfect_flow", "etl", body)
    gc.collect()
    grown = (process.memory_info().rss - rss) / 2**20
    print(f"500 re-runs: +{grown:.1f} MB, {len(_instances) - widgets_open:+d} widgets, {len(gc.get_objects()) - objects:+d} objects")
    assert len(_instances) == widgets_open, "a re-run must close the widgets it replaces"
    assert len(gc.get_objects()) - objects < 500, "a re-run must not keep Python objects alive"
    assert grown < 40, f"the kernel grew by {grown:.1f} MB over 500 re-runs"
