"""FlowView: live states and SVG colours, summary, results, logs, selection, fallbacks."""

import re

import pytest

from perfect_nb import Flow, Parameter, task
from perfect_nb.notebook import FlowView
from perfect_nb.viz.colors import color_for


@task
def slow_one():
    import time

    time.sleep(0.15)
    return 1


@task
def slow_add(x, y=1):
    import time

    time.sleep(0.15)
    return x + y


@task
def explode(x):
    raise ValueError(f"cannot use {x}")


def _fill_of(svg, slug):
    title = slug.replace("-", "&#45;")  # graphviz escapes dashes in titles
    match = re.search(rf"<title>{re.escape(title)}</title>\s*<\w+[^>]*?fill=\"([^\"]+)\"", svg)
    return match.group(1) if match else None


def _chain_flow():
    with Flow("chain") as flow:
        a = slow_one()
        b = slow_add(a)
        slow_add(b)
    return flow


def test_states_pass_through_running_in_dependency_order():
    flow = _chain_flow()
    view = FlowView(flow, use_cache=False)
    seen = []
    view.observe(lambda change: seen.append(dict(change["new"])), names="states")
    view.run()
    for slug in ("slow_one", "slow_add", "slow_add-2"):
        names = [s[slug] for s in seen]
        assert names.index("Running") < names.index("Success"), (slug, names)
    first_running = [next(i for i, s in enumerate(seen) if s[slug] == "Running") for slug in ("slow_one", "slow_add", "slow_add-2")]
    assert first_running == sorted(first_running)
    assert view.states == {"slow_one": "Success", "slow_add": "Success", "slow_add-2": "Success"}


def test_svg_shows_final_colours_with_a_fixed_layout():
    flow = _chain_flow()
    view = FlowView(flow, use_cache=False)
    before = re.sub(r'fill="[^"]*"', "", view.svg)
    view.run()
    after = re.sub(r'fill="[^"]*"', "", view.svg)
    assert before == after  # only colours changed: no re-layout
    assert _fill_of(view.svg, "slow_add-2") == color_for("Success")


def test_failure_is_red_and_summarised_with_a_traceback():
    with Flow("fails") as flow:
        explode(slow_one())
    view = FlowView(flow, use_cache=False)
    state = view.run()
    assert state.is_failed()
    assert view.states["explode"] == "Failed"
    assert _fill_of(view.svg, "explode") == color_for("Failed")
    assert "cannot use 1" in view.summary.value
    assert "<details" in view.summary.value and "Traceback" in view.summary.value


def test_states_keep_dependency_order_and_a_trigger_failure_has_no_traceback():
    with Flow("stops") as flow:
        slow_add(explode(slow_one()))
    view = FlowView(flow, use_cache=False)
    view.run()
    assert list(view.states) == ["slow_one", "explode", "slow_add"]  # printed the same in every kernel
    summary = view.summary.value
    assert summary.index("<b>explode</b>") < summary.index("<b>slow_add</b>")  # the cause first
    assert summary.count("Traceback") == 1  # explode's own; slow_add never ran


def test_mapped_task_shows_progress_and_stripes():
    @task
    def maybe_fail(x):
        if x == 3:
            raise ValueError("three")
        return x

    with Flow("mapped") as flow:
        maybe_fail.map([1, 2, 3, 4])
    view = FlowView(flow, use_cache=False)
    view.run()
    assert ">3/4 ok<" in view.svg  # all four finished, three of them succeeded
    assert color_for("Success") in view.svg and color_for("Failed") in view.svg
    assert "maybe_fail[2]" in view.summary.value


def test_counts_leave_out_the_constant_a_map_is_given_as_the_drawing_does():
    @task
    def double(x):
        return 2 * x

    with Flow("view counts constants out") as flow:
        double.map([1, 2, 3])
    view = FlowView(flow)  # with the notebook cache, so the summary lists why each task ran
    try:
        view.run()
        assert len(flow.tasks) == 2 and view.header.value.endswith("· 1 task")
        assert "— 1 Mapped (3 Success)<div>" in view.summary.value  # not "1 Mapped, 1 Success"
        assert "1 ran, 0 reused" in view.summary.value and "Constant" not in view.summary.value
    finally:
        from perfect_nb.notebook.cache import get_cache

        get_cache(flow.name).clear()


def test_results_of_reference_tasks_are_shown():
    pd = pytest.importorskip("pandas")

    @task
    def frame():
        return pd.DataFrame({"city": ["Oslo", "Lima"], "temp": [3, 19]})

    with Flow("frames") as flow:
        frame()
    view = FlowView(flow, use_cache=False)
    view.run()
    assert "<table" in view.results.value and "Lima" in view.results.value


