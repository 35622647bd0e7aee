"""The web UI in Chromium: a server and an agent on 127.0.0.1, a flow run from its page and watched live.

The flow page's Run form refuses a bad value beside its field (and no run is made),
then runs the flow with a good one; the run page's DAG is read from its SVG every
~100 ms while it runs: tasks turn Running then Success, the failing task red, the
mapped task one node with its progress. No request may leave 127.0.0.1 and the
console must stay free of errors. Screenshots go to the session's screenshot folder.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from .jlab import CHROMIUM, CHROMIUM_ARGS, skip_without_browser

skip_without_browser()

from tests.backend.test_agent import Orchestra  # noqa: E402

REPO = Path(__file__).resolve().parents[2]

FLOW = '''
import time
from perfect_nb import Flow, Parameter, task

@task
def extract(n):
    time.sleep(1.0)
    return list(range(n))

@task
def square(x):
    time.sleep(0.4)
    return x * x

@task
def report(squares):
    time.sleep(0.5)
    return sum(squares)

@task
def explode(rows):
    time.sleep(0.5)
    raise ValueError("the rows do not add up")

with Flow("ui-demo") as flow:
    n = Parameter("n", default=3, bounds=(1, 10))
    rows = extract(n)
    report(square.map(rows))
    explode(rows)
'''

RUNNING, SUCCESS, FAILED = "#3d67ff", "#28a745", "#eb0000"

_FILLS = """() => Object.fromEntries([...document.querySelectorAll('#dag g.node')].map((g) => {
  const shape = g.querySelector('polygon, ellipse, path');
  const texts = g.querySelectorAll('text');
  const stripes = [...g.querySelectorAll('rect.stripe')].map((r) => r.getAttribute('fill'));
  return [g.querySelector('title').textContent, [shape ? shape.getAttribute('fill') : null, texts.length ? texts[texts.length - 1].textContent : '', stripes]];
}))"""
# (upstream, downstream) of FLOW: a task may turn Running only once its upstream shows Success
EDGES = [("extract", "square"), ("extract", "explode"), ("square", "report")]


def _watched_page(browser, height: int = 1000):
    """A page in its own browser context; its console errors and page errors collect in ``problems``."""
    context = browser.new_context(viewport={"width": 1280, "height": height})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return context, page, problems



@pytest.fixture
def ui_shots(screenshots):
    """Where this module's screenshots go: $PERFECT_NB_UI_SHOTS when set (to look at them), else the session's folder."""
    folder = Path(os.environ.get("PERFECT_NB_UI_SHOTS") or screenshots)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def orchestra(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    band = Orchestra(f"sqlite:///{tmp_path / 'server.db'}", home, tmp_path)
    try:
        yield band
    finally:
        band.close()


def test_run_a_flow_from_its_page_and_watch_it_live(orchestra, browser, ui_shots, monkeypatch):
    screenshots = ui_shots
    monkeypatch.setenv("PERFECT_NB_HOME", str(orchestra.home))
    flow_id = orchestra.register(FLOW, name="ui_demo.py")
    orchestra.agent()
    api = orchestra.server.api
    context, page, problems = _watched_page(browser)
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        started = time.perf_counter()
        page.goto(f"{api}/flows/{flow_id}")
        flow_page_s = time.perf_counter() - started
        page.fill("#p-n", "50")
        page.click("#run-form button[type=submit]")
        page.wait_for_selector("#e-n")  # said in the page (the server says the same: tests/backend/test_ui.py)
        assert page.text_content("#e-n") == "Must be between 1 and 10, got 50."
        assert page.input_value("#p-n") == "50"
        page.screenshot(path=str(screenshots / "ui-flow-bad-value.png"), full_page=True)
        assert orchestra.client.flow_runs(flow_id=flow_id) == []

        page.fill("#p-n", "3")
        page.click("#run-form button[type=submit]")
        page.wait_for_url(f"{api}/flow-runs/*")
        run_id = page.url.rsplit("/", 1)[1]
        page.evaluate("() => { window.sameDocument = true; }")  # gone if the page reloads: everything below is live

        seen: dict[str, list[str]] = {}
        first: dict[tuple[str, str], int] = {}  # (task, colour) -> the poll it was first seen at
        progress: set[str] = set()
        heads: list[tuple[str, str, str]] = []
        shot_while_running = False
        deadline = time.monotonic() + 25
        poll = 0
        while time.monotonic() < deadline:
            poll += 1
            fills = page.evaluate(_FILLS)
            heads.append((page.text_content("#run-state").strip(), page.text_content("#run-started"), page.text_content("#run-duration")))
            for slug, (fill, text, stripes) in fills.items():
                if not seen.get(slug) or seen[slug][-1] != fill:
                    seen.setdefault(slug, []).append(fill)
                for colour in [fill, *stripes]:
                    first.setdefault((slug, colour), poll)
                if slug == "square":
                    progress.add(text)
            if not shot_while_running and any(p.endswith("/3") and p != "0/3" for p in progress):
                page.screenshot(path=str(screenshots / "ui-run-live.png"), full_page=True)
                shot_while_running = True
            if page.evaluate("() => document.body.dataset.final === 'true'"):
                break  # finished, and the page has taken the server's last word (no reload)
            time.sleep(0.1)
        else:
            raise AssertionError(f"the run did not finish on the page within 25 s; colours seen {seen}; agent log: {orchestra.agent_logs()}")
        final = page.evaluate(_FILLS)
        heads.append((page.text_content("#run-state").strip(), page.text_content("#run-started"), page.text_content("#run-duration")))
        assert page.evaluate("() => window.sameDocument === true"), "the page reloaded itself"
        page.screenshot(path=str(screenshots / "ui-run-done.png"), full_page=True)

        assert RUNNING in seen["extract"] and seen["extract"].index(RUNNING) < seen["extract"].index(SUCCESS), seen
        for up, down in EDGES:  # dependency order, as read from the SVG: a task shows it started only after its upstream shows Success
            started = min(first[(down, c)] for c in (RUNNING, SUCCESS, FAILED) if (down, c) in first)
            assert started >= first[(up, SUCCESS)], (up, down, first)
        assert progress - {"mapped"} <= {"0/3", "1/3", "2/3", "3/3 ok"} and "3/3 ok" in progress, progress  # n is 3 from the moment square maps
        states_seen = [h[0] for h in heads]
        assert "Running" in states_seen and states_seen[-1] == "Failed", states_seen
        running_heads = [h for h in heads if h[0] == "Running"]
        assert running_heads[-1][1].endswith(" UTC") and running_heads[-1][2], running_heads  # Started and Duration while it runs
        assert len({h[2] for h in running_heads}) > 2, running_heads  # the duration grows with the clock
        history = page.evaluate("() => [...document.querySelectorAll('#history li .badge')].map((b) => b.textContent)")
        assert history[0] == "Scheduled" and history.count("Running") == 1 and history[-1] == "Failed" and history.count("Failed") == 1, history
        bars = page.evaluate("() => [...document.querySelectorAll('#timeline .tl-row')].map((d) => [d.textContent, d.querySelector('.tl-bar').style.background])")
        assert sorted(b[0] for b in bars) == ["explode", "extract", "n", "report", "square[0]", "square[1]", "square[2]"], bars
        assert [b for b in bars if b[0] == "explode"][0][1] in ("rgb(235, 0, 0)", FAILED), bars
        assert final["extract"][0] == SUCCESS and final["report"][0] == SUCCESS and final["explode"][0] == FAILED, final
        assert final["square"][1] == "3/3 ok" and any(p.endswith("/3") for p in progress), progress
        assert page.text_content("#run-state").strip() == "Failed"
        assert "the rows do not add up" in page.text_content("#task-table") and "the rows do not add up" in page.text_content("#logs")
        assert page.text_content("#task-table").count(" s") + page.text_content("#task-table").count(" ms") >= 5  # durations
        assert [r.parameters for r in orchestra.client.flow_runs(flow_id=flow_id)] == [{"n": 3}]  # the bad value made no run
        # Restart from failed: the run goes again; the failed task runs again, the finished branch does not
        page.click("#restart")  # disabled at once, then the page reloads (Scheduled...) and reloads again when the run ends
        deadline = time.monotonic() + 25
        while orchestra.client.get_flow_run_info(run_id).state.is_finished() and not orchestra.client.get_flow_run_states(run_id)[-1]["message"].startswith("Restarted"):
            assert time.monotonic() < deadline, "the Restart button did not restart the run"
            time.sleep(0.05)
        orchestra.wait_state(run_id, "Failed", timeout=25)
        page.wait_for_selector("#restart:not([disabled])", timeout=25_000)
        page.wait_for_selector("#task-table a")
        runs_of = {}
        for row in page.query_selector_all("#task-table tbody tr"):
            link = row.query_selector("a")
            runs_of[link.text_content()] = link.get_attribute("href")
        def running_count(task: str) -> int:
            return sum(1 for s in orchestra.client.request("GET", runs_of[task].replace("/task-runs/", "/task_runs/"))["states"] if s["state"] == "Running")
        # clicked as soon as the page shows the end: the result locations went out before the run's final state
        assert running_count("explode") == 2 and running_count("report") == 1 and running_count("square[0]") == 1 and running_count("extract") == 1
        page.screenshot(path=str(screenshots / "ui-run-restarted.png"), full_page=True)
        page.goto(api + runs_of["extract"])  # its task run page: the stored result's preview, made by the run process
        assert page.text_content("#preview") == "[0, 1, 2]" and ".prefect_result" in page.text_content("#result")
        page.screenshot(path=str(screenshots / "ui-task-run.png"), full_page=True)
        page.goto(api + runs_of["explode"])
        assert "not persisted" in page.text_content("#result")

        # Cancel on a slow run (10 mapped children of 0.4 s): it ends Cancelled, the rest never runs
        page.goto(f"{api}/flows/{flow_id}")
        page.fill("#p-n", "10")
        page.click("#run-form button[type=submit]")
        page.wait_for_url(f"{api}/flow-runs/*")
        slow_id = page.url.rsplit("/", 1)[1]
        orchestra.wait_task(slow_id, "extract", "Success", timeout=20)
        page.wait_for_selector("#live:not([hidden])")
        page.click("#cancel")
        orchestra.wait_state(slow_id, "Cancelled", timeout=20)
        page.wait_for_function("() => document.querySelector('#run-state') && document.querySelector('#run-state').textContent.trim() === 'Cancelled'"
                               " && document.querySelector('ol.history').textContent.includes('Cancelled')", timeout=20_000)  # the server's page, after the reload
        page.screenshot(path=str(screenshots / "ui-run-cancelled.png"), full_page=True)
        squares = [t for t in orchestra.client.get_flow_run_info(slow_id).task_runs if t.task_slug == "square" and t.map_index >= 0]
        assert sum(type(t.state).__name__ == "Success" for t in squares) < 10, "the cancel came too late to stop anything"

        assert all(url.startswith("http://127.0.0.1:") for url in requests), [u for u in requests if not u.startswith("http://127.0.0.1:")]
        assert problems == [], problems
        print(f"flow page {flow_page_s * 1000:.0f} ms; colours seen {seen}; square progress {sorted(progress)}")
    finally:
        context.close()


_METER = """() => {   // the longest gap between two frames, and the long tasks, while the events pour in
  window.meter = { gap: 0, longest: 0, frames: 0 };
  let last = performance.now();
  const step = (now) => { window.meter.gap = Math.max(window.meter.gap, now - last); window.meter.frames++; last = now; if (!window.meter.stop) requestAnimationFrame(step); };
  requestAnimationFrame(step);
  new PerformanceObserver((list) => { for (const e of list.getEntries()) window.meter.longest = Math.max(window.meter.longest, e.duration); }).observe({ type: "longtask", buffered: false });
}"""


def test_a_5000_item_map_is_followed_live_in_batches(browser, ui_shots, tmp_path):
    """10,000 state changes of a 5,000-child map, posted as a run process posts them, while the page is open:
    the mapped node says k/5000 from the first event on and ends "5000/5000 ok", counts and table keep up
    (the table bounded to 500 rows), and the page never reloads. The frame gaps are printed, not asserted."""
    import uuid

    from perfect_nb import Flow, Parameter, task
    from perfect_nb.client import Client
    from tests.backend.conftest import ServerProcess

    @task
    def inc(x):
        return x + 1

    @task
    def total(xs):
        return sum(xs)

    with Flow("big-map") as flow:
        total(inc.map(Parameter("xs", default=[])))
    home = tmp_path / "home"
    home.mkdir()
    server = ServerProcess(f"sqlite:///{tmp_path / 'server.db'}", home).start()
    context, page, problems = _watched_page(browser)
    try:
        with Client(api=server.api) as client:
            client.create_project("p")
            run = client.create_flow_run(client.register(flow, "p")["id"], parameters={})
            page.goto(f"{server.api}/flow-runs/{run}")
            page.wait_for_selector("#live:not([hidden])")
            page.evaluate("() => { window.sameDocument = true; }")
            page.evaluate(_METER)
            seq = iter(range(1, 100_000))
            now = time.time()

            def ev(**kw):
                return {"id": str(uuid.uuid4()), "type": "state", "flow_run_id": run, "seq": next(seq), "ts": now, **kw}

            ids = [str(uuid.uuid4()) for _ in range(5000)]
            child = lambda i, state, **kw: ev(task_run_id=ids[i], task_slug="inc", task_name="inc", map_index=i, state=state, **kw)  # noqa: E731
            client.post_events([ev(task_run_id=None, state="Running"), ev(task_run_id=str(uuid.uuid4()), task_slug="xs", task_name="xs", map_index=None, state="Success", finished=True),
                                ev(task_run_id=str(uuid.uuid4()), task_slug="inc", task_name="inc", map_index=None, state="Mapped", map_size=5000, finished=True)])
            page.wait_for_function("() => document.querySelector('#dag g.node title') && [...document.querySelectorAll('#dag g.node')].some((g) => g.textContent.includes('0/5000'))")
            labels = set()
            started = time.perf_counter()
            for start in range(0, 5000, 500):
                client.post_events([child(i, "Running") for i in range(start, start + 500)])
                client.post_events([child(i, "Success", finished=True) for i in range(start, start + 500)])
                labels.add(page.evaluate("() => [...document.querySelectorAll('#dag g.node')].find((g) => g.querySelector('title').textContent === 'inc').querySelector('text:last-of-type').textContent"))
            posted_s = time.perf_counter() - started
            page.wait_for_function("() => document.querySelector('#task-counts').textContent.replace(/\\s/g, '').includes('Success5001')")
            during = page.evaluate("() => ({ ...window.meter })")
            client.post_events([ev(task_run_id=str(uuid.uuid4()), task_slug="total", task_name="total", map_index=None, state="Success", finished=True),
                                ev(task_run_id=None, state="Success", message="All reference tasks succeeded.", finished=True)])
            page.wait_for_function("() => document.body.dataset.final === 'true'", timeout=30_000)
            meter = page.evaluate("() => { window.meter.stop = true; return window.meter; }")
            page.screenshot(path=str(ui_shots / "ui-map-5000.png"), full_page=False)
            node = page.evaluate("() => [...document.querySelectorAll('#dag g.node')].find((g) => g.querySelector('title').textContent === 'inc').textContent")
            assert "5000/5000 ok" in node, node
            assert all(label.endswith("/5000") or label == "5000/5000 ok" for label in labels), labels  # never a smaller n
            counts = page.text_content("#task-counts")
            assert "Success5002" in counts.replace(" ", "").replace("\n", "") and "Running" not in counts, counts
            assert page.evaluate("() => document.querySelectorAll('#task-table tbody tr').length") == 500
            assert page.text_content("#more-tasks span") == "4503"  # xs, the mapped parent, 5,000 children and total, less the 500 rows
            assert page.evaluate("() => window.sameDocument === true") and problems == [], problems
            print(f"5,000-item map: 10,000 events posted in {posted_s:.2f} s; while they came: longest frame gap {during['gap']:.0f} ms, "
                  f"longest task {during['longest']:.0f} ms, {during['frames']} frames; with the end's catch-up: {meter['gap']:.0f} ms, {meter['longest']:.0f} ms")
    finally:
        context.close()
        server.stop()


FORM_FLOW = '''
from perfect_nb import DateTimeParameter, Flow, Parameter, task

@task
def use(**values):
    return len(values)

with Flow("form-kinds") as flow:
    use(n=Parameter("n", default=3, bounds=(1, 10)), rate=Parameter("rate", default=0.75, bounds=(0.5, 1.0)), xs=Parameter("xs", default=[1, 2]),
        cfg=Parameter("cfg", default={"a": 1}), when=DateTimeParameter("when", default="2024-01-31T08:00"), tag=Parameter("tag", default="a", choices=["a", "b"]),
        extra=Parameter("extra", default=None, required=False), label=Parameter("label", default=None, required=True, help="what to call it"))
'''

# (parameter, text typed): the page's verdict must be the server's, word for word
FORM_CASES = [
    *[("n", t) for t in ["5", "50", "five", "5.5", "5.0", " 7 ", "1_0", "1e1", "inf", "nan", "", "+3", "-0", "1e400", "1__0", ".", "1,5", "0x10"]],
    *[("rate", t) for t in ["0.75", "2", "1e-5", "abc", "nan", "1.0", "1", "-inf", ".5", "5."]],
    *[("xs", t) for t in ["[1, 2]", "[1, 2,]", "(1, 2)", "1, 2", "{'a': 1}", "[1, 2", "['a', \"b\"]", "[true, null]", "[True, None]", "[1.0, -2]",
                          "'x'", "[]", "[[1], {'k': (1,)}]", "[1e16, 1e-5, -0.0, 12.5]", "['don\\'t', \"it's\"]", "[1, 2]]", "null", "[01]", "[00]",
                          "[--1]", "[- 1]", "[\"\\u00e9\", '\\x41']", "[NaN, Infinity]", "[1 2]", "x"]],
    *[("cfg", t) for t in ['{"a": 1}', "{'a': 1, 'a': 2}", "{1: 'x', 2.5: None}", "[1]", "{", "{'a': [1, 2], 'b': {'c': None}}", "{'a': 1,}", '{"a": 1,}', "{}"]],
    *[("when", t) for t in ["2024-01-31T08:00", "2024-01-31", "2024-02-30", "tomorrow", "31/01/2024", "2024-01-31 08:00:00+01:00", "2024-01-31T08:00Z",
                            "2024-01-31T25:00", "2024-13-01", "2024-01-31T08:00:00.123456", ""]],
    *[("tag", t) for t in ["a", "b", "c", ""]],
    *[("extra", t) for t in ["hello", "[1, 2", "{'a': 1}", "12", "", "True"]],
    *[("label", t) for t in ["", "  ", "x"]],
]
LEFT_TO_SERVER = {("n", "0x10"), ("xs", "[0x10]"), ("when", "20240131")}  # the page says nothing; the server decides


def test_the_run_forms_checks_in_the_page_say_what_the_server_says(browser, ui_shots, tmp_path):
    """Every case above, checked by the page's checkField and by the server's read_form: same verdict, same
    message. Then in the page: a bad list and a bad date are shown beside their fields and nothing is sent."""
    from perfect_nb.server.ui.forms import read_form
    from tests.backend.test_agent import Orchestra

    home = tmp_path / "home"
    home.mkdir()
    band = Orchestra(f"sqlite:///{tmp_path / 'server.db'}", home, tmp_path)
    context, page, problems = _watched_page(browser, height=1100)
    try:
        flow_id = band.register(FORM_FLOW, name="form_kinds.py")
        page.goto(f"{band.server.api}/flows/{flow_id}")
        spec = {s["name"]: s for s in page.evaluate("() => JSON.parse(document.getElementById('param-spec').textContent)")}  # what the page reads
        stored = {s["name"]: s for s in band.client.request("GET", f"/flows/{flow_id}")["parameters"]}  # what the server reads
        verdicts = page.evaluate("""(cases) => cases.map(([s, text]) => {
            const r = checkField(s, { type: "text", value: text });
            return r === undefined ? "<server>" : r; })""", [[spec[name], text] for name, text in FORM_CASES + sorted(LEFT_TO_SERVER)])
        differ = []
        for (name, text), said in zip(FORM_CASES + sorted(LEFT_TO_SERVER), verdicts):
            server = read_form([stored[name]], {name: text})[1].get(name)
            if said == "<server>" and (name, text) in LEFT_TO_SERVER:
                continue
            if said != server:
                differ.append((name, text, said, server))
        assert differ == [], "\n".join(f"{n} {t!r}: page {p!r}, server {s!r}" for n, t, p, s in differ)

        page.fill("#p-xs", "[1, 2")
        page.fill("#p-when", "31/01/2024")
        page.fill("#p-label", "nightly")
        page.click("#run-form button[type=submit]")
        assert page.text_content("#e-xs") == "Needs a list like [1, 2]: check brackets, quotes and commas in '[1, 2'."
        assert page.text_content("#e-when") == "Needs an ISO 8601 date-time like 2024-01-31T08:00, got '31/01/2024'."
        page.screenshot(path=str(ui_shots / "ui-form-kinds.png"), full_page=True)
        assert page.url.endswith(f"/flows/{flow_id}") and band.client.flow_runs(flow_id=flow_id) == []
        rows = page.evaluate("() => [...document.querySelectorAll('#flow-tasks tbody tr')].map((tr) => [...tr.cells].map((td) => td.textContent))")
        assert ["use", "FunctionTask", "cfg, extra, label, n, rate, tag, when, xs"] in rows and ["when", "DateTimeParameter", ""] in rows, rows  # its tasks
        page.fill("#p-xs", "[1, 2]")
        page.fill("#p-when", "2024-02-01T09:30")
        page.click("#run-form button[type=submit]")
        page.wait_for_url(f"{band.server.api}/flow-runs/*")
        (run,) = band.client.flow_runs(flow_id=flow_id)
        assert run.parameters["xs"] == [1, 2] and run.parameters["when"] == "2024-02-01T09:30" and run.parameters["label"] == "nightly"
        assert problems == [], problems
    finally:
        context.close()
        band.close()


def test_the_dashboards_counts_are_the_databases(browser, ui_shots, tmp_path):
    """A seeded history (2,000 runs over 29 days): the counts the browser shows are those SQL gives, and each
    count's link lists that many runs."""
    import sqlalchemy as sa

    from bench.ui_pages import seed
    from perfect_nb.server.db import Database
    from perfect_nb.server.db.schema import flow_runs
    from tests.backend.conftest import ServerProcess

    url = f"sqlite:///{tmp_path / 'server.db'}"
    seed(url, runs=2000, tasks_per_run=1, logs_per_run=0)
    db = Database(url)
    with db.read() as conn:
        since = time.time() - 86400
        truth = dict(conn.execute(sa.select(flow_runs.c.state, sa.func.count()).where(flow_runs.c.created >= since).group_by(flow_runs.c.state)).all())
    db.dispose()
    home = tmp_path / "home"
    home.mkdir()
    server = ServerProcess(url, home).start()
    context, page, problems = _watched_page(browser)
    try:
        page.goto(f"{server.api}/")
        shown = dict(page.evaluate("() => [...document.querySelectorAll('ul.counts li[data-state]')].map((li) => [li.querySelector('.badge').textContent, Number(li.querySelector('b').textContent)])"))
        heading = page.text_content("section h2")
        page.screenshot(path=str(ui_shots / "ui-dashboard.png"), full_page=True)
        assert shown == truth and heading == f"Runs of the last 24 hours: {sum(truth.values())}", (shown, truth, heading)
        assert len(truth) >= 3  # Success, Failed, Cancelled, Running, Scheduled in this history
        page.click("ul.counts li[data-state='Failed'] a")
        page.wait_for_url(f"{server.api}/flow-runs?*")
        listed = page.evaluate("() => [...document.querySelectorAll('#run-list tbody tr')].map((tr) => tr.cells[2].textContent.trim())")
        assert listed == ["Failed"] * truth["Failed"], listed
        assert problems == [], problems
    finally:
        context.close()
        server.stop()


