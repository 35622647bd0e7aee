"""Agents, run processes, heartbeats, cancel and restart: real server, real agents, real processes.

The server runs with a 0.5 s heartbeat so that deaths show within seconds. Task
bodies append a line per execution to a file, so "each run executed once" is
counted from what the tasks themselves did, not from what the server says.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.backend.conftest import ServerProcess

HEARTBEAT = 0.5

FLOWS = '''
import os, time
from perfect_nb import Flow, Parameter, context, task

@task
def mark(i, out):
    with open(out, "a") as f:
        f.write(f"{context.get('flow_run_id')} {context.get('task_slug')}\\n")
    return i

@task
def wait(x, secs, flag):
    deadline = time.time() + secs
    while time.time() < deadline and not (flag and os.path.exists(flag)):
        time.sleep(0.02)
    if flag and not os.path.exists(flag):
        raise ValueError("the flag file is missing")
    return x

with Flow("work") as flow:
    out = Parameter("out")
    secs = Parameter("secs", default=0.0)
    flag = Parameter("flag", default="")
    a = mark(1, out)
    b = wait(a, secs, flag)
    c = mark(b, out)
'''


class Orchestra:
    """A server with a short heartbeat, the flow above registered, and agents on demand."""

    def __init__(self, database_url: str, home: Path, tmp: Path) -> None:
        self.home, self.tmp = home, tmp
        self.server = ServerProcess(database_url, home, env={"PERFECT_NB__SERVER__HEARTBEAT_SECONDS": str(HEARTBEAT)}).start()
        self.agents: list[subprocess.Popen] = []
        self.out = tmp / "marks.txt"
        from perfect_nb.client import Client

        self.client = Client(api=self.server.api)
        self.client.create_project("p")

    def register(self, source: str = FLOWS, labels: list[str] | None = None, name: str = "flows.py") -> str:
        from perfect_nb.cli.pyfile import load_flows

        path = self.tmp / name
        path.write_text(textwrap.dedent(source))
        (flow,) = load_flows(path).values()
        return self.client.register(flow, "p", labels=labels)["id"]

    def agent(self, *args: str) -> subprocess.Popen:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PERFECT_NB__", "PREFECT__"))}
        env.update(PERFECT_NB_HOME=str(self.home), PERFECT_NB__BACKEND__API=self.server.api)
        log = open(self.tmp / f"agent-{len(self.agents)}.log", "ab")
        proc = subprocess.Popen([sys.executable, "-m", "perfect_nb", "agent", "local", "start", *args], env=env, stdout=log, stderr=subprocess.STDOUT)
        self.agents.append(proc)
        return proc

    def run(self, flow_id: str, **params) -> str:
        return self.client.create_flow_run(flow_id, parameters={"out": str(self.out), **params})

    def wait_state(self, run_id: str, *names: str, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.client.get_flow_run_info(run_id)
            if type(info.state).__name__ in names:
                return info
            time.sleep(0.05)
        raise AssertionError(f"run {run_id} is {type(info.state).__name__} ({info.state.message}), not {names}, after {timeout} s; agent logs: {self.agent_logs()}")

    def wait_task(self, run_id: str, slug: str, state: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(t.task_slug == slug and type(t.state).__name__ == state for t in self.client.get_flow_run_info(run_id).task_runs):
                return
            time.sleep(0.05)
        raise AssertionError(f"task {slug} of {run_id} never {state}; agent logs: {self.agent_logs()}")

    def marks(self) -> collections.Counter:
        lines = self.out.read_text().splitlines() if self.out.exists() else []
        return collections.Counter(tuple(line.split()) for line in lines)

    def run_process(self, run_id: str) -> int:
        found = subprocess.run(["pgrep", "-f", f"execute flow-run {run_id}"], capture_output=True, text=True).stdout.split()
        assert found, f"no process runs {run_id}"
        return int(found[0])

    def agent_logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.tmp.glob("agent-*.log")))

    def close(self) -> None:
        for proc in self.agents:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.agents:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        for pid in subprocess.run(["pgrep", "-f", "execute flow-run"], capture_output=True, text=True).stdout.split():
            try:
                if f"PERFECT_NB_HOME={self.home}" in Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace").replace("\0", " "):
                    os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
        self.client.close()
        self.server.stop()


@pytest.fixture
def orchestra(database_url, home, tmp_path):
    o = Orchestra(database_url, home, tmp_path)
    yield o
    o.close()


def test_several_agents_run_each_run_exactly_once(orchestra):
    flow_id = orchestra.register()
    runs = [orchestra.run(flow_id) for _ in range(60)]
    for _ in range(3):
        orchestra.agent("--concurrency", "2")
    for run_id in runs:
        assert orchestra.wait_state(run_id, "Success", "Failed", timeout=90).state.is_successful()
    marks = orchestra.marks()
    assert sorted(marks.values()) == [1] * (2 * len(runs)), "every task body ran exactly once"
    assert {run for run, _ in marks} == set(runs)
    agents = {r["agent_id"] for r in orchestra.client.flow_runs(flow_id=flow_id, limit=100)}
    assert len(agents) >= 2, "the runs were shared among the agents"


def test_a_killed_run_process_fails_its_run_naming_the_signal_and_host(orchestra):
    import socket

    flow_id = orchestra.register()
    orchestra.agent()
    run_id = orchestra.run(flow_id, secs=60.0)
    orchestra.wait_task(run_id, "wait", "Running")
    os.kill(orchestra.run_process(run_id), signal.SIGKILL)
    killed = time.monotonic()
    info = orchestra.wait_state(run_id, "Failed", timeout=10)
    assert time.monotonic() - killed < 3 * HEARTBEAT + 1.5
    assert "SIGKILL" in info.state.message and socket.gethostname() in info.state.message
    tasks = {t.task_slug: type(t.state).__name__ for t in info.task_runs}
    assert tasks["mark"] == "Success" and tasks["wait"] == "Failed", "finished tasks keep their states; the unfinished one ends with its run"


def test_a_run_goes_on_when_its_agent_dies_and_is_requeued_when_its_process_died_too(orchestra):
    flow_id = orchestra.register()
    agent = orchestra.agent()
    survivor = orchestra.run(flow_id, secs=1.5)
    orchestra.wait_task(survivor, "wait", "Running")
    agent.kill()
    assert orchestra.wait_state(survivor, "Success", "Failed", timeout=20).state.is_successful(), "the run's process outlives its agent"

    agent = orchestra.agent()
    orphan = orchestra.run(flow_id, secs=60.0)
    orchestra.wait_task(orphan, "wait", "Running")
    pid = orchestra.run_process(orphan)
    agent.kill()
    os.kill(pid, signal.SIGKILL)  # the whole machine is gone, as it were
    info = orchestra.wait_state(orphan, "Scheduled", timeout=10)
    assert "back in the queue" in info.state.message
    orchestra.agent()
    info = orchestra.wait_state(orphan, "Running", timeout=15)
    assert info.claims == 2


def test_cancel_stops_a_running_run_and_keeps_what_finished(orchestra):
    flow_id = orchestra.register()
    orchestra.agent()
    run_id = orchestra.run(flow_id, secs=60.0)
    orchestra.wait_task(run_id, "wait", "Running")
    assert type(orchestra.client.cancel_flow_run(run_id).state).__name__ == "Cancelling"
    info = orchestra.wait_state(run_id, "Cancelled", timeout=10)
    tasks = {t.task_slug: type(t.state).__name__ for t in info.task_runs}
    assert tasks["mark"] == "Success" and tasks["wait"] == "Cancelled" and tasks["mark-2"] == "Cancelled"
    with pytest.raises(Exception) as refused:
        orchestra.client.cancel_flow_run(run_id)
    assert getattr(refused.value, "status", None) == 409 and "already finished (Cancelled)" in str(refused.value)


def test_cancel_of_a_run_not_yet_started_cancels_it_at_once(orchestra):
    flow_id = orchestra.register(labels=["nobody-has-this"])
    run_id = orchestra.run(flow_id)
    assert type(orchestra.client.cancel_flow_run(run_id).state).__name__ == "Cancelled"


def test_restart_reruns_what_failed_and_reuses_the_stored_results_of_what_succeeded(orchestra):
    flow_id = orchestra.register()
    orchestra.agent()
    flag = orchestra.tmp / "flag"
    run_id = orchestra.run(flow_id, secs=0.1, flag=str(flag))
    info = orchestra.wait_state(run_id, "Failed", timeout=20)
    assert {t.task_slug: type(t.state).__name__ for t in info.task_runs}["wait"] == "Failed"
    flag.write_text("")
    restarted = orchestra.client.restart_flow_run(run_id)
    assert restarted.rerun == []
    assert orchestra.wait_state(run_id, "Success", "Failed", timeout=20).state.is_successful()
    assert orchestra.marks() == {(run_id, "mark"): 1, (run_id, "mark-2"): 1}, "the upstream task was not run again"
    with pytest.raises(Exception) as refused:
        orchestra.client.restart_flow_run(run_id)
    assert getattr(refused.value, "status", None) == 409 and "succeeded" in str(refused.value)


def test_a_flow_that_cannot_be_loaded_on_the_agent_fails_naming_the_missing_module(orchestra):
    helper = orchestra.tmp / "libs"
    helper.mkdir()
    (helper / "only_here.py").write_text("def one():\n    return 1\n")
    sys.path.insert(0, str(helper))
    try:
        flow_id = orchestra.register("from perfect_nb import Flow, task\nimport only_here\nwith Flow('needs-lib') as flow:\n    task(only_here.one)()\n", name="lib_flow.py")
    finally:
        sys.path.remove(str(helper))
        sys.modules.pop("only_here", None)
    orchestra.agent()
    run_id = orchestra.client.create_flow_run(flow_id)
    info = orchestra.wait_state(run_id, "Failed", timeout=20)
    assert "cannot be loaded" in info.state.message and "only_here" in info.state.message


def test_watch_says_when_no_agent_has_the_runs_labels(orchestra):
    orchestra.register(labels=["gpu"])
    orchestra.agent()  # an agent without the label
    env = {**os.environ, "PERFECT_NB__BACKEND__API": orchestra.server.api}
    watch = subprocess.Popen([sys.executable, "-m", "perfect_nb", "run", "--name", "work", "--param", f"out={orchestra.out}", "--watch"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = watch.stderr.readline()
    finally:
        watch.kill()
        watch.wait()
    assert "no running agent has the labels ['gpu']" in line and "--label gpu" in line


def test_runs_finish_and_are_recorded_across_a_server_restart(orchestra):
    flow_id = orchestra.register()
    orchestra.agent()
    run_id = orchestra.run(flow_id, secs=2.0)
    orchestra.wait_task(run_id, "wait", "Running")
    orchestra.server.stop()
    time.sleep(1.0)
    orchestra.server.start()
    info = orchestra.wait_state(run_id, "Success", "Failed", timeout=30)
    assert info.state.is_successful()
    assert {t.task_slug: type(t.state).__name__ for t in info.task_runs}["mark-2"] == "Success"
    later = orchestra.run(flow_id)
    assert orchestra.wait_state(later, "Success", "Failed", timeout=20).state.is_successful(), "the agent reconnected"


def test_agents_racing_for_100_runs_each_get_distinct_runs(database_url):
    """Claims straight on the database, from threads with their own connections (on PostgreSQL
    they really run at once: FOR UPDATE SKIP LOCKED; on SQLite writes take turns)."""
    import threading

    from perfect_nb.server.db import Database
    from perfect_nb.server.db import orchestration as o
    from perfect_nb.server.db import queries as q
    from perfect_nb.server.db.migrate import upgrade

    db = Database(database_url)
    upgrade(db)
    with db.write() as conn:
        q.create_project(conn, "p")
        flow = q.register_flow(conn, "p", "f", "k", b"x", "bk", {}, [], {})
        for _ in range(100):
            q.create_flow_run(conn, flow, {})
        agent_ids = [o.register_agent(conn, f"a{i}", [], "h", i, 5)["id"] for i in range(4)]
    got: dict[str, list[str]] = {a: [] for a in agent_ids}

    def claim(agent_id: str) -> None:
        while True:
            with db.write() as conn:
                runs = o.claim_runs(conn, agent_id, 3)
            if not runs:
                return
            got[agent_id].extend(r["id"] for r in runs)

    threads = [threading.Thread(target=claim, args=(a,)) for a in agent_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    claimed = [r for runs in got.values() for r in runs]
    assert len(claimed) == 100 and len(set(claimed)) == 100, "each run was handed out once"
    with db.read() as conn:
        rows = q.list_flow_runs(conn, limit=1000)
    assert {r["state"] for r in rows} == {"Submitted"} and {r["lease"] for r in rows} == {1}
    db.dispose()


def test_the_models_match_the_migrations(database_url):
    """schema.py (what the code uses) and the Alembic revisions (what builds the database) agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from perfect_nb.server.db import Database
    from perfect_nb.server.db.migrate import upgrade
    from perfect_nb.server.db.schema import metadata

    db = Database(database_url)
    upgrade(db)
    with db.read() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    db.dispose()
    assert diff == []


