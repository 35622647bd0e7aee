"""Tutorial 03's live DAG, seen in JupyterLab: nodes turn Running then Success in
dependency order, the retried task passes through Retrying, the failing task ends red."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from .jlab import CELL_OUTPUT, DIRTY, skip_without_browser

skip_without_browser()

from playwright.sync_api import expect  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = "03-live-dag.ipynb"  # its main flow: %%perfect_flow pipeline, 1 s steps
FLOW = "pipeline"
FAILED, RETRIED, NEVER_RAN = "top_products", "load_rates", "notify_buyers"
DONE = {"Success", "Failed", "Cached", "TriggerFailed", "Skipped", "Cancelled"}

# Nodes of the drawing (slug, whether a Parameter) and its edges (upstream, downstream).
_GRAPH = """(key) => {
  const cell = document.querySelector(`[data-pnb-cell="${key}"]`);
  const nodes = [...cell.querySelectorAll('.pnb-dag g.node.pnb-task')].map((n) => [n.dataset.slug, n.classList.contains('parameter')]);
  const edges = [...cell.querySelectorAll('.pnb-dag g.edge > title')].map((t) => t.textContent.split('->'));
  return {nodes, edges};
}"""


def _saved_output_shows_the_final_dag(nb):
    """Opened as saved, before any cell runs: the flow cell shows its stored picture of the
    last run (JupyterLab does not trust a saved output: no widget, no SVG, but a PNG), never
    "Error displaying widget: model not found"; and opening it did not mark it modified."""
    nb.page.wait_for_function(
        "(key) => { const i = document.querySelector(`[data-pnb-cell=\"${key}\"] .jp-OutputArea img`); return i && i.complete && i.naturalWidth > 0; }",
        arg="dag", polling=100, timeout=10_000,
    )
    shown = nb.page.evaluate(CELL_OUTPUT, "dag")
    notebook_text = nb.page.evaluate("() => document.querySelector('.jp-Notebook').innerText")
    assert "model not found" not in notebook_text and "Error displaying widget" not in notebook_text
    assert len(shown["imgs"]) == 1 and shown["imgs"][0][0] > 300 and shown["imgs"][0][1] > 200, shown
    assert not nb.page.evaluate(DIRTY), "opening the tutorial marked it modified (its saved kernelspec or metadata differ from JupyterLab's)"
    nb.cell("dag").locator(".jp-OutputArea img").first.scroll_into_view_if_needed()
    nb.screenshot("saved-dag-before-running", nb.cell("dag").locator(".jp-OutputArea").first)


def test_live_dag_colours_follow_the_run(nb):
    nb.open(NOTEBOOK)
    nb.mark_cell(f"%%perfect_flow {FLOW}", "dag")
    _saved_output_shows_the_final_dag(nb)
    nb.record("dag")
    nb.run_all()
    nb.wait_all_run(timeout=90)
    timeline = nb.wait_for("dag", lambda tl: bool(tl.final) and set(tl.final.values()) <= DONE, what="every node finished")

    graph = nb.page.evaluate(_GRAPH, "dag")
    tasks = [slug for slug, is_param in graph["nodes"] if not is_param]
    upstream = {slug: {u for u, d in graph["edges"] if d == slug} for slug in tasks}
    assert len(tasks) >= 4 and graph["edges"], graph
    for slug in tasks:
        history = timeline.history(slug)
        # (a first task may already run when the widget first draws: its Pending can be gone)
        assert history[-1] in DONE and (history[0] == "Pending" or not upstream[slug]), f"{slug}: {history}\n{timeline}"
        if history[-1] in ("Success", "Failed"):  # it ran: blue, then its final colour
            assert "Running" in history[:-1], f"{slug} never showed Running (#3d67ff): {history}\n{timeline}"
        if "Running" not in history:
            continue
        started = timeline.first(slug, "Running")
        for up in upstream[slug]:  # dependency order: a task turns blue only once its upstream are green
            finished = timeline.first(up, "Success")  # (both may change in one update of the drawing)
            assert finished is not None and finished <= started, f"{slug} ran before {up} finished:\n{timeline}"

    final = timeline.final
    assert [s for s in tasks if final[s] == "Failed"] == [FAILED], f"the failing task must end red (#eb0000): {final}"
    assert [s for s in tasks if final[s] == "TriggerFailed"] == [NEVER_RAN], final
    assert timeline.history(NEVER_RAN) == ["Pending", "TriggerFailed"]
    assert all(final[s] == "Success" for s in tasks if s not in (FAILED, NEVER_RAN)), final
    # The retried task: its failed attempt is Failed then Retrying (Prefect 1), so the red may flash.
    retried = [s for s in timeline.history(RETRIED) if s not in ("Pending", "Failed")]
    assert retried == ["Running", "Retrying", "Running", "Success"], f"{timeline.history(RETRIED)}\n{timeline}"

    # Clicking the failed node shows its state and error message under the graph.
    view = nb.view("dag")
    view.locator(f'g.node[data-slug="{FAILED}"]').click()
    expect(view.locator(".pnb-details")).to_contain_text(f"{FAILED}: Failed")
    expect(view.locator(".pnb-details")).to_contain_text("Error during execution of task")
    expect(view.locator(".pnb-selected")).to_have_attribute("data-slug", FAILED)

    expect(view.locator(".pnb-legend")).to_have_text(re.compile(r"^\s*Success 4\s*Failed 1\s*TriggerFailed 1\s*$"))

    nb.screenshot("live-dag-page")
    shot = nb.screenshot("live-dag", view)
    target = os.environ.get("PERFECT_NB_DOCS_SCREENSHOT")
    if target:  # PERFECT_NB_DOCS_SCREENSHOT=docs/live-dag.png pytest tests/browser -k live_dag
        shutil.copyfile(shot, REPO / target)
    nb.assert_offline_and_quiet()
