"""The web UI's pages on a real server process (SQLite and PostgreSQL), read as a user reads them: HTML."""

from __future__ import annotations

import html as html_lib
import re
import time
import uuid

import httpx
import pytest

from perfect_nb import Flow, Parameter, task

EVIL = "<script>alert('x')</script>"
LOAD = f"load {EVIL}"  # a task name (and so its slug) with markup in it


def make_flow() -> Flow:
    @task(name=f"load {EVIL}")
    def load(n):
        return list(range(n))

    @task
    def inc(x):
        return x + 1

    @task
    def total(xs):
        return sum(xs)

    with Flow("ui-etl") as flow:
        n = Parameter("n", default=3, bounds=(0, 100))
        rate = Parameter("rate", default=0.5)
        tag = Parameter("tag", default="a", choices=["a", "b"])
        total(inc.map(load(n)))
        flow.add_task(rate)
        flow.add_task(tag)
    return flow


def recorded_run(client, flow_id: str, graph: dict, failing: bool = True) -> str:
    """A run recorded as a run process reports one: flow_run, state and log events."""
    run = client.create_flow_run(flow_id, parameters={"n": 2})
    now = time.time()
    ev = lambda **kw: {"id": str(uuid.uuid4()), "flow_run_id": run, "ts": now, **kw}  # noqa: E731
    events = [ev(type="state", task_run_id=None, state="Running", seq=1)]
    seq = 1
    ids: dict = {}
    tid = lambda slug, index: ids.setdefault((slug, index), str(uuid.uuid4()))  # noqa: E731
    for slug, index, state, message in [(LOAD, -1, "Success", None), ("inc", -1, "Mapped", None), ("inc", 0, "Success", None),
                                        ("inc", 1, "Failed", f"boom {EVIL}"), ("total", -1, "TriggerFailed", "upstream failed")]:
        seq += 1
        events.append(ev(type="state", task_run_id=tid(slug, index), task_slug=slug, task_name=slug,
                         map_index=index, state="Running", seq=seq, ts=now - 1))
        seq += 1
        events.append(ev(type="state", task_run_id=tid(slug, index), task_slug=slug, task_name=slug,
                         map_index=index, state=state, message=message, finished=True, seq=seq))
    events.append(ev(type="log", task_run_id=tid(LOAD, -1), level=20, name="perfect_nb.task", message=f"loaded {EVIL}"))
    events.append(ev(type="log", task_run_id=tid("inc", 1), level=40, name="perfect_nb.task", message="inc[1] failed: boom"))
    events.append(ev(type="state", task_run_id=None, state="Failed" if failing else "Success", message="Some reference tasks failed.", finished=True, seq=seq + 1))
    client.post_events(events)
    return run


@pytest.fixture
def registered(client, server):
    client.create_project("p")
    flow = make_flow()
    return client.register(flow, "p")["id"]


def get(server, path: str, **kw) -> httpx.Response:
    return httpx.get(server.api + path, timeout=10, **kw)