SCHEDULED = '''
from datetime import datetime, timedelta
from perfect_nb import Flow, Parameter, context, task
from perfect_nb.schedules import IntervalSchedule

@task
def mark(out):
    with open(out, "a") as f:
        f.write(f"{context.get('flow_run_id')} mark\\n")

with Flow("ticker", schedule=IntervalSchedule(start_date=datetime(2026, 1, 1), interval=timedelta(seconds=1))) as flow:
    mark(Parameter("out", default=OUT))
'''


def test_an_agent_runs_a_registered_schedule_until_it_is_switched_off(orchestra):
    orchestra.register(SCHEDULED.replace("OUT", repr(str(orchestra.out))), name="ticker.py")
    orchestra.agent("--concurrency", "2")
    deadline = time.monotonic() + 30
    while len(orchestra.marks()) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(orchestra.marks()) >= 3, orchestra.agent_logs()
    env = {**os.environ, "PERFECT_NB__BACKEND__API": orchestra.server.api}
    off = subprocess.run([sys.executable, "-m", "perfect_nb", "flow", "schedule", "ticker", "--off"], env=env, capture_output=True, text=True)
    assert off.returncode == 0 and "is off" in off.stdout
    time.sleep(1.5)
    runs = orchestra.client.flow_runs(flow_name="ticker", limit=1000)
    assert "Scheduled" not in {type(r.state).__name__ for r in runs}
    done = len(orchestra.marks())
    time.sleep(2.0)
    assert len(orchestra.marks()) == done, "no run starts once the schedule is off"
    assert all(count == 1 for count in orchestra.marks().values())