SCHEDULED_FLOW = '''
from datetime import timedelta
from perfect_nb import Flow, task
from perfect_nb.schedules import IntervalSchedule

@task
def tick():
    return 1

with Flow("hourly", schedule=IntervalSchedule(interval=timedelta(hours=1))) as flow:
    tick()
'''


def test_the_schedule_switch_turns_the_schedule_off_and_on(browser, ui_shots, tmp_path):
    from tests.backend.test_agent import Orchestra

    home = tmp_path / "home"
    home.mkdir()
    band = Orchestra(f"sqlite:///{tmp_path / 'server.db'}", home, tmp_path)
    context, page, problems = _watched_page(browser)
    try:
        flow_id = band.register(SCHEDULED_FLOW, name="hourly.py")
        active = lambda: band.client.request("GET", f"/flows/{flow_id}")["schedule_active"]  # noqa: E731
        upcoming = lambda: [r for r in band.client.flow_runs(flow_id=flow_id) if type(r.state).__name__ == "Scheduled"]  # noqa: E731
        deadline = time.monotonic() + 10
        while not upcoming():  # the server's scheduler makes the next runs
            assert time.monotonic() < deadline, "the scheduler made no run"
            time.sleep(0.1)
        page.goto(f"{band.server.api}/flows/{flow_id}")
        assert active() is True and page.text_content("#schedule-state") == "on"
        page.click("#schedule-toggle")
        page.wait_for_function("() => document.getElementById('schedule-state').textContent === 'off'")  # after the page reloads
        assert active() is False and upcoming() == [] and page.text_content("#schedule-toggle").strip() == "Turn on"
        page.screenshot(path=str(ui_shots / "ui-schedule-off.png"), full_page=True)
        page.click("#schedule-toggle")
        page.wait_for_function("() => document.getElementById('schedule-state').textContent === 'on'")
        assert active() is True and page.text_content("#schedule-toggle").strip() == "Turn off"
        deadline = time.monotonic() + 10
        while not upcoming():  # on again: its runs are made again
            assert time.monotonic() < deadline, "no run was scheduled after the schedule was switched on"
            time.sleep(0.1)
        assert problems == [], problems
    finally:
        context.close()
        band.close()


