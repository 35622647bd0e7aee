"""A notebook you ran, saved and reopened with a new kernel shows its last DAG, never
"Error displaying widget: model not found": JupyterLab stores the widgets' state in the
notebook when "Save Widget State Automatically" is on, which `make lab` and Binder set
(perfect_nb.notebook.lab_settings; the test server gets the same setting).""" 

from __future__ import annotations

import json

from . import fixture_notebooks
from .jlab import DIRTY, NotebookPage, skip_without_browser

skip_without_browser()

NOTEBOOK = "browser-saved.ipynb"  # the form notebook: n=3 -> total 14
FLOW_CELL = f"%%perfect_flow {fixture_notebooks.FORM_FLOW}"
_FILLS = """(key) => Object.fromEntries([...document.querySelectorAll(`[data-pnb-cell="${key}"] .pnb-dag g.node.pnb-task`)]
  .map((n) => [n.dataset.slug, n.querySelector('polygon, ellipse, path').getAttribute('fill')]))"""
_SAVE = "() => window.jupyterapp.commands.execute('docmanager:save')"


def test_a_saved_notebook_reopened_with_a_new_kernel_shows_its_last_dag(nb, context, lab_server, screenshots):
    nb.open(NOTEBOOK)
    nb.mark_cell(FLOW_CELL, "dag")
    nb.record("dag")
    nb.run_all()
    nb.wait_all_run()
    nb.wait_for("dag", lambda tl: tl.final.get("total") == "Success", what="the run")
    before = nb.page.evaluate(_FILLS, "dag")
    nb.page.evaluate(_SAVE)
    nb.page.wait_for_function(f"() => !({DIRTY})()", polling=100, timeout=10_000)
    saved = json.loads((lab_server.root / NOTEBOOK).read_text())
    state = saved["metadata"].get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    assert any(m.get("model_name") == "AnyModel" for m in state.values()), "the saved notebook holds no widget state"
    nb.page.close()
    lab_server.delete_sessions()  # the kernel that made the widgets is gone

    again = NotebookPage(context, lab_server, screenshots)
    try:
        again.open(NOTEBOOK)
        again.mark_cell(FLOW_CELL, "dag")
        again.page.wait_for_selector('[data-pnb-cell="dag"] .pnb-dag g.node.pnb-task', timeout=15_000)
        text = again.page.evaluate("() => document.querySelector('.jp-Notebook').innerText")
        assert "model not found" not in text and "Error displaying widget" not in text
        assert again.page.evaluate(_FILLS, "dag") == before, "the reopened DAG is not the one saved"
        assert "14" in again.cell("dag").locator(".pnb-result").inner_text()
        # (JupyterLab marks a notebook modified when it restores saved widget state into it;
        # tutorials hold none, so opening them does not: test_browser_live_dag checks that.)
        again.screenshot("saved-notebook-reopened", again.cell("dag"))
    finally:
        again.page.close()
