"""What the view says, seen as a person sees it: two cells with the same flow name keep
showing their own flows and their Run buttons run them; a number typed as "2OO" is refused;
the Run button is disabled while its flow runs."""

from __future__ import annotations

import re

from . import fixture_notebooks
from .jlab import skip_without_browser

skip_without_browser()

from playwright.sync_api import expect  # noqa: E402

NOTEBOOK = "browser-twins.ipynb"
FLOW = fixture_notebooks.TWIN_FLOW

_SLUGS = """(key) => [...document.querySelectorAll(`[data-pnb-cell="${key}"] .pnb-dag g.node.pnb-task`)].map((n) => n.dataset.slug).sort()"""


def test_two_cells_with_one_flow_name_and_a_form_that_reads_numbers_strictly(nb):
    nb.open(NOTEBOOK)
    nb.mark_cell('n = Parameter("n"', "first")
    nb.mark_cell('who = Parameter("who"', "second")
    nb.record("first")
    nb.run_all()
    nb.wait_all_run()
    nb.wait_for("first", lambda tl: tl.final.get("size") == "Success", what="the first cell's run")
    first, second = nb.view("first"), nb.view("second")
    expect(second.locator(".pnb-summary")).to_contain_text("Success")
    # Each output shows its own cell's flow, after the second cell ran.
    assert nb.page.evaluate(_SLUGS, "first") == ["count", "n", "size"]
    assert nb.page.evaluate(_SLUGS, "second") == ["hello", "who"]

    # "2OO" is refused with a message, never read as 2; nothing runs.
    field = first.locator(".widget-text input").first
    run = first.locator("button", has_text=re.compile(r"^\s*Run\s*$"))
    field.fill("2OO")
    field.press("Enter")
    run.click()
    expect(first.locator(".widget-html", has_text="Needs a whole number, got '2OO'.").first).to_be_visible()
    expect(first.locator(".widget-html", has_text="1 field to fix").first).to_be_visible()
    nb.screenshot("form-refuses-2OO", first)
    expect(first.locator(".pnb-result")).to_contain_text("2")  # the result of the first run, n=2

    # A valid value: the first cell's Run runs the first cell's flow, and is disabled meanwhile.
    field.fill("5")
    field.press("Enter")
    nb.record("first")
    run.click()
    expect(run).to_be_disabled()
    nb.wait_for("first", lambda tl: tl.final.get("size") == "Success" and "Running" in tl.history("size"), what="the re-run")
    expect(run).to_be_enabled()
    expect(first.locator(".pnb-result")).to_contain_text("5")
    expect(first.locator(".widget-html", has_text="Needs a whole number")).to_have_count(0)
    assert nb.page.evaluate(_SLUGS, "first") == ["count", "n", "size"]
    assert nb.page.evaluate(_SLUGS, "second") == ["hello", "who"]
    expect(second.locator(".pnb-result")).to_contain_text("hello you")
    nb.screenshot("two-cells-same-flow-name")
    nb.assert_offline_and_quiet()