def test_a_registered_flow_with_a_dask_executor_runs_its_tasks_on_that_cluster(orchestra):
    import distributed  # a dependency of perfect_nb (DaskExecutor)
    with distributed.LocalCluster(n_workers=1, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address=None) as cluster, distributed.Client(cluster) as dask_client:
        source = FLOWS.replace('with Flow("work") as flow:', f'from perfect_nb.executors import DaskExecutor\nwith Flow("work", executor=DaskExecutor({cluster.scheduler_address!r})) as flow:')
        flow_id = orchestra.register(source)
        orchestra.agent()
        run_id = orchestra.run(flow_id)
        assert orchestra.wait_state(run_id, "Success", "Failed", timeout=60).state.is_successful(), orchestra.agent_logs()
        ran_on_cluster = sum(dask_client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.transition_log)) for _ in [0])
    assert orchestra.marks() == {(run_id, "mark"): 1, (run_id, "mark-2"): 1}
    assert ran_on_cluster > 0, "the tasks went through the cluster's scheduler"


def test_usage_mistakes_of_the_orchestration_commands_say_what_to_do(orchestra):
    env = {**os.environ, "PERFECT_NB__BACKEND__API": orchestra.server.api}

    def perfect(*args):
        return subprocess.run([sys.executable, "-m", "perfect_nb", *args], env=env, capture_output=True, text=True, timeout=60)

    by_hand = perfect("execute", "flow-run", "some-id")
    assert by_hand.returncode == 2 and "perfect agent local start" in by_hand.stderr
    assert "at least 1" in perfect("agent", "local", "start", "--concurrency", "0").stderr
    nobody = perfect("agent", "local", "start", "--api", "http://127.0.0.1:9")
    assert nobody.returncode == 2 and "No perfect_nb server answers at http://127.0.0.1:9" in nobody.stderr
    missing = perfect("cancel", "no-such-run")
    assert missing.returncode == 2 and "No flow run with id 'no-such-run'" in missing.stderr
    flow_id = orchestra.register(labels=["nobody-has-this"])
    run_id = orchestra.run(flow_id)
    early = perfect("restart", run_id)
    assert early.returncode == 2 and "only a finished run can be restarted" in early.stderr
    assert perfect("flow", "schedule", "nope", "--on").returncode == 2


