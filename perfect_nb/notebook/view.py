"""FlowView: a flow's live DAG, parameter form, run summary, results and logs in one widget.

>>> from perfect_nb import Flow, task
>>> with Flow("tiny") as flow:
...     one = task(lambda: 1, name="one")()
>>> view = FlowView(flow)
>>> state = view.run()
>>> view.states
{'one': 'Success'}
"""

from __future__ import annotations

import base64
import collections
import functools
import html
import logging
import pathlib
import threading
import time
import traceback
from typing import Any

import anywidget
import ipywidgets as widgets
import traitlets

from perfect_nb.cache.runs import describe
from perfect_nb.core.flow import Flow
from perfect_nb.engine.events import StateChange
from perfect_nb.engine.state import Failed, Finished, Mapped, Running, State, TriggerFailed
from perfect_nb.notebook.throttle import Throttle
from perfect_nb.utilities.logging import is_task_record
from perfect_nb.viz.dot import hidden_tasks, quote_text, to_dot
from perfect_nb.viz.live import LiveSvg

__all__ = ["DagView", "FlowView", "views"]

STATIC = pathlib.Path(__file__).parent / "static"

#: The view each ``%%perfect_flow NAME`` cell displayed, by flow name.
views: dict[str, "FlowView"] = {}


class DagView(anywidget.AnyWidget):
    """The drawing: an SVG the kernel keeps current; clicks select a task."""

    _esm = STATIC / "dag.js"
    _css = STATIC / "dag.css"
    svg = traitlets.Unicode("", help="The graph as drawn now: fixed layout, current colours.").tag(sync=True)
    states = traitlets.Dict(help="Task slug -> state name.").tag(sync=True)
    selected = traitlets.Unicode("", help="Slug of the task the user clicked.").tag(sync=True)
    legend = traitlets.List(help="[state name, fill, nodes, dashed] per colour on screen, in legend order.").tag(sync=True)

    def __repr__(self) -> str:
        return f"<DagView: {len(self.states)} tasks>"