def test_dashboard_counts_failures_and_agents(client, server, registered):
    run = recorded_run(client, registered, {})
    client.create_flow_run(registered, parameters={})  # Scheduled: upcoming (no agent runs it)
    client.register_agent("ui-agent", ["gpu"], "box", 42, 2)
    page = get(server, "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Runs of the last 24 hours: 2" in page.text
    assert re.search(r'data-state="Failed">.*?<b>1</b>', page.text) and re.search(r'data-state="Scheduled">.*?<b>1</b>', page.text)
    failures = page.text.split('id="failures"')[1].split("</section>")[0]
    assert f"/flow-runs/{run}" in failures and "Some reference tasks failed." in failures
    upcoming = page.text.split('id="upcoming"')[1].split("</section>")[0]
    assert "ui-etl" in upcoming
    assert "ui-agent" in page.text and "alive" in page.text


def test_run_page_shows_dag_tasks_and_logs_with_user_text_escaped(client, server, registered):
    run = recorded_run(client, registered, {})
    page = get(server, f"/flow-runs/{run}")
    assert page.status_code == 200, page.text
    html = page.text
    assert EVIL not in html  # the task name, the task message and the log line are text, not markup
    assert "load &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html and "loaded &lt;script&gt;" in html and "boom &lt;script&gt;" in html
    svg = html.split('id="dag"')[1].split("</svg>")[0]
    nodes = {html_lib.unescape(k): v for k, v in re.findall(r'<title>([^<]+)</title>\s*<(?:polygon|ellipse|path)[^>]*fill="(#[0-9a-f]{6})"', svg)}
    assert nodes[LOAD] == "#28a745" and nodes["total"] == "#ff5131"  # Success green, TriggerFailed red
    assert ">1/2 ok<" in svg or ">1/2<" in svg  # the mapped task is one node with its progress
    assert "inc[1]" in html and "Failed" in html and "inc[1] failed: boom" in html
    assert "Cancel" in html and "Restart from failed" in html
    timeline = html.split('id="timeline"')[1].split("</section>")[0]
    assert timeline.count('class="tl-bar"') == 5 and "background:#eb0000" in timeline  # one bar per task run, inc[1] red
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", html)  # no script, style or link from elsewhere


def test_unknown_run_and_flow_are_404_pages_that_say_where_to_look(server):
    page = get(server, f"/flow-runs/{uuid.uuid4()}")
    assert page.status_code == 404 and "No flow run with id" in page.text and "dashboard" in page.text
    assert get(server, "/flows/nope").status_code == 404


def test_projects_and_flows_pages_search_by_name(client, server, registered):
    client.create_project(f"other {EVIL}")
    projects = get(server, "/projects")
    assert projects.status_code == 200 and 'href="/flows?project=p"' in projects.text and EVIL not in projects.text and "other &lt;script&gt;" in projects.text
    found = get(server, "/projects", params={"search": "other"}).text
    assert "other &lt;script&gt;" in found and 'href="/flows?project=p"' not in found
    assert "ui-etl" in get(server, "/flows", params={"project": "p"}).text
    assert "ui-etl" not in get(server, "/flows", params={"project": f"other {EVIL}"}).text
    assert "ui-etl" in get(server, "/flows", params={"search": "etl"}).text
    page = get(server, "/flows", params={"search": "zzz" + EVIL})
    assert "ui-etl" not in page.text and EVIL not in page.text and "No flow" in page.text


def test_run_form_with_a_bad_value_says_why_and_creates_nothing(client, server, registered):
    page = get(server, f"/flows/{registered}")
    assert page.status_code == 200 and 'name="n"' in page.text and 'value="3"' in page.text and "<svg" in page.text
    own = {"Origin": server.api}
    bad = httpx.post(f"{server.api}/flows/{registered}/run", data={"n": "500", "rate": "fast", "tag": "a"}, headers=own, timeout=10)
    assert bad.status_code == 200 and "Nothing was run" in bad.text  # 200: a browser logs a 4xx page as a console error
    assert "Must be between 0 and 100, got 500." in bad.text and "Needs a number, got &#39;fast&#39;." in bad.text
    assert 'value="500"' in bad.text  # what was typed stays in the field
    assert client.flow_runs(flow_id=registered) == []
    good = httpx.post(f"{server.api}/flows/{registered}/run", data={"n": "7", "rate": "0.25", "tag": "b"}, headers=own, timeout=10)
    assert good.status_code == 303 and good.headers["location"].startswith("/flow-runs/")
    (run,) = client.flow_runs(flow_id=registered)
    assert run.parameters == {"n": 7, "rate": 0.25, "tag": "b"}


def test_form_posts_from_another_site_or_from_nowhere_are_refused(client, server, registered):
    foreign = httpx.post(f"{server.api}/flows/{registered}/run", data={"n": "1"}, headers={"Origin": "http://evil.example"}, timeout=10)
    nowhere = httpx.post(f"{server.api}/flows/{registered}/run", data={"n": "1"}, timeout=10)
    assert foreign.status_code == 403 and nowhere.status_code == 403 and "own page" in nowhere.text
    assert client.flow_runs(flow_id=registered) == []


def test_static_files_are_served_from_the_package(server):
    js = get(server, "/ui/static/run.js")
    assert js.status_code == 200 and "EventSource" in js.text and "requestAnimationFrame" in js.text
    assert get(server, "/ui/static/..%2Fforms.py").status_code == 404


def test_login_turns_a_good_token_into_an_httponly_samesite_strict_cookie(database_url, home):
    from tests.backend.conftest import ServerProcess

    token = "s3cret-token"
    server = ServerProcess(database_url, home, env={"PERFECT_NB__SERVER__TOKEN": token}).start()
    try:
        own = {"Origin": server.api}
        assert httpx.get(f"{server.api}/", timeout=10).status_code == 401
        wrong = httpx.post(f"{server.api}/login", headers={**own, "Authorization": "Bearer nope"}, timeout=10)
        assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
        good = httpx.post(f"{server.api}/login", headers={**own, "Authorization": f"Bearer {token}"}, timeout=10)
        cookie = good.headers["set-cookie"]
        assert good.status_code == 200 and cookie.startswith(f"perfect_nb_token={token};")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict") and "Path=/" in cookie
        page = httpx.get(f"{server.api}/", cookies={"perfect_nb_token": token}, timeout=10)
        assert page.status_code == 200 and "Dashboard" in page.text
        foreign = httpx.post(f"{server.api}/login", headers={"Origin": "http://evil.example", "Authorization": f"Bearer {token}"}, timeout=10)
        assert foreign.status_code == 403
    finally:
        server.stop()


def test_task_run_page_and_log_download(client, server, registered):
    run = recorded_run(client, registered, {})
    page = get(server, f"/flow-runs/{run}")
    link = re.search(r'<a href="(/task-runs/[^"]+)">inc\[1\]</a>', page.text)
    assert link, "the task-run table links each task run to its page"
    task_page = get(server, link.group(1))
    assert task_page.status_code == 200 and "boom &lt;script&gt;" in task_page.text and EVIL not in task_page.text
    assert "inc[1] failed: boom" in task_page.text and "Running" in task_page.text and "Failed" in task_page.text  # logs and state history
    text = get(server, f"/flow-runs/{run}/logs.txt")
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain") and "attachment" in text.headers["content-disposition"]
    assert f"INFO     {LOAD}: loaded {EVIL}" in text.text and "ERROR    inc[1]: inc[1] failed: boom" in text.text
    assert get(server, f"/task-runs/{uuid.uuid4()}").status_code == 404


def test_a_big_map_is_summed_up_by_state_and_its_table_is_bounded(client, server, registered):
    run = client.create_flow_run(registered, parameters={"n": 60})  # (the events below are what counts)
    now = time.time()
    events = [{"id": str(uuid.uuid4()), "type": "state", "flow_run_id": run, "task_run_id": str(uuid.uuid4()), "task_slug": "inc", "task_name": "inc",
               "map_index": i, "state": "Success" if i < 550 else "Running", "finished": i < 550, "seq": 1, "ts": now} for i in range(600)]
    client.post_events(events)
    page = get(server, f"/flow-runs/{run}")
    table = page.text.split('id="task-table"')[1].split("</table>")[0]
    assert table.count("<tr data-key=") == 500 and "… and <span>100</span> more task runs" in page.text
    counts = page.text.split('id="task-counts"')[1].split("</ul>")[0]
    assert re.search(r">Success</span> <b>550</b>", counts) and re.search(r">Running</span> <b>50</b>", counts)
    assert ">550/600<" in page.text  # the mapped node's progress


def test_flow_page_shows_the_schedule_switch_as_it_is(client, server):
    from datetime import timedelta

    from perfect_nb.schedules import IntervalSchedule

    client.create_project("p")
    flow = make_flow()
    flow.schedule = IntervalSchedule(interval=timedelta(hours=1))
    flow_id = client.register(flow, "p")["id"]
    page = get(server, f"/flows/{flow_id}").text
    assert '<span id="schedule-state" class="on">on</span>' in page and 'data-active="true"' in page and "Turn off" in page
    assert '<span id="schedule-text" title="Schedule(' in page and ">every 1 h from 2019-01-01 00:00 UTC<" in page  # in words, the repr on hover
    client.set_schedule_active("ui-etl", False, project_name="p")
    page = get(server, f"/flows/{flow_id}").text
    assert '<span id="schedule-state" class="off">off</span>' in page and 'data-active="false"' in page and "Turn on" in page


def test_a_mapped_task_says_k_of_n_with_its_size_before_its_children_report(client, server, registered):
    """The map size goes from the engine (its Mapped state) through the reporter, the stream and the run's JSON to the page."""
    import json
    import threading

    run = client.create_flow_run(registered, parameters={"n": 5})
    streamed: list[dict] = []
    opened = threading.Event()

    def listen():
        with httpx.stream("GET", f"{server.api}/api/stream", params={"flow_run_id": run, "batch": "true"}, timeout=10) as response:
            for line in response.iter_lines():
                opened.set()
                if line.startswith("data: "):
                    streamed.extend(json.loads(line[6:]))  # batch=true (the run page's way): a list per message
                    if any(e.get("map_size") for e in streamed):
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert opened.wait(5)
    now = time.time()
    parent = str(uuid.uuid4())
    ev = lambda **kw: {"id": str(uuid.uuid4()), "type": "state", "flow_run_id": run, "ts": now, "task_slug": "inc", "task_name": "inc", **kw}  # noqa: E731
    client.post_events([ev(task_run_id=parent, map_index=None, state="Mapped", map_size=5, finished=True, seq=1),
                        ev(task_run_id=str(uuid.uuid4()), map_index=0, state="Success", finished=True, seq=2),
                        ev(task_run_id=str(uuid.uuid4()), map_index=1, state="Running", seq=3)])
    listener.join(5)
    assert [e["map_size"] for e in streamed if e["task_run_id"] == parent] == [5] and streamed[0]["task_name"] == "inc" and "finished" in streamed[0]
    rows = {t["map_index"]: t for t in client.request("GET", f"/flow_runs/{run}")["task_runs"]}
    assert rows[-1]["map_size"] == 5 and rows[0]["map_size"] is None
    page = get(server, f"/flow-runs/{run}").text
    assert ">1/5<" in page  # one of five finished; the three not reported yet count as Pending
    boot = json.loads(html_lib.unescape(page.split('id="boot">')[1].split("</script>")[0]))
    assert boot["sizes"] == {"inc": 5}


def test_a_recorded_map_carries_its_size(client):
    """A real run through the reporter: the mapped task run knows its children's number."""
    @task
    def one(x):
        return x

    with Flow("sized") as flow:
        one.map(Parameter("xs", default=[1, 2, 3, 4]))
    assert flow.run(backend=client).is_successful()
    [run] = client.flow_runs()
    rows = {t["map_index"]: t for t in client.request("GET", f"/flow_runs/{run.id}")["task_runs"]}
    assert rows[-1]["state"] == "Mapped" and rows[-1]["map_size"] == 4 and len(rows) == 5


PREVIEWED = '''
from perfect_nb import Flow, task

@task
def table():
    return {"rows": [1, 2, 3], "note": "<b>bold</b>"}

@task
def big(t):
    return list(range(1_000_000))

@task(checkpoint=False)
def shy(t):
    return None

with Flow("previewed") as flow:
    t = table()
    big(t)
    shy(t)
'''


def test_task_run_page_previews_a_persisted_result_made_by_an_agent_run(database_url, home, tmp_path):
    """The run process sends a short repr with each result location; the page shows it as text.
    The server never reads the result file."""
    from tests.backend.test_agent import Orchestra

    band = Orchestra(database_url, home, tmp_path)
    try:
        flow_id = band.register(PREVIEWED, name="previewed.py")
        band.agent()
        run = band.client.create_flow_run(flow_id)
        band.wait_state(run, "Success", "Failed", timeout=30)
        deadline = time.monotonic() + 10
        while True:  # the previews come once the run process is done
            rows = {t["task_slug"]: t for t in band.client.request("GET", f"/flow_runs/{run}")["task_runs"]}
            if rows["big"]["result_preview"] is not None or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        page = get(band.server, f"/task-runs/{rows['table']['id']}").text
        assert "{&#39;note&#39;: &#39;&lt;b&gt;bold&lt;/b&gt;&#39;, &#39;rows&#39;: [1, 2, 3]}" in page and "<b>bold" not in page
        assert rows["table"]["result_location"] in page
        big_preview = rows["big"]["result_preview"]
        assert big_preview.startswith("[0, 1, 2,") and len(big_preview) <= 300, big_preview  # bounded, whatever the result's size
        shy_page = get(band.server, f"/task-runs/{rows['shy']['id']}").text
        assert "not persisted" in shy_page and 'id="preview"' not in shy_page
    finally:
        band.close()


def test_a_preview_is_only_text_and_goes_when_the_location_does(client, server, registered):
    run = client.create_flow_run(registered, parameters={})
    tid, now = str(uuid.uuid4()), time.time()
    state = lambda seq, name, **kw: {"id": str(uuid.uuid4()), "type": "state", "flow_run_id": run, "task_run_id": tid, "task_slug": "inc",  # noqa: E731
                                     "task_name": "inc", "map_index": None, "state": name, "seq": seq, "ts": now, **kw}
    client.post_events([state(1, "Success", finished=True),
                        {"id": str(uuid.uuid4()), "type": "location", "flow_run_id": run, "task_run_id": tid, "location": "/r/1", "preview": EVIL + "x" * 5000}])
    page = get(server, f"/task-runs/{tid}").text
    assert "&lt;script&gt;alert" in page and EVIL not in page
    stored = client.request("GET", f"/task_runs/{tid}")["result_preview"]
    assert len(stored) == 1000  # the server keeps at most 1,000 characters of what it is sent
    client.post_events([state(2, "Running")])  # a new attempt: no result (yet), so no preview either
    page = get(server, f"/task-runs/{tid}").text
    assert "not persisted" in page and "alert" not in page


def test_flow_page_lists_its_tasks_and_refuses_an_empty_required_field(client, server):
    @task
    def need(label):
        return label

    with Flow("needs-label") as flow:
        need(Parameter("label", required=True))
    client.create_project("p")
    flow_id = client.register(flow, "p")["id"]
    page = get(server, f"/flows/{flow_id}").text
    tasks = page.split('id="flow-tasks"')[1].split("</table>")[0]
    assert re.search(r"<td>need</td><td>FunctionTask</td><td>label</td>", tasks) and re.search(r"<td>label</td><td>Parameter</td><td></td>", tasks)
    shown = get(server, f"/flows/{client.register(make_flow(), 'p')['id']}").text.split('id="flow-tasks"')[1].split("</table>")[0]
    assert "inc <span class=\"hint\">(mapped)</span>" in shown and EVIL not in shown and "load &lt;script&gt;" in shown
    refused = httpx.post(f"{server.api}/flows/{flow_id}/run", data={"label": "  "}, headers={"Origin": server.api}, timeout=10)
    assert refused.status_code == 200 and "Is required but no value was given." in refused.text and client.flow_runs(flow_id=flow_id) == []


def test_a_restarted_task_runs_duration_is_that_of_its_last_attempt(client, server, registered):
    run = client.create_flow_run(registered, parameters={})
    tid, t0 = str(uuid.uuid4()), time.time() - 100
    ev = lambda seq, name, ts, **kw: {"id": str(uuid.uuid4()), "type": "state", "flow_run_id": run, "task_run_id": tid, "task_slug": "inc",  # noqa: E731
                                      "task_name": "inc", "map_index": None, "state": name, "seq": seq, "ts": ts, **kw}
    client.post_events([ev(1, "Running", t0), ev(2, "Failed", t0 + 50, finished=True)])  # the first attempt: 50 s
    version = client.request("GET", f"/flow_runs/{run}")["version"]
    lease = client.request("POST", f"/flow_runs/{run}/state", json={"state": "Failed", "message": "first attempt over", "version": version})["lease"]
    client.post_events([ev(1, "Running", t0 + 90, lease=lease), ev(2, "Success", t0 + 92, finished=True, lease=lease)])  # the restart: 2 s
    row = client.request("GET", f"/task_runs/{tid}")
    assert (row["start_time"], row["end_time"], row["state"]) == (t0 + 90, t0 + 92, "Success")
    assert re.search(r'<td class="dur">2\.00 s</td>', get(server, f"/flow-runs/{run}").text)


def test_a_long_log_is_cut_on_the_page_and_searched_on_the_server(client, server, registered):
    run = recorded_run(client, registered, {})
    now = time.time()
    lines = [{"id": str(uuid.uuid4()), "type": "log", "flow_run_id": run, "task_run_id": None, "level": 40 if i % 500 == 0 else 20,
              "name": "perfect_nb.task", "message": f"line {i}" + (" 100% needle_x" if i == 2400 else ""), "ts": now} for i in range(2500)]
    for start in range(0, 2500, 1000):
        client.post_events(lines[start:start + 1000])
    page = get(server, f"/flow-runs/{run}").text
    assert page.count('<tr data-level=') == 2000 and 'id="logs-cut" hidden' not in page and "line 2400" not in page
    import json
    boot = json.loads(html_lib.unescape(page.split('id="boot">')[1].split("</script>")[0]))
    newest = client.request("GET", f"/flow_runs/{run}/logs", params={"after_id": 0, "limit": 10000})[-1]["id"]
    assert boot["logs_cut"] is True and boot["last_log"] == newest  # new lines are polled after the newest, not after the 2,000th
    found = client.request("GET", f"/flow_runs/{run}/logs", params={"search": "100% NEEDLE_x", "limit": 2000})
    assert [l["message"] for l in found] == ["line 2400 100% needle_x"]
    assert client.request("GET", f"/flow_runs/{run}/logs", params={"search": "0%_needle"}) == []  # % and _ are text, not wildcards
    errors = client.request("GET", f"/flow_runs/{run}/logs", params={"level": 40, "limit": 2000})
    assert [l["message"] for l in errors] == ["inc[1] failed: boom"] + [f"line {i}" for i in range(0, 2500, 500)]


def test_pages_go_gzipped_to_a_browser_that_asks_and_the_event_stream_never_does(client, server, registered):
    """A run page (large for a big map) is sent gzipped when the client accepts it; the
    server-sent event stream is sent as it is, so each event arrives at once."""
    run = recorded_run(client, registered, {})
    page = get(server, f"/flow-runs/{run}", headers={"accept-encoding": "gzip"})
    assert page.status_code == 200 and page.headers.get("content-encoding") == "gzip"
    assert "Restart from failed" in page.text  # httpx unpacked it
    with httpx.stream("GET", f"{server.api}/api/stream", params={"flow_run_id": run}, headers={"accept-encoding": "gzip"}, timeout=10) as stream:
        assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in stream.headers
