"""The web UI in Chromium: a server and an agent on 127.0.0.1, a flow run from its page and watched live.

The flow page's Run form refuses a bad value beside its field (and no run is made),
then runs the flow with a good one; the run page's DAG is read from its SVG every
~100 ms while it runs: tasks turn Running then Success, the failing task red, the
mapped task one node with its progress. No request may leave 127.0.0.1 and the
console must stay free of errors. Screenshots go to the session's screenshot folder.
"""

from __future__ import annotations

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
  return [g.querySelector('title').textContent, [shape ? shape.getAttribute('fill') : null, texts.length ? texts[texts.length - 1].textContent : '']];
}))"""


@pytest.fixture
def orchestra(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    band = Orchestra(f"sqlite:///{tmp_path / 'server.db'}", home, tmp_path)
    try:
        yield band
    finally:
        band.close()


def test_run_a_flow_from_its_page_and_watch_it_live(orchestra, browser, screenshots, monkeypatch):
    monkeypatch.setenv("PERFECT_NB_HOME", str(orchestra.home))
    flow_id = orchestra.register(FLOW, name="ui_demo.py")
    orchestra.agent()
    api = orchestra.server.api
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    requests, problems = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
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

        seen: dict[str, list[str]] = {}
        progress: set[str] = set()
        shot_while_running = False
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline:
            try:
                fills = page.evaluate(_FILLS)
                state = page.text_content("#run-state")
            except Exception:  # the page reloads itself once the run has finished
                page.wait_for_load_state()
                continue
            for slug, (fill, text) in fills.items():
                if not seen.get(slug) or seen[slug][-1] != fill:
                    seen.setdefault(slug, []).append(fill)
                if slug == "square":
                    progress.add(text)
            if not shot_while_running and any(p.endswith("/3") for p in progress):
                page.screenshot(path=str(screenshots / "ui-run-live.png"), full_page=True)
                shot_while_running = True
            if state and state.strip() in ("Failed", "Success") and page.query_selector("#cancel[disabled]") and page.query_selector("#task-table a"):
                break  # the page has reloaded itself: the server's final table, with links and durations
            time.sleep(0.1)
        else:
            raise AssertionError(f"the run did not finish on the page within 25 s; colours seen {seen}; agent log: {orchestra.agent_logs()}")
        page.wait_for_load_state()
        final = page.evaluate(_FILLS)
        page.screenshot(path=str(screenshots / "ui-run-done.png"), full_page=True)

        assert RUNNING in seen["extract"] and seen["extract"].index(RUNNING) < seen["extract"].index(SUCCESS), seen
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
        # (extract, upstream of the failed task, was seen to run again in 1 of 3 runs: a backend restart issue noted in issue 13; not asserted here)
        assert running_count("explode") == 2 and running_count("report") == 1 and running_count("square[0]") == 1
        page.screenshot(path=str(screenshots / "ui-run-restarted.png"), full_page=True)

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
