"""Every run recorded: the reporter on the engine's events, against a real server."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import time

import pytest

from perfect_nb import Flow, Parameter, context, task
from perfect_nb.client import Client
from tests.backend.conftest import ServerProcess


def mapped_flow() -> Flow:
    @task
    def inc(x):
        context.get("logger").warning("inc got %s", x)
        return x + 1

    @task
    def boom(xs):
        raise ValueError(f"bad {xs}")

    with Flow("recorded") as flow:
        n = Parameter("n", default=[1, 2, 3])
        boom(inc.map(n))
    return flow


def test_a_run_is_recorded_with_task_runs_states_and_logs(client):
    state = mapped_flow().run(n=[1, 2], backend=client)
    assert state.is_failed()
    [run] = client.flow_runs()
    assert (type(run.state).__name__, run.flow_name, run.parameters) == ("Failed", "recorded", {"n": [1, 2]})
    info = client.get_flow_run_info(run.id)
    rows = sorted((t.task_slug, t.map_index, type(t.state).__name__) for t in info.task_runs)
    assert rows == [("boom", -1, "Failed"), ("inc", -1, "Mapped"), ("inc", 0, "Success"), ("inc", 1, "Success"), ("n", -1, "Success")]
    ran = [t for t in info.task_runs if type(t.state).__name__ != "Mapped"]  # a mapped parent never runs itself
    assert all(t.start_time is not None and t.end_time >= t.start_time for t in ran)
    assert "ValueError('bad [2, 3]')" in client.get_task_run_info(run.id, "boom").state.message
    assert [s["state"] for s in client.get_flow_run_states(run.id)] == ["Running", "Failed"]
    child = client.get_task_run_info(run.id, "inc", map_index=1)
    assert [s["state"] for s in child.states] == ["Running", "Success"]
    logs = client.get_logs(run.id)
    assert sorted(r["message"] for r in logs if r["name"] == "perfect_nb.inc") == ["inc got 1", "inc got 2"]
    assert any("bad [2, 3]" in r["message"] and r["level"] == logging.ERROR for r in logs)


@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_task_logs_from_worker_processes_are_recorded_with_their_task_run(client, executor):
    """A task that runs in another process (LocalDaskExecutor processes, a Dask cluster of
    worker processes) has its log lines recorded under its task run, as a local one has."""
    from perfect_nb.executors import DaskExecutor, LocalDaskExecutor

    chosen = LocalDaskExecutor("processes", num_workers=2) if executor == "processes" else DaskExecutor(cluster_kwargs={"n_workers": 1, "processes": True})
    state = mapped_flow().run(n=[1, 2], backend=client, executor=chosen)
    assert state.is_failed()
    [run] = client.flow_runs()
    logs = client.get_logs(run.id)
    inc_logs = sorted((r["message"], r["task_run_id"]) for r in logs if r["name"] == "perfect_nb.inc")
    children = {t.map_index: t.id for t in client.get_flow_run_info(run.id).task_runs if t.task_slug == "inc"}
    assert inc_logs == sorted([("inc got 1", children[0]), ("inc got 2", children[1])]), logs
    failure = [r for r in logs if "bad [2, 3]" in r["message"] and r["level"] == logging.ERROR]
    assert len(failure) == 1 and failure[0]["task_run_id"] == next(t.id for t in client.get_flow_run_info(run.id).task_runs if t.task_slug == "boom")


def test_a_flow_changed_between_runs_is_recorded_with_its_new_graph(client):
    """The graph sent with each run is made once per shape of the flow: a task added
    between two runs of the same Flow object, or a task renamed, is in the next run's graph."""
    @task
    def one():
        return 1

    with Flow("grows") as flow:
        first = one()
    flow.run(backend=client)
    second = task(lambda x: x + 1, name="two")
    flow.add_edge(first, second, key="x")
    flow.run(backend=client)
    second.name = "two renamed"
    flow.run(backend=client)
    runs = sorted(client.flow_runs(), key=lambda r: r.created)
    names = [sorted(t["name"] for t in client.get_flow_run_info(r.id).graph["tasks"]) for r in runs]
    assert names == [["one"], ["one", "two"], ["one", "two renamed"]]