class _LogCollector(logging.Handler):
    """Groups the log records of a run by the task that emitted them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.by_task: dict[str, list[str]] = collections.defaultdict(list)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        from perfect_nb.core.context import current

        key = current().get("task_full_name") or "flow"
        self.by_task[key].append(self.format(record))


class FlowView(widgets.VBox):
    """A live view of ``flow``: display it, then ``view.run(**parameters)``.

    Parameters
    ----------
    flow : Flow
    horizontal : bool
        Lay the graph out left to right.
    executor : Executor, optional
        Used by ``run()`` and the Run button when none is given.
    """

    svg = traitlets.Unicode("", help="The graph as drawn now (mirrors the DAG widget).")
    states = traitlets.Dict(help="Task slug -> state name, current while a run goes on.")
    selected = traitlets.Unicode("", help="Slug of the selected task.")
    running = traitlets.Bool(False, help="True while a run started from this view goes on.")

    def __init__(self, flow: Flow, horizontal: bool = False, executor: Any = None, use_cache: bool = True, **kwargs: Any) -> None:
        if not isinstance(flow, Flow):
            raise TypeError(f"FlowView needs a Flow, got {flow!r}.")
        self.use_cache = use_cache
        self.persist: bool | None = None
        self.parameters: dict = {}
        self.dag = DagView()
        self.rerun_button = widgets.Button(description="Run this task", tooltip="Run the selected task again with its inputs from the cache, then its downstream tasks", disabled=True)
        self.rerun_only_button = widgets.Button(description="Only this task", tooltip="Run only the selected task again", disabled=True)
        self.rerun_button.on_click(lambda _: self.rerun(self.selected, downstream=True))
        self.rerun_only_button.on_click(lambda _: self.rerun(self.selected, downstream=False))
        self._rerun_row = widgets.HBox([self.rerun_button, self.rerun_only_button])
        self.task_box = widgets.VBox()
        self.form = None
        self.header = widgets.HTML()
        self.details = widgets.HTML()
        self.summary = widgets.HTML()
        self.results = widgets.HTML()
        self.logs = widgets.HTML()
        self.executor = executor
        self.horizontal = horizontal
        self.run_kwargs: dict = {}
        self._lock = threading.RLock()
        self._throttle = Throttle(self._push, interval=0.1)
        super().__init__(**kwargs)
        for name in ("svg", "states", "selected"):
            traitlets.link((self.dag, name), (self, name))
        self.observe(lambda change: self._show_details(), names="selected")
        self.observe(lambda change: self._on_running(), names="running")
        self.set_flow(flow)

    # --- the flow shown ----------------------------------------------------
    def set_flow(self, flow: Flow) -> None:
        """Show ``flow`` (a new version of the same cell keeps this widget on screen)."""
        self.flow = flow
        self._live = LiveSvg(flow, horizontal=self.horizontal)
        self._reset_run_state()
        old_form, self.form = self.form, self._make_form()
        self.header.value = f"<b>{html.escape(flow.name)}</b> · {_task_count(flow)}"
        if not self.task_box.children:
            self.task_box.children = [self.details, self._rerun_row]
        parts = [self.header] + ([self.form] if self.form is not None else []) + [self.dag, self.task_box, self.summary, self.results, self.logs]
        self.children = parts
        if old_form is not None:  # re-running a cell must not leave the old form alive in the kernel
            old_form.close()
        self.summary.value = self.results.value = self.logs.value = self.details.value = ""
        self._push()

    def _make_form(self):
        params = sorted(self.flow.parameters(), key=lambda p: p.name)
        if not params:
            return None
        from perfect_nb.notebook.forms import ParameterForm

        return ParameterForm(params, on_submit=lambda values: self.run(**values))

    def _reset_run_state(self) -> None:
        self._task_states: dict[str, State] = {}
        self._names = {t.slug: "Pending" for t in self.flow.sorted_tasks()}  # dependency order, the same every run
        self._progress: dict[str, collections.Counter] = {}
        self._ran: set[str] = set()  # tasks whose body ran (they, or a child, went Running)
        self._started: dict[str, float] = {}
        self._ended: dict[str, float] = {}
        self._logs = _LogCollector()
        self._outcome = ""
        self._flow_run_id: str | None = None

    # --- running -------------------------------------------------------------
    def run(self, executor: Any = None, force: Any = (), hold: Any = (), **parameters: Any) -> State:
        """Run the flow with these parameter values, colouring the graph live.

        With the cache on (the default), tasks whose content key is cached end
        Cached without running; ``force`` lists tasks to run regardless, ``hold`` tasks
        not to run (reused when their inputs are unchanged, else Skipped saying why).
        """
        from perfect_nb.errors import ParameterError
        from perfect_nb.notebook.cache import get_cache

        self.parameters = dict(parameters)
        self._show_parameters(parameters)
        plan = get_cache(self.flow.name, self.persist).plan(self.flow, parameters, force, hold) if self.use_cache else None
        self._reset_run_state()
        self.running = True
        self.summary.value = "<i>running…</i>"
        self._push()
        root = logging.getLogger("perfect_nb")
        root.addHandler(self._logs)
        quiet = _quiet_console(root)  # the view shows the logs, grouped per task
        started = time.time()
        run_kwargs = dict(self.run_kwargs)
        # A run from the notebook checkpoints (writes target= and result= files), whatever
        # config.flows.checkpointing says for plain flow.run(); context={"checkpointing": False} in
        # run_kwargs turns that off. The notebook cache (--persist) is separate and works either way.
        run_kwargs["context"] = {"checkpointing": True, **(run_kwargs.get("context") or {})}
        try:
            state = self.flow.run(
                parameters=parameters, executor=executor or self.executor,
                listeners=[self._on_event], run_on_schedule=False, cache=plan, **run_kwargs,
            )
        except ParameterError as exc:  # nothing ran: say so rather than "running…"
            self.summary.value = f"<div class='pnb-summary'><b>Not run</b>: {html.escape(str(exc))}</div>"
            raise
        finally:
            root.removeHandler(self._logs)
            quiet()
            self.running = False
        self._finish(state, time.time() - started)
        return state

    def _show_parameters(self, parameters: dict) -> None:
        """Make the form show the values this run uses (those given, else the defaults)."""
        if self.form is None:
            return
        used = {p.name: parameters.get(p.name, p.default) for p in self.flow.parameters() if p.name in parameters or not p.required}
        try:
            self.form.values = {name: value for name, value in used.items() if name in self.form.fields}
        except KeyError:
            pass

    def _on_running(self) -> None:
        """While a run goes on, its Run and re-run buttons are disabled."""
        if self.form is not None:
            self.form.run_button.disabled = self.running
        self._show_details()

    def _on_event(self, event: StateChange) -> None:
        self._flow_run_id = event.flow_run_id
        if event.task is None:
            return
        slug, new = event.task.slug, event.new_state
        with self._lock:
            if isinstance(new, Running):
                self._ran.add(slug)
            if event.map_index is not None:
                counts = self._progress.setdefault(slug, collections.Counter())
                counts[event.old_state.type] -= 1
                counts[new.type] += 1
            else:
                self._names[slug] = new.type
                self._task_states[slug] = new
                if type(new) is Mapped:
                    self._progress[slug] = collections.Counter(Pending=len(new.map_states))
                if isinstance(new, Running) and slug not in self._started:
                    self._started[slug] = event.timestamp
                if isinstance(new, Finished):
                    self._ended[slug] = event.timestamp
        self._throttle()

    def _push(self) -> None:
        with self._lock:
            names = dict(self._names)
            progress = {slug: +counts for slug, counts in self._progress.items()}
        self.svg = self._live.render(names, progress)
        self.dag.legend = self._live.legend(names, progress)
        self.states = names

    def _finish(self, state: State, seconds: float) -> None:
        for task, task_state in (state.result or {}).items() if isinstance(state.result, dict) else ():
            self._task_states[task.slug] = task_state
            self._names[task.slug] = task_state.type
            if type(task_state) is Mapped:
                self._progress[task.slug] = collections.Counter(s.type for s in task_state.map_states)
        self._throttle.flush()
        drawn = {t: s for t, s in (state.result or {}).items() if t not in hidden_tasks(self.flow)} if isinstance(state.result, dict) else {}
        self._outcome = f"{state.type} in {seconds:.2f} s: {_count_text(drawn)}"
        self.summary.value = _summary_html(state, seconds, self.flow, self._ran) + _run_page_link(self.run_kwargs.get("backend"), self._flow_run_id)
        self.results.value = _results_html(self.flow, state)
        self.logs.value = _logs_html(self._logs.by_task)
        self._show_details()

    def rerun(self, task: Any, downstream: bool = True) -> State:
        """Run ``task`` again (ignoring its cache entry) with its inputs from the cache,
        then its downstream tasks. With ``downstream=False`` only it runs: a downstream
        task is reused if its inputs came out the same, else it ends Skipped (reason
        ``held``) until the cell runs again. Upstream tasks run only if their results are
        not in the cache."""
        target = task if not isinstance(task, str) else self.flow.get_task(task)
        if target not in self.flow.tasks:
            raise ValueError(f"Task {getattr(target, 'name', target)!r} is not in flow {self.flow.name!r}.")
        force = self.flow.sorted_tasks(root_tasks=[target]) if downstream else [target]
        hold = () if downstream else set(self.flow.sorted_tasks(root_tasks=[target])) - {target}
        self.selected = target.slug
        return self.run(force=force, hold=hold, **self.parameters)

    # --- the selected task -----------------------------------------------------
    def _show_details(self) -> None:
        slug = self.selected
        task_state = self._task_states.get(slug)
        known = bool(slug) and slug in self._names
        self.rerun_button.disabled = self.rerun_only_button.disabled = not known or self.running
        if not known:
            self.details.value = ""
            return
        parts = [f"<b>{html.escape(slug)}</b>: {html.escape(self._names[slug])}"]
        if task_state is not None and task_state.context.get("cache_reason"):
            parts.append(html.escape(describe(task_state.context["cache_reason"], task_state.context.get("cache_detail"))))
        if task_state is not None and task_state.message:
            parts.append(html.escape(task_state.message))
        if slug in self._started and slug in self._ended:
            parts.append(f"{self._ended[slug] - self._started[slug]:.3f} s")
        body = " · ".join(parts)
        if task_state is not None and isinstance(task_state, Finished):
            body += f"<div>{_preview_html(task_state.result)}</div>"
        lines = [line for key, group in self._logs.by_task.items() if key.split("[")[0] == self.flow.get_task(slug).name for line in group]
        if lines:
            body += "<pre>" + html.escape("\n".join(lines[-50:])) + "</pre>"
        self.details.value = f"<div class='pnb-details'>{body}</div>"

    # --- display -------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        """The widget view where widgets work, and a picture of the DAG as it is now for
        everywhere else: GitHub, nbviewer, and JupyterLab opening a saved notebook (which
        shows an untrusted output's PNG, never its SVG or inline-SVG HTML)."""
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data.update(self.static_picture())
        return bundle

    def static_picture(self) -> dict[str, Any]:
        """``{"image/png": base64}`` of the DAG with its current colours and a legend
        (``{"image/svg+xml": svg}`` where there is no system ``dot`` to draw a PNG)."""
        with self._lock:
            states: dict[str, Any] = dict(self._names)
            for slug, counts in self._progress.items():
                states[slug] = [name for name, n in sorted(counts.items()) for _ in range(max(n, 0))] or states.get(slug)
        if all(name == "Pending" for name in states.values()):
            states = {}
        dot = to_dot(self.flow, states or None, horizontal=self.horizontal)
        outcome = getattr(self, "_outcome", "") if states else ""
        if outcome:  # the run's outcome under the drawing, as the summary says it
            dot = dot.replace("digraph {\n", f"digraph {{\n  label={quote_text(outcome)} labelloc=b fontsize=11\n", 1)
        return _picture(dot)

    def __repr__(self) -> str:
        return f"<FlowView {self.flow.name!r}: {_task_count(self.flow)}>"


@functools.lru_cache(maxsize=16)
def _picture(dot: str) -> dict[str, Any]:
    from perfect_nb.viz.render import RendererUnavailable, render_png, render_svg

    try:
        return {"image/png": base64.b64encode(render_png(dot)).decode("ascii")}
    except RendererUnavailable:
        return {"image/svg+xml": render_svg(dot)}


def _task_count(flow: Flow) -> str:
    """"3 tasks": the tasks drawn, not the Constants a map was given."""
    shown = len(flow.tasks) - len(hidden_tasks(flow))
    return f"{shown} task{'' if shown == 1 else 's'}"


def _task_failure(record: logging.LogRecord) -> bool:
    """A task run's failure line: the view's summary and logs already show it."""
    return not (record.levelno >= logging.ERROR and is_task_record(record))


def _quiet_console(logger: logging.Logger):
    """Raise perfect_nb's console handler to WARNING and leave task failures to the view
    (so each error line appears once); return the function that undoes it."""
    handlers = [h for h in logger.handlers if getattr(h, "_perfect_nb", False)]
    levels = [h.level for h in handlers]
    for handler in handlers:
        handler.setLevel(max(handler.level, logging.WARNING))
        handler.addFilter(_task_failure)

    def restore() -> None:
        for handler, level in zip(handlers, levels):
            handler.setLevel(level)
            handler.removeFilter(_task_failure)

    return restore


def _run_page_link(backend: Any, flow_run_id: str | None) -> str:
    """A link to the run's page in the server's web UI, when the run was recorded there."""
    from perfect_nb.configuration import get_value

    if flow_run_id is None or backend is False or (backend is None and get_value("backend", "kind") != "server"):
        return ""
    api = backend if isinstance(backend, str) else getattr(backend, "api", None) or get_value("backend", "api")
    url = f"{str(api).rstrip('/')}/flow-runs/{flow_run_id}"
    return f"<div class='pnb-run-link'>Recorded: <a href='{html.escape(url)}' target='_blank' rel='noopener'>{html.escape(url)}</a></div>"


def _summary_html(state: State, seconds: float, flow: Flow, ran: set[str] | None = None) -> str:
    task_states = state.result if isinstance(state.result, dict) else {}
    hidden = hidden_tasks(flow)
    task_states = {t: s for t, s in task_states.items() if t not in hidden}  # count what is drawn
    count_text = _count_text(task_states)
    out = [f"<div class='pnb-summary'><b>{html.escape(state.type)}</b> in {seconds:.2f} s — {html.escape(count_text)}"]
    if state.message:
        out.append(f"<div>{html.escape(state.message)}</div>")
    out.append(_reasons_html(task_states, ran))
    for task in [t for t in flow.sorted_tasks() if t in task_states]:  # the cause before what it stopped
        for label, failed in _failures(task, task_states[task]):
            out.append(_failure_html(label, failed))
    out.append("</div>")
    return "".join(out)


def _count_text(task_states: dict) -> str:
    """"1 Failed, 4 Success": how many tasks ended in each state."""
    counts = collections.Counter(_kind_text(s) for s in task_states.values())
    return ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))