def test_a_long_logs_level_and_search_ask_the_server(browser, ui_shots, tmp_path):
    """2,500 log lines: the page holds the first 2,000; typing in Search or choosing a Level finds lines beyond them."""
    import uuid

    from perfect_nb import Flow, task
    from perfect_nb.client import Client
    from tests.backend.conftest import ServerProcess

    @task
    def talk():
        return 1

    with Flow("talkative") as flow:
        talk()
    home = tmp_path / "home"
    home.mkdir()
    server = ServerProcess(f"sqlite:///{tmp_path / 'server.db'}", home).start()
    context, page, problems = _watched_page(browser)
    try:
        with Client(api=server.api) as client:
            client.create_project("p")
            run = client.create_flow_run(client.register(flow, "p")["id"], parameters={})
            now = time.time()
            lines = [{"id": str(uuid.uuid4()), "type": "log", "flow_run_id": run, "task_run_id": None, "level": 40 if i % 1000 == 999 else 20,
                      "name": "perfect_nb.task", "message": f"line {i}" + (" <b>needle</b>" if i == 2400 else ""), "ts": now + i / 1000} for i in range(2500)]
            for start in range(0, 2500, 1000):
                client.post_events(lines[start:start + 1000])
            client.post_events([{"id": str(uuid.uuid4()), "type": "state", "flow_run_id": run, "task_run_id": None, "state": "Success", "finished": True, "seq": 1, "ts": now + 3}])
        page.goto(f"{server.api}/flow-runs/{run}")
        visible = "() => [...document.querySelectorAll('#logs tbody tr')].filter((tr) => !tr.hidden).map((tr) => tr.querySelector('td.line').textContent)"
        assert len(page.evaluate(visible)) == 2000 and page.is_visible("#logs-cut")
        page.fill("#log-search", "NEEDLE")
        page.wait_for_selector("#logs-found:not([hidden])")
        assert page.evaluate(visible) == ["line 2400 <b>needle</b>"]  # found beyond the 2,000 lines, shown as text
        page.screenshot(path=str(ui_shots / "ui-log-search.png"), full_page=False)
        page.fill("#log-search", "")
        page.select_option("#log-level", label="ERROR")
        page.wait_for_function("() => document.getElementById('logs-found').textContent.includes('at ERROR')")
        assert page.evaluate(visible) == ["line 999", "line 1999"], page.evaluate(visible)
        assert problems == [], problems
    finally:
        context.close()
        server.stop()
