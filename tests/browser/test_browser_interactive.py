"""The view's controls, used as a person would: the parameter form's Run button, clicking
a node, and "Run this task"."""

from __future__ import annotations

import re

from . import fixture_notebooks
from .jlab import skip_without_browser

skip_without_browser()

from playwright.sync_api import expect  # noqa: E402

NOTEBOOK = "browser-form.ipynb"
FLOW = fixture_notebooks.FORM_FLOW
TASKS = ["numbers", "squares", "total"]  # a chain, in dependency order, after the Parameter n


def _run_notebook(nb):
    """Open the form notebook, run it all and wait for its first run (n=3) to finish."""
    nb.open(NOTEBOOK)
    nb.mark_cell(f"%%perfect_flow {FLOW}", "flow")
    nb.record("flow")
    nb.run_all()
    nb.wait_all_run()
    nb.wait_for("flow", lambda tl: set(tl.final.values()) == {"Success"}, what="the first run to succeed")
    view = nb.view("flow")
    expect(view.locator(".pnb-result")).to_contain_text("14")  # 1 + 4 + 9
    return view


def _ran_in_order(timeline, tasks):
    """Each of ``tasks`` went Running then Success, each starting once the one before finished
    (in the same update of the drawing at the earliest)."""
    for slug in tasks:
        history = timeline.history(slug)
        assert history[-1] == "Success" and "Running" in history, f"{slug}: {history}\n{timeline}"
    for up, down in zip(tasks, tasks[1:]):
        assert timeline.first(up, "Success") <= timeline.first(down, "Running"), f"{down} ran before {up} finished:\n{timeline}"


def test_parameter_form_run_recolours_and_updates_results(nb):
    view = _run_notebook(nb)
    field = view.locator(".widget-text input")
    expect(field).to_have_value("3")
    field.click()
    field.press("Control+a")
    field.press_sequentially("10")
    field.press("Enter")
    nb.record("flow")  # from here on
    view.locator("button", has_text=re.compile(r"^\s*Run\s*$")).click()
    timeline = nb.wait_for(
        "flow", lambda tl: tl.final.get("total") == "Success" and len(tl.history("total")) > 1, what="the second run to finish"
    )
    _ran_in_order(timeline, TASKS)
    assert all(timeline.history(slug)[0] == "Success" for slug in TASKS), f"the recording started after the run:\n{timeline}"
    expect(view.locator(".pnb-result")).to_contain_text("385")  # 1 + 4 + ... + 100
    expect(view.locator(".pnb-summary")).to_contain_text("Success")
    expect(field).to_have_value("10")
    nb.screenshot("parameter-form", view)
    nb.assert_offline_and_quiet()


def test_click_node_details_and_run_this_task(nb):
    view = _run_notebook(nb)
    view.locator('g.node[data-slug="squares"]').click()
    details = view.locator(".pnb-details")
    expect(details).to_contain_text("squares: Success")
    expect(details).to_contain_text("Task run succeeded.")
    expect(details).to_contain_text("[1, 4, 9]")  # a preview of its result
    expect(view.locator(".pnb-selected")).to_have_attribute("data-slug", "squares")
    nb.screenshot("node-details", view)

    nb.record("flow")
    view.get_by_role("button", name="Run this task").click()
    timeline = nb.wait_for(
        "flow", lambda tl: tl.final.get("numbers") == "Cached" and tl.final.get("total") == "Success" and "Running" in tl.history("total"),
        what="the re-run to finish",
    )
    _ran_in_order(timeline, ["squares", "total"])
    assert "Running" not in timeline.history("numbers"), f"the upstream task ran again:\n{timeline}"
    assert timeline.final == {"n": "Cached", "numbers": "Cached", "squares": "Success", "total": "Success"}, timeline
    expect(details).to_contain_text("squares: Success")
    expect(view.locator(".pnb-summary")).to_contain_text("2 ran")
    expect(view.locator(".pnb-legend")).to_have_text(re.compile(r"^\s*Success 2\s*Cached 2\s*$"))
    # Each swatch has its nodes' colour; Cached, a lighter green, is also dashed, as its nodes are.
    swatches = view.evaluate("""(el) => Object.fromEntries([...el.querySelectorAll('.pnb-legend-item')].map((i) => {
      const s = i.querySelector('.pnb-swatch');
      return [i.dataset.state, [getComputedStyle(s).backgroundColor, getComputedStyle(s).borderTopStyle]];
    }))""")
    assert swatches == {"Success": ["rgb(40, 167, 69)", "solid"], "Cached": ["rgb(52, 208, 88)", "dashed"]}, swatches
    assert view.locator('g.node[data-slug="numbers"] ellipse[stroke-dasharray]').count() == 1
    assert view.locator('g.node[data-slug="squares"] ellipse[stroke-dasharray]').count() == 0
    nb.screenshot("run-this-task", view)
    nb.assert_offline_and_quiet()