def test_a_state_set_from_outside_stops_the_runs_process_and_stays(orchestra):
    flow_id = orchestra.register()
    orchestra.agent()
    run_id = orchestra.run(flow_id, secs=60.0)
    orchestra.wait_task(run_id, "wait", "Running")
    pid = orchestra.run_process(run_id)
    orchestra.client.set_flow_run_state(run_id, "Failed")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text():
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text(), "the process stopped itself"
    time.sleep(1.0)  # whatever it sent on its way out came with a void lease
    assert type(orchestra.client.get_flow_run_info(run_id).state).__name__ == "Failed"
    assert orchestra.marks() == {(run_id, "mark"): 1}


MAPPED = '''
import os
from perfect_nb import Flow, Parameter, context, task, unmapped

@task
def each(i, out, flag):
    with open(out, "a") as f:
        f.write(f"{context.get('flow_run_id')} each[{context.get('map_index')}]\\n")
    if i == 2 and not os.path.exists(flag):
        raise ValueError("no flag")
    return i * 10

@task
def total(xs):
    return sum(xs)

with Flow("mapped") as flow:
    out, flag = Parameter("out"), Parameter("flag")
    total(each.map([1, 2, 3], out=unmapped(out), flag=unmapped(flag)))
'''


def test_restart_of_a_map_reruns_only_the_children_that_failed(orchestra):
    from perfect_nb.engine.results import LocalResult

    flow_id = orchestra.register(MAPPED, name="mapped.py")
    orchestra.agent()
    flag = orchestra.tmp / "flag"
    run_id = orchestra.run(flow_id, flag=str(flag))
    assert type(orchestra.wait_state(run_id, "Success", "Failed", timeout=20).state).__name__ == "Failed"
    flag.write_text("")
    orchestra.client.restart_flow_run(run_id)
    info = orchestra.wait_state(run_id, "Success", "Failed", timeout=20)
    assert info.state.is_successful(), ([(t.task_slug, t.map_index, t.state, t.state.message) for t in info.task_runs], orchestra.marks())
    assert orchestra.marks() == {(run_id, "each[0]"): 1, (run_id, "each[1]"): 2, (run_id, "each[2]"): 1}
    total = next(t for t in info.task_runs if t.task_slug == "total")
    assert LocalResult(dir=orchestra.home / "results").read(total.result_location).value == 60
