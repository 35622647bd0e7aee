"""The server's API on a real server process, on SQLite and on PostgreSQL."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time

import httpx
import pytest

from perfect_nb import Flow, Parameter, task
from perfect_nb.client import Client
from perfect_nb.errors import ClientError, SerializationError
from tests.backend.conftest import ServerProcess


def make_flow(body_value: int = 1, name: str = "etl") -> Flow:
    @task
    def inc(x):
        return x + body_value

    with Flow(name) as flow:
        n = Parameter("n", default=1, bounds=(0, 100))
        inc(n)
    return flow


def test_health_names_the_database(client, server):
    health = client.health()
    assert health["ok"] is True
    assert health["database"] == server.database_url.split(":")[0].split("+")[0]


def test_projects_create_list_and_duplicate(client):
    client.create_project("analytics", "numbers")
    with pytest.raises(ClientError) as err:
        client.create_project("analytics")
    assert err.value.status == 409 and "already exists" in str(err.value)
    assert [p["name"] for p in client.request("GET", "/projects")] == ["analytics"]


def test_register_keeps_version_of_unchanged_flow_and_bumps_edited_one(client):
    client.create_project("p")
    first = client.register(make_flow(1), "p")
    again = client.register(make_flow(1), "p")
    assert (first["version"], again["version"], again["unchanged"], again["id"]) == (1, 1, True, first["id"])
    edited = client.register(make_flow(2), "p")  # same graph, another task body
    assert (edited["version"], edited["unchanged"]) == (2, False)
    versions = client.request("GET", "/flows", params={"project": "p", "archived": True})
    assert sorted((f["version"], f["archived"]) for f in versions) == [(1, True), (2, False)]
    forced = client.register(make_flow(2), "p", force=True)
    assert forced["version"] == 3


def test_register_stores_the_flow_by_value(client):
    client.create_project("p")
    row = client.register(make_flow(5), "p")
    flow = client.load_flow(row["id"])
    state = flow.run(n=1, backend=False)
    assert [r.result for r in state.result.values() if r.result != 1] == [6]
    stored = client.get_flow(row["id"])
    assert stored["parameters"][0]["name"] == "n" and stored["meta"]["python"] == f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"


def test_register_into_unknown_project_is_404_naming_it(client):
    with pytest.raises(ClientError) as err:
        client.register(make_flow(), "nope")
    assert err.value.status == 404 and "'nope'" in str(err.value) and "perfect create project" in str(err.value)


def test_unpicklable_flow_names_the_task():
    import threading

    lock = threading.Lock()

    @task
    def holds_lock():
        return lock.locked()

    with Flow("bad") as flow:
        holds_lock()
    from perfect_nb.client.register import registration_payload

    with pytest.raises(SerializationError, match="task 'holds_lock'"):
        registration_payload(flow, "p")


def test_flow_run_parameters_are_checked_before_the_run_is_stored(client):
    client.create_project("p")
    flow_id = client.register(make_flow(), "p")["id"]
    for params, needle in [({"m": 1}, "no parameter 'm'"), ({"n": "abc"}, "needs an int"), ({"n": 500}, "between 0 and 100")]:
        with pytest.raises(ClientError) as err:
            client.create_flow_run(flow_id=flow_id, parameters=params)
        assert err.value.status == 422 and needle in str(err.value)
    assert client.flow_runs() == []
    run_id = client.create_flow_run(flow_id=flow_id, parameters={"n": 3})
    info = client.get_flow_run_info(run_id)
    assert (type(info.state).__name__, info.parameters, info.flow_id) == ("Scheduled", {"n": 3}, flow_id)


def test_unknown_ids_are_404_naming_the_id(client):
    for path in ("/flow_runs/abc", "/flows/abc", "/task_runs/abc", "/projects/abc"):
        with pytest.raises(ClientError) as err:
            client.request("GET", path)
        assert err.value.status == 404 and "'abc'" in str(err.value)


def test_stale_state_version_is_409(client):
    client.create_project("p")
    run_id = client.create_flow_run(flow_id=client.register(make_flow(), "p")["id"])
    version = client.get_flow_run_info(run_id).version
    client.set_flow_run_state(run_id, "Running", version=version)
    with pytest.raises(ClientError) as err:
        client.set_flow_run_state(run_id, "Success", version=version)
    assert err.value.status == 409 and "Running" in str(err.value)
    client.set_flow_run_state(run_id, "Success")
    assert [s["state"] for s in client.get_flow_run_states(run_id)] == ["Scheduled", "Running", "Success"]
    assert client.get_flow_run_info(run_id).end_time is not None


def test_idempotency_key_gives_the_same_run(client):
    client.create_project("p")
    flow_id = client.register(make_flow(), "p")["id"]
    a = client.create_flow_run(flow_id=flow_id, idempotency_key="k1")
    assert client.create_flow_run(flow_id=flow_id, idempotency_key="k1") == a
    assert client.create_flow_run(flow_id=flow_id, idempotency_key="k2") != a


def test_foreign_host_header_is_refused(server):
    response = httpx.get(f"{server.api}/api/health", headers={"Host": "evil.example:80"})
    assert response.status_code == 403 and "not this server's" in response.json()["detail"]


def test_cross_origin_post_is_refused(server):
    response = httpx.post(f"{server.api}/api/projects", json={"name": "x"}, headers={"Origin": "http://evil.example"})
    assert response.status_code == 403


def test_event_batch_with_a_bad_event_is_422_naming_it(client):
    with pytest.raises(ClientError) as err:
        client.post_events([{"type": "state", "id": "1", "flow_run_id": "r", "ts": 1.0}])
    assert err.value.status == 422 and "events[0]" in str(err.value) and "state" in str(err.value)


def test_database_that_cannot_be_opened_is_one_line_without_password(home):
    url = "postgresql+psycopg://someone:sekrit@127.0.0.1:1/nothing"
    out = subprocess.run([sys.executable, "-m", "perfect_nb", "server", "start", "--port", "1", "--database-url", url],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "someone:***@127.0.0.1:1/nothing" in out.stderr and "sekrit" not in out.stderr + out.stdout
    assert len(out.stderr.strip().splitlines()) == 1


def test_stream_sends_state_changes_of_one_run(client, server):
    import json
    import threading

    received: list[dict] = []
    connected = threading.Event()

    def listen():
        with httpx.stream("GET", f"{server.api}/api/stream", params={"flow_run_id": "r1"}, timeout=10) as response:
            for line in response.iter_lines():
                if line.startswith(": connected"):
                    connected.set()
                elif line.startswith("data: "):
                    received.append(json.loads(line[6:]))
                    if len(received) == 2:
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert connected.wait(10)
    events = [{"id": f"e{i}", "type": "state", "flow_run_id": run, "task_run_id": f"{run}-t", "task_slug": "t", "state": st, "seq": i, "ts": float(i)}
              for i, (run, st) in enumerate([("r1", "Running"), ("other", "Running"), ("r1", "Success")], start=1)]
    client.post_events(events)
    listener.join(10)
    assert [(e["flow_run_id"], e["state"]) for e in received] == [("r1", "Running"), ("r1", "Success")]


def _states_block(run: str, rows: list) -> dict:
    return {"id": f"{run}-p-1", "type": "states", "flow_run_id": run, "prefix": f"{run}-p", "lease": 0,
            "tasks": [[f"{run}.t", "t", "t", None]], "rows": rows}


def test_a_states_event_is_stored_once_however_often_it_is_sent(client):
    """The reporter's compact form: each row is a state change of the flow run (-1) or of a task
    run it lists; sent twice (a retry, a spool replay), the history and current states are unchanged."""
    block = _states_block("rb", [[-1, "Running", None, False, 1, 1.0, None, None], [0, "Running", None, False, 2, 1.1, None, None],
                                 [0, "Success", "ok", True, 3, 1.2, None, None], [-1, "Success", "All reference tasks succeeded.", True, 4, 1.3, None, None]])
    assert client.post_events([block])["states"] == 4
    assert client.post_events([block])["states"] == 0
    run = client.get_flow_run_info("rb")
    assert type(run.state).__name__ == "Success" and [s["state"] for s in client.get_flow_run_states("rb")] == ["Running", "Success"]
    task = client.get_task_run_info("rb", "t")
    assert (task.id, type(task.state).__name__, task.state.message, [s["state"] for s in task.states]) == ("rb.t", "Success", "ok", ["Running", "Success"])


@pytest.mark.parametrize("row, says", [
    ([5, "Running", None, False, 2, 1.0, None, None], "rows[1]"),  # no task 5 in tasks
    ([0, "Running", None, False, "2", 1.0, None, None], "seq an integer"),
    ([0, "Running", None, False, 2, 1.0], "rows[1]: expected [task, state, message, finished, seq, ts, location, map_size]"),
])
def test_a_states_event_with_a_bad_row_is_422_naming_it_and_nothing_is_stored(client, row, says):
    good = [-1, "Running", None, False, 1, 1.0, None, None]
    with pytest.raises(ClientError) as err:
        client.post_events([{"id": "x", "type": "flow_run", "flow_run_id": "bad", "flow_name": "f", "ts": 1.0}, _states_block("bad", [good, row])])
    assert err.value.status == 422 and "events[1] (states)" in str(err.value) and says in str(err.value)
    assert all(r.id != "bad" for r in client.flow_runs())


def test_a_graph_that_is_not_a_flows_graph_is_422_naming_it_and_nothing_is_stored(client):
    for graph in ([1, 2], {"tasks": "abc"}):
        with pytest.raises(ClientError) as err:
            client.post_events([{"id": "x", "type": "flow_run", "flow_run_id": "badgraph", "flow_name": "f", "ts": 1.0, "graph": graph}])
        assert err.value.status == 422 and "events[0] (flow_run): graph must be an object" in str(err.value)
    assert all(r.id != "badgraph" for r in client.flow_runs())


def test_the_api_describes_itself_on_a_page_that_loads_nothing_from_elsewhere(server):
    import httpx

    schema = httpx.get(f"{server.api}/api/openapi.json").json()
    assert "/api/flow_runs/{run_id}/cancel" in schema["paths"] and "/api/agents/{agent_id}/claim" in schema["paths"]
    page = httpx.get(f"{server.api}/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/api/flow_runs/{run_id}/restart" in page.text and "scheduled_start_time" in page.text
    assert "<script" not in page.text and "http://" not in page.text.replace(server.api, "") and "https://" not in page.text
    assert httpx.get(f"{server.api}/redoc").status_code == 404


def test_sqlite_database_file_holds_the_events_soon_after_without_its_wal(tmp_path, home):
    """The server checkpoints SQLite's write-ahead log in the background (so a writer's
    commit never pays for it): a second after a batch is stored, a copy of the database
    file alone (as a file backup takes it, without the -wal file) has the batch."""
    import shutil
    import sqlite3
    import uuid as _uuid

    db_file = tmp_path / "server.db"
    proc = ServerProcess(f"sqlite:///{db_file}", home).start()
    try:
        with Client(api=proc.api) as client:
            run_id = str(_uuid.uuid4())
            events = [{"id": f"cp-{i}", "type": "state", "flow_run_id": run_id, "task_run_id": f"{run_id}-{i}", "task_slug": "t",
                       "state": "Success", "finished": True, "seq": i + 1, "ts": time.time()} for i in range(2000)]
            client.post_events(events)
            deadline = time.monotonic() + 10
            while True:
                shutil.copy(db_file, tmp_path / "copy.db")
                with contextlib.closing(sqlite3.connect(tmp_path / "copy.db")) as copy:
                    try:
                        stored = copy.execute("select count(*) from states where flow_run_id = ?", (run_id,)).fetchone()[0]
                    except sqlite3.DatabaseError:  # the schema is still in the WAL, or the copy was
                        stored = 0                   # taken while a checkpoint wrote pages (torn): copy again
                if stored == 2000 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert stored == 2000, "the events stayed in the WAL: no checkpoint within 10 s"
    finally:
        proc.stop()