def test_a_flow_run_again_sends_only_its_graph_key_and_a_server_without_the_graph_asks_for_it(server, database_url):
    """A run's DAG is stored once per shape: the first run of a flow sends it, a later
    run only the key the server gave it, and both runs show it. A server whose database
    lost the graph (reset, or another server at that address) says so, and the reporter
    sends the graph within the same run."""
    import sqlalchemy as sa

    from perfect_nb.server.db import Database

    sent = []

    class Watched(Client):  # a real client to a real server; it notes what it sends
        def post_events(self, events):
            sent.extend(e for e in events if e["type"] in ("flow_run", "graph"))
            return super().post_events(events)

    with Flow("shapes") as flow:
        task(lambda x: x + 1, name="inc")(task(lambda: 1, name="one")())
    with Watched(api=server.api) as client:
        flow.run(backend=client)
        flow.run(backend=client)
        db = Database(database_url)
        with db.write() as conn:
            conn.execute(sa.text("DELETE FROM graphs"))
        db.dispose()
        flow.run(backend=client)
        runs = sorted(client.flow_runs(), key=lambda r: r.created)
        graphs = [sorted(t["name"] for t in client.get_flow_run_info(r.id).graph["tasks"]) for r in runs]
    assert [(e["type"], "graph" in e, "graph_key" in e) for e in sent] == [
        ("flow_run", True, False), ("flow_run", False, True), ("flow_run", False, True), ("graph", True, False)]
    assert graphs == [["inc", "one"]] * 3


def test_configured_backend_records_plain_flow_run(server, monkeypatch):
    monkeypatch.setenv("PERFECT_NB__BACKEND__KIND", "server")
    monkeypatch.setenv("PERFECT_NB__BACKEND__API", server.api)
    mapped_flow().run()
    mapped_flow().run(backend=False)
    with Client(api=server.api) as client:
        assert len(client.flow_runs()) == 1


def test_server_down_then_back_keeps_every_event_once(database_url, home, caplog):
    """The server is killed during a run and started again: nothing is lost, nothing doubled."""
    proc = ServerProcess(database_url, home).start()
    client = Client(api=proc.api, timeout=2)

    @task
    def step(i):
        if i == 3:
            proc.stop(kill=True)  # the server dies mid-run
        time.sleep(0.05)
        return i

    with Flow("survivor") as flow:
        step.map(list(range(8)))
    caplog.set_level(logging.WARNING, logger="perfect_nb.backend")
    logging.getLogger("perfect_nb").addHandler(caplog.handler)
    try:
        state = flow.run(backend=client)
    finally:
        logging.getLogger("perfect_nb").removeHandler(caplog.handler)
    assert state.is_successful()
    warnings = [r for r in caplog.records if r.name == "perfect_nb.backend"]
    assert len(warnings) == 1 and "The run goes on" in warnings[0].getMessage()
    spooled = list((home / "spool").glob("*.jsonl"))
    assert spooled, "the events the server missed are kept in a spool file"
    proc.start()
    with Flow("next") as nxt:
        step.map([10])
    assert nxt.run(backend=client).is_successful()  # a later run sends the spool first
    assert not list((home / "spool").glob("*.jsonl"))
    runs = {r.flow_name: r for r in client.flow_runs()}
    assert type(runs["survivor"].state).__name__ == "Success"
    children = [t for t in client.get_flow_run_info(runs["survivor"].id).task_runs if t.map_index >= 0]
    assert sorted(t.map_index for t in children) == list(range(8)) and {type(t.state).__name__ for t in children} == {"Success"}
    states = client.get_flow_run_states(runs["survivor"].id)
    assert [s["state"] for s in states] == ["Running", "Success"]
    for t in children:
        assert [s["state"] for s in client.get_task_run_info(runs["survivor"].id, "step", t.map_index).states] == ["Running", "Success"]
    client.close()
    proc.stop()


def test_corrupt_spool_line_is_skipped_and_the_rest_sent(client, home, caplog):
    from perfect_nb.client.reporter import drain_spool

    with Flow("spooled") as flow:
        task(lambda: 1, name="one")()
    events = []
    flow.run(listeners=[events.append], backend=False)
    from perfect_nb.client.reporter import Reporter

    reporter = Reporter(Client(api="http://127.0.0.1:9", timeout=1), flow)  # nothing listens there
    for e in events:
        reporter(e)
    reporter.close()
    [path] = (home / "spool").glob("*.jsonl")
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:1] + ["{not json", "[]"] + lines[1:]) + "\n")
    caplog.set_level(logging.WARNING, logger="perfect_nb.backend")
    logging.getLogger("perfect_nb").addHandler(caplog.handler)
    try:
        assert drain_spool(client) == len(lines)
    finally:
        logging.getLogger("perfect_nb").removeHandler(caplog.handler)
    assert any("2 corrupt line(s) skipped" in r.getMessage() for r in caplog.records)
    [run] = client.flow_runs()
    assert type(run.state).__name__ == "Success" and [t.task_slug for t in client.get_flow_run_info(run.id).task_runs] == ["one"]


SCRIPT = textwrap.dedent("""
    import sys
    from perfect_nb import Flow, task
    @task
    def work(i):
        return i * 2
    with Flow(f"proc-{sys.argv[1]}") as flow:
        work.map(list(range(50)))
    assert flow.run().is_successful()
""")