def _reasons_html(task_states: dict, ran_slugs: set[str] | None = None) -> str:
    """Why each task ran or was reused, when the cache was in use.

    A task counts as "ran" only if its body ran (``ran_slugs``: it or a child went
    Running); one the cache would have run but whose trigger failed, or that was
    skipped or cancelled first, is "not run" with its state.
    """
    rows = [(t.slug, _kind_text(s), s.context.get("cache_reason"), s.context.get("cache_detail")) for t, s in sorted(task_states.items(), key=lambda kv: kv[0].slug)]
    rows = [r for r in rows if r[2] is not None]
    if not rows:
        return ""
    reused = [slug for slug, _, reason, _ in rows if reason == "cached"]
    held = [slug for slug, _, reason, _ in rows if reason == "held"]
    would = [(slug, kind, describe(reason, detail)) for slug, kind, reason, detail in rows if reason not in ("cached", "held")]
    ran = [(slug, why) for slug, kind, why in would if ran_slugs is None or slug in ran_slugs]
    stopped = [(slug, kind) for slug, kind, _ in would if ran_slugs is not None and slug not in ran_slugs]
    head = f"{len(ran)} ran, {len(reused)} reused from the cache" + (f", {len(held)} not run (--only)" if held else "")
    if stopped:
        head += f", {len(stopped)} did not run (" + "; ".join(f"{slug}: {kind}" for slug, kind in stopped[:8]) + (" …" if len(stopped) > 8 else "") + ")"
    if ran:
        head += ": " + "; ".join(f"{slug} ({why})" for slug, why in ran[:8]) + (" …" if len(ran) > 8 else "")
    table = "".join(f"<tr><td>{html.escape(slug)}</td><td>{html.escape(kind)}</td><td>{html.escape(describe(reason, detail))}</td></tr>" for slug, kind, reason, detail in rows)
    return f"<details class='pnb-why'><summary>{html.escape(head)}</summary><table>{table}</table></details>"