@pytest.mark.parametrize("executor", [None, "processes"])
def test_selecting_a_node_shows_its_details_and_logs(executor):
    """Also when the task ran in a worker process: its log lines come back with its events."""
    from perfect_nb.executors import LocalDaskExecutor

    @task
    def chatty():
        from perfect_nb import context

        context.get("logger").info("hello from chatty")
        return 42

    with Flow("chat") as flow:
        chatty()
    view = FlowView(flow, use_cache=False, executor=LocalDaskExecutor("processes", num_workers=1) if executor else None)
    view.run()
    view.selected = "chatty"
    assert "Success" in view.details.value and "42" in view.details.value
    assert "hello from chatty" in view.details.value
    assert "hello from chatty" in view.logs.value
    assert not view.rerun_button.disabled
    view.selected = "no-such-task"
    assert view.details.value == "" and view.rerun_button.disabled


def test_parameters_make_a_form_that_runs_the_flow():
    with Flow("form") as flow:
        n = Parameter("n", default=1)
        total = slow_add(n, 10)
    view = FlowView(flow, use_cache=False)
    assert view.form is not None and view.form.values == {"n": 1}
    view.form.values = {"n": 5}
    view.form.click_run()
    assert flow.last_run.result[total].result == 15


def test_without_widgets_the_view_falls_back_to_a_picture_jupyterlab_shows(monkeypatch):
    import base64
    import shutil

    if shutil.which("dot") is None:
        pytest.skip("the PNG needs the system Graphviz `dot`")
    flow = _chain_flow()
    view = FlowView(flow, use_cache=False)
    before = view._repr_mimebundle_()
    view.run()
    bundle = view._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "application/vnd.jupyter.widget-view+json" in data
    # JupyterLab shows an untrusted (saved) output's PNG but never its SVG, and sanitises
    # HTML: so a PNG, and no HTML that it would choose over it.
    assert "text/html" not in data and "image/svg+xml" not in data
    png = base64.b64decode(data["image/png"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and data["image/png"] != (before[0] if isinstance(before, tuple) else before)["image/png"]
    assert data["text/plain"] == "<FlowView 'chain': 3 tasks>"
    # what the picture is drawn from: the final colours and a legend
    monkeypatch.setenv("PATH", "/nonexistent")
    from perfect_nb.notebook import view as view_module

    view_module._picture.cache_clear()
    svg = view.static_picture()["image/svg+xml"]  # no `dot`: the in-process SVG
    assert svg.count(f'fill="{color_for("Success")}"') == 4 and "legend:Success" in svg
    assert re.search(r">Success in \d+\.\d\d s: 3 Success</text>", svg), "the outcome, as the summary says it"


def test_interrupt_marks_unfinished_cancelled_and_keeps_finished():
    @task
    def interrupt(x):
        raise KeyboardInterrupt

    with Flow("interrupted") as flow:
        first = slow_one()
        slow_add(interrupt(first))
    view = FlowView(flow, use_cache=False)
    state = view.run()
    assert state.is_cancelled() if hasattr(state, "is_cancelled") else type(state).__name__ == "Cancelled"
    assert view.states["slow_one"] == "Success"
    assert view.states["interrupt"] == "Cancelled" and view.states["slow_add"] == "Cancelled"
    assert state.result[first].result == 1


def test_updates_are_throttled():
    @task
    def fast(x):
        return x

    with Flow("many") as flow:
        fast.map(list(range(300)))
    view = FlowView(flow, use_cache=False)
    pushes = []
    view.observe(lambda change: pushes.append(1), names="svg")
    view.run()
    assert len(pushes) <= 10  # 600 child events, a fraction of a second: a handful of pushes
    assert "300/300" in view.svg


def _open_widgets() -> int:
    from ipywidgets.widgets.widget import _instances

    return len(_instances)


def test_a_new_flow_closes_the_form_it_replaces_and_its_widgets():
    def build(default):
        with Flow("f") as flow:
            n = Parameter("n", default=default)
            m = Parameter("m", default="x", help="a help line")
            slow_add(n)
            slow_add(m, "y")
        return flow

    view = FlowView(build(1))
    first_form, first_fields = view.form, list(view.form.fields.values())
    opened = _open_widgets()
    for default in (2, 3, 4):
        view.set_flow(build(default))
    assert _open_widgets() == opened, "every re-shown flow must close what it replaced"
    assert first_form.comm is None and all(field.comm is None for field in first_fields)
    assert first_form.run_button.comm is None and first_form.run_button.layout.comm is None
    assert view.form.comm is not None and view.form.values == {"m": "x", "n": 4}
    assert view.rerun_button.comm is not None  # the view's own parts stay


def _trigger_failed_flow(name):
    @task
    def numbers():
        return [1, 2, 3, 4, 5]

    @task
    def check(xs):
        raise ValueError("bad batch")

    @task
    def scale(x):
        return 10 * x

    @task
    def report(x):
        return x

    with Flow(name) as flow:
        xs = numbers()
        ok = check(xs)
        scale.map(xs, upstream_tasks=[ok])
        report(ok)
    return flow


def test_ran_counts_only_bodies_that_ran_and_a_trigger_failed_map_is_not_done():
    flow = _trigger_failed_flow("view counts what ran")
    view = FlowView(flow)  # with the cache: every task is "not in cache"
    try:
        view.run()
        summary = view.summary.value
        assert "2 ran, 0 reused from the cache, 1 did not run (scale: Mapped (5 TriggerFailed))" in summary, summary  # was "3 ran"
        assert "1 Mapped (5 TriggerFailed)" in summary
        assert ">0/5 ok<" in view.svg and "5/5" not in view.svg
        # the five children failing the same way are one line, not five
        assert summary.count("TriggerFailed: Trigger was") == 2 and "scale[0-4]" in summary
    finally:
        from perfect_nb.notebook.cache import get_cache

        get_cache(flow.name).clear()


def _node_fills(svg):
    """slug -> fills of its shapes (stripes included)."""
    out = {}
    for title, body in re.findall(r"<title>(.*?)</title>(.*?)</g>", svg, re.S):
        out[title] = re.findall(r'fill="(#[0-9a-f]{6})"', re.sub(r"<text\b.*?</text>", "", body, flags=re.S))
    return out


def test_legend_has_one_colour_per_state_the_colour_of_its_nodes_and_cached_is_dashed():
    @task
    def one():
        return 1

    @task
    def maybe(x):
        if x == 2:
            raise ValueError("two")
        return x

    with Flow("legend colours") as flow:
        n = one()
        maybe.map([1, 2, 3], upstream_tasks=[n])
    view = FlowView(flow)
    try:
        view.run()
        view.run()  # one is Cached now; the map runs again (its inputs are cached, its failed child is not)
        legend = {name: (fill, count, dashed) for name, fill, count, dashed in view.dag.legend}
        fills = _node_fills(view.svg)
        for name, (fill, count, dashed) in legend.items():
            assert fill == color_for(name)
            showing = [slug for slug, shapes in fills.items() if fill in shapes]
            assert len(showing) == count, (name, showing, fills)
        assert legend["Cached"][2] is True and legend.get("Success", (None, None, False))[2] is False
        assert re.search(r'<title>one</title>\s*<ellipse[^>]*stroke-dasharray', view.svg), "a Cached node has a dashed outline"
        assert "Mapped" not in legend  # the striped node shows its children's colours, each in the legend
    finally:
        from perfect_nb.notebook.cache import get_cache

        get_cache(flow.name).clear()


def test_a_table_preview_says_how_many_rows_it_shows_out_of_how_many():
    pd = pytest.importorskip("pandas")

    @task
    def table(n):
        return pd.DataFrame({"a": range(n)})

    with Flow("preview rows") as flow:
        big, small = table(50), table(3)
    state = FlowView(flow, use_cache=False).run()
    from perfect_nb.notebook.view import _preview_html

    assert "first 20 of 50 rows" in _preview_html(state.result[big].result)
    assert "all 3 rows" in _preview_html(state.result[small].result)
    assert _preview_html(state.result[big].result).count("<td>") == 20  # 20 rows of one column


def test_each_task_error_line_appears_once():
    import io
    import logging

    from perfect_nb.utilities.logging import configure_logging

    console = next(h for h in configure_logging().handlers if getattr(h, "_perfect_nb", False))  # what prints in a notebook
    printed = io.StringIO()
    before = console.setStream(printed)
    try:
        with Flow("error once") as flow:
            explode(1)
        view = FlowView(flow, use_cache=False)
        view.run()
        logging.getLogger("perfect_nb.other").error("outside a view run: printed")
    finally:
        console.setStream(before)
    assert "cannot use 1" not in printed.getvalue()  # not on the console as well as in the view
    assert "outside a view run: printed" in printed.getvalue()  # the console handler is back as it was
    assert view.summary.value.count("cannot use 1") == 2  # the failure line and its traceback's last line
    assert "cannot use 1" in view.logs.value