def test_eight_processes_report_at_once(server, tmp_path):
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    env = {**server.env, "PERFECT_NB__BACKEND__KIND": "server", "PERFECT_NB__BACKEND__API": server.api}
    procs = [subprocess.Popen([sys.executable, str(script), str(i)], env=env) for i in range(8)]
    assert [p.wait(120) for p in procs] == [0] * 8
    with Client(api=server.api) as client:
        runs = client.flow_runs()
        assert sorted(r.flow_name for r in runs) == sorted(f"proc-{i}" for i in range(8))
        for run in runs:
            info = client.get_flow_run_info(run.id)
            assert type(info.state).__name__ == "Success"
            assert len(info.task_runs) == 52  # the list, the parent and 50 children
            assert len(client.get_flow_run_states(run.id)) == 2


def test_retention_deletes_old_runs_with_their_rows(database_url):
    import threading

    import sqlalchemy as sa

    from perfect_nb.server.services import retention_loop
    from perfect_nb.server.db import Database
    from perfect_nb.server.db.ingest import ingest
    from perfect_nb.server.db.migrate import upgrade
    from perfect_nb.server.db.schema import flow_runs, logs, states, task_runs

    db = Database(database_url)
    upgrade(db)
    old, new = time.time() - 40 * 86400, time.time()
    events = []
    for run, ts in (("old", old), ("new", new)):
        events += [
            {"id": f"{run}-fr", "type": "flow_run", "flow_run_id": run, "flow_name": run, "ts": ts},
            {"id": f"{run}-s", "type": "state", "flow_run_id": run, "task_run_id": f"{run}-t", "task_slug": "t", "state": "Success", "finished": True, "seq": 1, "ts": ts},
            {"id": f"{run}-l", "type": "log", "flow_run_id": run, "level": 20, "name": "x", "message": "m", "ts": ts},
        ]
    with db.write() as conn:
        ingest(conn, events)
    stop = threading.Event()
    worker = threading.Thread(target=retention_loop, args=(db, 30, stop, 0.1))
    worker.start()
    time.sleep(0.5)
    stop.set()
    worker.join(5)
    with db.read() as conn:
        for table in (flow_runs, task_runs, states, logs):
            column = table.c.id if table is flow_runs else table.c.flow_run_id
            assert conn.execute(sa.select(column)).scalars().all() == ["new"], table.name
    db.dispose()


def test_plain_import_and_run_import_no_backend():
    code = textwrap.dedent("""
        import sys
        import perfect_nb
        from perfect_nb import Flow, task
        with Flow("f") as flow:
            task(lambda: 1, name="one")()
        assert flow.run().is_successful()
        heavy = [m for m in ("perfect_nb.client", "perfect_nb.server", "httpx", "sqlalchemy", "uvicorn", "fastapi") if m in sys.modules]
        print(heavy)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("how", ["--execute", "--watch"])
def test_perfect_run_name(client, server, tmp_path, how):
    script = tmp_path / "flows.py"
    script.write_text(textwrap.dedent("""
        from perfect_nb import Flow, Parameter, task
        @task
        def double(n):
            return 2 * n
        with Flow("doubler") as flow:
            double(Parameter("n", default=1))
    """))
    env = {**server.env, "PERFECT_NB__BACKEND__API": server.api}
    perfect = [sys.executable, "-m", "perfect_nb"]
    assert subprocess.run([*perfect, "create", "project", "p"], env=env, capture_output=True, timeout=60).returncode == 0
    reg = subprocess.run([*perfect, "register", "--project", "p", "-p", str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert reg.returncode == 0 and "version 1" in reg.stdout, reg.stderr
    bad = subprocess.run([*perfect, "run", "--name", "doubler", "--param", "n=abc"], env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "needs an int" in bad.stderr
    if how == "--watch":  # nothing executes the run yet but this test
        run = subprocess.Popen([*perfect, "run", "--name", "doubler", "--param", "n=21", "--watch"], env=env, stdout=subprocess.PIPE, text=True)
        deadline = time.time() + 30
        while not client.flow_runs() and time.time() < deadline:
            time.sleep(0.1)
        [info] = client.flow_runs()
        flow = client.load_flow(info.flow_id)
        flow.run(parameters=info.parameters, backend=client, context={"flow_run_id": info.id, "flow_id": info.flow_id})
        out, _ = run.communicate(timeout=30)
        assert run.returncode == 0 and "Success (2 Success)" in out
    else:
        out = subprocess.run([*perfect, "run", "--name", "doubler", "--param", "n=21", how], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        [run_row] = client.flow_runs()
        info = client.get_flow_run_info(run_row.id)
        assert type(info.state).__name__ == "Success" and info.parameters == {"n": 21}
        assert {t.task_slug: type(t.state).__name__ for t in info.task_runs} == {"double": "Success", "n": "Success"}