def _kind_text(state: State) -> str:
    """"Success"; for a mapped task its children's states: "Mapped (5 TriggerFailed)"."""
    if type(state) is not Mapped or not state.map_states:
        return state.type
    counts = collections.Counter(child.type for child in state.map_states)
    return f"Mapped ({', '.join(f'{n} {name}' for name, n in sorted(counts.items()))})"


def _failures(task: Any, state: State):
    """(label, state) of each failure of ``task``; children of a map failing with the same
    state and message are one line ("clean[0-4]"), so each error line appears once."""
    if type(state) is Mapped:
        groups: dict[tuple[str, str], list[int]] = {}
        for i, child in enumerate(state.map_states):
            if isinstance(child, Failed):
                groups.setdefault((child.type, child.message or ""), []).append(i)
        for indices in groups.values():
            yield f"{task.slug}[{_ranges(indices)}]", state.map_states[indices[0]]
    elif isinstance(state, Failed):
        yield task.slug, state


def _ranges(indices: list[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2, 5"``."""
    out, start = [], indices[0]
    for prev, cur in zip(indices, indices[1:] + [None]):
        if cur != prev + 1 if cur is not None else True:
            out.append(str(start) if start == prev else f"{start}-{prev}")
            start = cur
    return ", ".join(out)


def _failure_html(label: str, state: State) -> str:
    exc = state.result if isinstance(state.result, BaseException) else None
    head = f"<b>{html.escape(label)}</b> {html.escape(state.type)}: {html.escape(state.message or '')}"
    if exc is None or exc.__traceback__ is None or isinstance(state, TriggerFailed):  # a trigger's traceback is the engine's, not the user's
        return f"<div class='pnb-failure'>{head}</div>"
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return f"<details class='pnb-failure'><summary>{head}</summary><pre>{html.escape(tb)}</pre></details>"


#: Rows of a table (a DataFrame, say) shown in a preview.
PREVIEW_ROWS = 20


def _preview_html(value: Any, limit: int = 2000) -> str:
    to_html = getattr(value, "_repr_html_", None)
    if callable(to_html) and hasattr(value, "head"):
        try:
            table = value.head(PREVIEW_ROWS)._repr_html_()
            total = len(value)
        except Exception:
            pass
        else:
            shown = min(total, PREVIEW_ROWS)
            note = f"all {total} rows" if shown == total else f"first {shown} of {total} rows"
            return f"{table}<div class='pnb-rows'><small>{note}</small></div>"
    text = repr(value)
    if len(text) > limit:
        text = text[:limit] + " …"
    return f"<pre>{html.escape(text)}</pre>"


def _results_html(flow: Flow, state: State) -> str:
    task_states = state.result if isinstance(state.result, dict) else {}
    rows = []
    for task in sorted(flow.reference_tasks(), key=lambda t: t.slug):
        task_state = task_states.get(task)
        if task_state is not None and task_state.is_successful():
            rows.append(f"<div class='pnb-result'><b>{html.escape(task.slug)}</b>{_preview_html(task_state.result)}</div>")
    return "".join(rows)


def _logs_html(by_task: dict[str, list[str]]) -> str:
    if not by_task:
        return ""
    blocks = [
        f"<details><summary>{html.escape(key)} ({len(lines)})</summary><pre>{html.escape(chr(10).join(lines))}</pre></details>"
        for key, lines in sorted(by_task.items())
    ]
    return "<div class='pnb-logs'><b>Logs</b>" + "".join(blocks) + "</div>"
