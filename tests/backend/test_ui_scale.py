"""The web UI on a long history (SQLite and PostgreSQL): 10,000 runs seeded in bulk, and the pages
are paginated and count right. (Page times are measured by bench/ui_pages.py, not asserted here.)"""

from __future__ import annotations

import re

import httpx
import pytest

from bench.ui_pages import seed
from tests.backend.conftest import ServerProcess

RUNS, FLOWS = 10_000, 150


@pytest.fixture
def history(database_url, home):
    facts = seed(database_url, runs=RUNS, tasks_per_run=2, logs_per_run=1, flows=FLOWS)
    server = ServerProcess(database_url, home).start()
    yield server, facts
    server.stop()


def runs_listed(html: str) -> int:
    return len(re.findall(r'<td><a href="/flow-runs/run-', html.split('id="run-list"')[1].split("</table>")[0]))


def test_ten_thousand_runs_are_counted_and_paged(history):
    server, facts = history
    get = lambda path: httpx.get(server.api + path, timeout=30).text  # noqa: E731
    board = get("/")
    day = facts["counts_24h"]
    assert f"Runs of the last 24 hours: {sum(day.values())}" in board and 300 < sum(day.values()) < 450
    for state, n in day.items():
        assert re.search(rf'data-state="{state}">.*?<b>{n}</b>', board), (state, n)
    assert len(re.findall(r'href="/flow-runs/run-', board.split('id="upcoming"')[1].split("</section>")[0])) == 20  # bounded lists

    flows = get("/flows")
    assert flows.count('<tr><td><a href="/flows/') == 100 and "offset=100" in flows
    last = get("/flows?offset=100")
    assert last.count('<tr><td><a href="/flows/') == FLOWS - 100 and ">Next<" not in last

    total = RUNS + 20  # and the 20 upcoming ones
    first = get("/flow-runs")
    assert runs_listed(first) == 100 and "Runs 1–100." in first and 'id="next"' in first and 'id="previous"' not in first
    tail = get(f"/flow-runs?offset={total - 20}")
    assert runs_listed(tail) == 20 and f"Runs {total - 19}–{total}." in tail and 'id="next"' not in tail and 'id="previous"' in tail
    failed = facts["failed"]
    page = get(f"/flow-runs?state=Failed&offset={failed - failed % 100}")
    assert runs_listed(page) == failed % 100 and 'id="next"' not in page and "run-" in page and ">Success<" not in page.split('id="run-list"')[1]
    assert runs_listed(get("/flow-runs?state=Failed&hours=24")) == day["Failed"]  # the dashboard's link for a count

    flow_page = get(f"/flows/{facts['flow_ids'][0]}")
    runs_table = flow_page.split("Runs of this version")[1]
    assert runs_table.count('<a href="/flow-runs/') == 50 and facts["runs_per_flow"][facts["flow_ids"][0]] > 50
    run_page = get(f"/flow-runs/{facts['run_id']}")
    assert re.search(r">Success</span> <b>2</b>", run_page.split('id="task-counts"')[1].split("</ul>")[0])
    task_page = get(f"/task-runs/{facts['task_run_id']}")
    assert "Running" in task_page and "Success" in task_page and "not persisted" in task_page
