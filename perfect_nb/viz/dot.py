"""Flow -> DOT text (stable ids from task slugs), SVG, and a Jupyter-ready drawing.

`to_dot` writes the DOT text itself; it needs neither Graphviz nor the ``graphviz``
package. Node ids are task slugs, nodes come in ``flow.sorted_tasks()`` order and
edges are sorted, so one flow always gives byte-identical DOT. Tasks are ellipses,
Parameters parallelograms, mapped tasks boxes; a Constant task that only feeds a
map is not drawn (its value joins the label of the task it feeds). Data edges are
labelled with their argument (up to `EDGE_LABEL_LIMIT` edges), mapped edges are dashed.

>>> from perfect_nb import Flow, Parameter, task
>>> @task
... def double(x):
...     return 2 * x
>>> with Flow("tiny") as flow:
...     n = Parameter("n", default=1)
...     twice = double(n)
>>> print(to_dot(flow))
digraph {
  graph [rankdir=TB newrank=true fontname="Helvetica,Arial,sans-serif"]
  node [fontname="Helvetica,Arial,sans-serif" fontsize=12]
  edge [fontname="Helvetica,Arial,sans-serif" fontsize=10]
  "n" [label="n" shape=parallelogram class="task parameter"]
  "double" [label="double" shape=ellipse class=task]
  "n" -> "double" [label="x"]
}
<BLANKLINE>

With states (``flow_state.result``, or slug -> state name) nodes are filled with
`perfect_nb.viz.colors` and a legend lists the states present:

>>> print(to_dot(flow, {"n": "Success", "double": "Failed"}).splitlines()[5])
  "double" [label="double" shape=ellipse class=task style=filled fillcolor="#eb0000" fontcolor="#ffffff"]

`visualize` (what ``flow.visualize()`` returns) is a ``graphviz.Digraph`` whose
inline SVG comes from `perfect_nb.viz.render`, so it shows in Jupyter with or
without a system ``dot``. The ``graphviz`` package is imported only when it is called.
"""

from __future__ import annotations

import functools
import os
import re
import reprlib
import shutil
from collections import Counter
from typing import Any, Mapping

from perfect_nb.core.implicit import Constant
from perfect_nb.core.parameter import Parameter
from perfect_nb.engine import state as _state
from perfect_nb.errors import CycleError
from perfect_nb.viz import colors, render

__all__ = ["progress_label", "svg", "to_dot", "visualize"]

FONT = "Helvetica,Arial,sans-serif"
SHAPES = {"task": "ellipse", "parameter": "parallelogram", "mapped": "box"}
#: Above this many edges they are drawn without labels: each label costs Graphviz a
#: virtual node, and a 500-task flow with 900 labelled edges lays out ~4x slower.
EDGE_LABEL_LIMIT = 500
#: Formats (file suffixes) `visualize` accepts for ``filename`` without an explicit ``format``.
FILE_FORMATS = frozenset({"pdf", "svg", "png", "jpg", "jpeg", "gif", "ps", "eps"})

_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEYWORDS = frozenset({"node", "edge", "graph", "digraph", "subgraph", "strict"})
_RISKY_BACKSLASH = re.compile(r'\\(?=["\n]|\Z)')
_SHORT = reprlib.Repr()
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxset = _SHORT.maxdict = 4
_SHORT.maxstring = _SHORT.maxother = 24


# --- quoting -------------------------------------------------------------------------
def quote_id(name: str) -> str:
    """Quote a node id so that Graphviz's node name (the SVG ``<title>``) is ``name``.

    Graphviz keeps backslashes in ids verbatim, except that one can escape the closing
    quote: a name with a backslash before a quote, a newline or the end is written as
    an HTML-string id instead (``<...>``), which Graphviz takes verbatim too.

    >>> print(quote_id('say "hi"'), quote_id("C:\\\\temp"), quote_id("dir\\\\"))
    "say \\"hi\\"" "C:\\temp" <dir\\>
    """
    if _RISKY_BACKSLASH.search(name):
        if "<" not in name and ">" not in name:
            return f"<{name}>"
        name = _RISKY_BACKSLASH.sub(r"\\\\", name)  # valid DOT; this rare title gains a backslash
    return '"' + name.replace('"', '\\"') + '"'


def quote_text(text: str) -> str:
    """Quote a label or attribute value: shown exactly as ``text``, newlines as line breaks.

    >>> print(quote_text('a\\\\b "c"\\nd'))
    "a\\\\b \\"c\\"\\nd"
    """
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n") + '"'


def _attrs(**attrs: Any) -> str:
    parts = []
    for key, value in attrs.items():
        if value is None:
            continue
        if key == "class_":
            key = "class"
        text = str(value)
        bare = isinstance(value, int) or (key != "label" and _BARE.fullmatch(text) and text.lower() not in _KEYWORDS)
        parts.append(f"{key}={text if bare else quote_text(text)}")
    return f" [{' '.join(parts)}]" if parts else ""


# --- states ----------------------------------------------------------------------------
def _known(state: Any) -> Any:
    """A State, a known state name, or None; an unknown name draws as the base "State"."""
    if state is None or isinstance(state, _state.State):
        return state
    try:
        colors.color_for(state)
    except (ValueError, TypeError):
        return "State"
    return state


def _progress_rank(state: Any) -> int:
    """0 finished, 1 running, 2 waiting: the order of stripes, left to right."""
    if isinstance(state, str):
        state = getattr(_state, state, _state.State)
    cls = state if isinstance(state, type) else type(state)
    return 0 if issubclass(cls, _state.Finished) else 1 if issubclass(cls, _state.Running) else 2


def _succeeded(state: Any) -> bool:
    if isinstance(state, str):
        state = getattr(_state, state, _state.State)
    cls = state if isinstance(state, type) else type(state)
    return issubclass(cls, _state.Success)


def progress_label(children: Mapping[Any, int]) -> str:
    """The progress line of a mapped task from its children's states (or names) and counts.

    While some child is unfinished it counts the finished ones; once all are finished it
    counts those that succeeded, so a map whose children all failed their trigger never
    reads as done.

    >>> progress_label({"Success": 3, "Running": 1, "Pending": 1})
    '3/5'
    >>> progress_label({"Success": 4, "Cached": 1}), progress_label({"TriggerFailed": 5})
    ('5/5 ok', '0/5 ok')
    """
    total = sum(children.values())
    finished = sum(n for s, n in children.items() if s is not None and _progress_rank(s) == 0)
    if finished < total or not total:
        return f"{finished}/{total}"
    return f"{sum(n for s, n in children.items() if _succeeded(s))}/{total} ok"


def _state_map(states: Any) -> dict[str, Any] | None:
    """slug -> State | name | None | list of child states (a mapped task's children)."""
    if states is None:
        return None
    if isinstance(states, _state.State):
        states = states.result if isinstance(states.result, Mapping) else {}
    if not isinstance(states, Mapping):
        raise TypeError(f"states must be a dict of task (or slug) -> State (or state name), got {type(states).__name__}")
    out: dict[str, Any] = {}
    for key, value in states.items():
        slug = key if isinstance(key, str) else getattr(key, "slug", None)
        if slug is None:
            continue
        if isinstance(value, (list, tuple)):
            out[slug] = [_known(v) for v in value]
        elif isinstance(value, _state.Mapped):
            out[slug] = [_known(v) for v in value.map_states]
        else:
            out[slug] = _known(value)
    return out


def _name(state: Any) -> str | None:
    return None if state is None else state if isinstance(state, str) else type(state).__name__


def _shares(counts: Mapping[str, int], total: int) -> list[int]:
    """Per-mille shares summing to 1000, each present state getting at least 1."""
    raw = [n * 1000 / total for n in counts.values()]
    shares = [max(1, int(r)) for r in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: (int(raw[i]) - raw[i], i))
    i = 0
    while sum(shares) < 1000:
        shares[by_remainder[i % len(raw)]] += 1
        i += 1
    while sum(shares) > 1000:
        shares[shares.index(max(shares))] -= 1
    return shares


def _striped(children: list[Any]) -> tuple[dict[str, str], list[Any]]:
    """Fill attributes for a mapped node from its children's states, and the states shown."""
    by_name = Counter(_name(s) for s in children)
    examples = {_name(s): s for s in children}
    order = [name for name, _ in colors.legend(examples[n] for n in by_name if n is not None)]
    order.sort(key=lambda n: _progress_rank(examples[n]))  # a progress bar: finished on the left
    if None in by_name:
        order.append(None)
    fills = [colors.color_for(examples[n]) for n in order]
    main = fills[max(range(len(order)), key=lambda i: by_name[order[i]])]
    if len(order) == 1:
        attrs = {"style": "filled,dashed" if order[0] in colors.DASHED else "filled", "fillcolor": main}
    else:
        shares = _shares({n: by_name[n] for n in order}, len(children))
        stripes = [f"{fill};{p / 1000:.3f}".rstrip("0") for fill, p in zip(fills, shares)]
        attrs = {"style": "striped", "fillcolor": ":".join(stripes)}
    attrs["fontcolor"] = colors.text_color(main)
    return attrs, [examples[n] for n in order if n is not None]


def _items(consts: Any, i: int) -> list[str]:
    """Label lines of child ``i`` of a map over constants: its own item of each."""
    lines = []
    for key, value in consts:
        try:
            lines.append(f"{key}={_SHORT.repr(list(value)[i])}")
        except (TypeError, IndexError):
            lines.append(f"{key}={_SHORT.repr(value)}")
    return lines


def _filled(state: Any) -> dict[str, str]:
    fill = colors.color_for(state)
    style = "filled,dashed" if _name(state) in colors.DASHED else "filled"  # Cached: not only a lighter green
    return {"style": style, "fillcolor": fill, "fontcolor": colors.text_color(fill)}


def _kind(task: Any, upstream: Mapping[Any, Any]) -> dict[str, str]:
    mapped = any(e.mapped for e in upstream[task])
    kind = "parameter" if isinstance(task, Parameter) else "mapped" if mapped else "task"
    return {"shape": SHAPES[kind], "class_": "task" if kind == "task" else f"task {kind}"}


def _look(task: Any, value: Any, coloured: bool) -> tuple[str, dict[str, str], list[Any]]:
    """Label, fill attributes and states shown of one node."""
    if not coloured:
        return task.name, {}, []
    if not isinstance(value, list):
        return task.name, _filled(value), [value]
    label = f"{task.name} {progress_label(Counter(value))}"
    if not value:
        return label, _filled("Mapped"), ["Mapped"]
    return (label, *_striped(value))


# --- DOT -------------------------------------------------------------------------------
def _ordered_tasks(flow: Any) -> list[Any]:
    try:
        return list(flow.sorted_tasks())
    except CycleError:  # still drawable: show the cycle
        return sorted(flow.tasks, key=lambda t: t.slug)


def hidden_tasks(flow: Any) -> set:
    """Tasks not drawn: Constants with no upstream (a literal list a task maps over, say).

    Their values show on the edges or labels of the tasks they feed; views leave them out
    of their counts too, so what is counted is what is drawn.
    """
    upstream = flow.all_upstream_edges()
    return {t for t in flow.tasks if isinstance(t, Constant) and not upstream[t]}


def to_dot(flow: Any, states: Any = None, horizontal: bool = False, expand_mapped: bool = False) -> str:
    """Return the DOT text of ``flow``, coloured by ``states`` when given.

    Parameters
    ----------
    flow : Flow
    states : dict or State, optional
        ``{task or slug: State, state name, or list of child states}``; a flow State
        (``flow.run()``'s result) stands for its ``result`` dict. A mapped task whose
        state is ``Mapped`` is labelled with its progress ("transform 734/1000") and
        filled with stripes in proportion to its children's states.
    horizontal : bool
        Lay the graph out left to right.
    expand_mapped : bool
        Draw each child of a mapped task as its own node ``name[i]`` (for small maps).
    """
    smap = _state_map(states)
    tasks = _ordered_tasks(flow)
    upstream = flow.all_upstream_edges()
    hidden = hidden_tasks(flow)
    tasks = [t for t in tasks if t not in hidden]
    order = {t: i for i, t in enumerate(tasks)}
    slugs = {t.slug for t in tasks}
    lines = [
        f"graph{_attrs(rankdir='LR' if horizontal else 'TB', newrank='true', fontname=FONT)}",
        f"node{_attrs(fontname=FONT, fontsize=12)}",
        f"edge{_attrs(fontname=FONT, fontsize=10)}",
    ]
    edges = sorted(
        (e for t in tasks for e in upstream[t]),
        key=lambda e: (order.get(e.upstream_task, -1), order[e.downstream_task], e.key or "", e.mapped, e.flattened),
    )
    consts: dict[Any, list[tuple[str, Any]]] = {}  # task -> (argument, value) of hidden Constants
    for e in edges:
        if e.upstream_task in hidden:
            consts.setdefault(e.downstream_task, []).append((e.key or "over", e.upstream_task.value))

    shown: list[Any] = []  # states drawn, for the legend
    ends: dict[Any, list[str]] = {}  # task -> node ids its edges attach to
    for t in tasks:
        value = smap.get(t.slug) if smap is not None else None
        if isinstance(value, list) and value and expand_mapped:
            ends[t] = [f"{t.slug}[{i}]" for i in range(len(value))]
            for i, child in enumerate(value):
                label = "\n".join([f"{t.name}[{i}]", *_items(consts.get(t, ()), i)])
                lines.append(f"{quote_id(ends[t][i])}{_attrs(label=label, **_kind(t, upstream), **_filled(child))}")
            shown.extend(value)
            continue
        ends[t] = [t.slug]
        label, fill, present = _look(t, value, smap is not None)
        shown.extend(present)
        label = "\n".join([label, *(f"{key}={_SHORT.repr(v)}" for key, v in consts.get(t, ()))])
        lines.append(f"{quote_id(t.slug)}{_attrs(label=label, **_kind(t, upstream), **fill)}")

    drawn = []
    for e in edges:
        if e.upstream_task in hidden:
            continue
        ups, downs = ends[e.upstream_task], ends[e.downstream_task]
        zipped = e.mapped and not e.flattened and len(ups) > 1 and len(downs) > 1
        drawn.extend((u, d, e) for u, d in (zip(ups, downs) if zipped else ((u, d) for u in ups for d in downs)))
    labelled = len(drawn) <= EDGE_LABEL_LIMIT
    for u, d, e in drawn:
        label = (f"{e.key} (flattened)" if e.flattened else e.key) if labelled and e.key else None
        lines.append(f"{quote_id(u)} -> {quote_id(d)}{_attrs(label=label, style='dashed' if e.mapped else None)}")

    if smap is not None:
        lines.extend(_legend(shown, slugs, horizontal))
    return "digraph {\n" + "".join(f"  {line}\n" for line in lines) + "}\n"


def _legend(states: list[Any], taken: set[str], horizontal: bool) -> list[str]:
    """A cluster of one box per state present (``legend:Success``...), in legend order.

    The boxes form a row held in order by an invisible chain (Graphviz does not draw
    it): within one rank top to bottom, along the ranks left to right. HTML-table
    labels would be simpler but the wasm Graphviz has no HTML labels.
    """
    entries = colors.legend(states)
    if not entries:
        return []
    out = ["subgraph cluster_legend {", f"  graph{_attrs(label='States', labelloc='t', fontsize=10, style='rounded', color='#bbbbbb')}"]
    ids = []
    for name, fill in entries:
        node_id = f"legend:{name}"
        while node_id in taken:
            node_id = "_" + node_id
        ids.append(quote_id(node_id))
        style = "filled,dashed" if name in colors.DASHED else "filled"
        attrs = _attrs(label=name, shape="box", class_="legend", style=style, fillcolor=fill, fontcolor=colors.text_color(fill), fontsize=10)
        out.append(f"  {ids[-1]}{attrs}")
    if len(ids) > 1 and horizontal:
        out.append(f"  {' -> '.join(ids)} [style=invis]")
    elif len(ids) > 1:
        out.append(f"  {{ rank=same; {' '.join(ids)} }}")
        out.append(f"  {' -> '.join(ids)} [style=invis minlen=0 weight=100]")
    return [*out, "}"]


def svg(flow: Any, states: Any = None, horizontal: bool = False, expand_mapped: bool = False, engine: str | None = None) -> str:
    """Render `to_dot` to an ``<svg>`` element with `perfect_nb.viz.render.render_svg`.

    Each task is a ``g.node`` whose ``<title>`` is its slug.

    >>> from perfect_nb import Flow, task
    >>> with Flow("one") as flow:
    ...     only = task(lambda: 1, name="only")()
    >>> "<title>only</title>" in svg(flow, {"only": "Success"}, engine="wasm")
    True
    """
    return render.render_svg(to_dot(flow, states, horizontal, expand_mapped), engine=engine)


# --- graphviz objects ------------------------------------------------------------------
@functools.cache
def _flow_graph_class() -> type:
    import graphviz  # the only import of the graphviz package below notebook/

    class FlowGraph(graphviz.Digraph):
        """A ``graphviz.Digraph`` whose Jupyter SVG comes from `perfect_nb.viz.render`:
        the system ``dot`` when on PATH, else in-process wasm Graphviz."""

        def _repr_image_svg_xml(self) -> str:
            return render.render_svg(self.source)

    FlowGraph.__module__, FlowGraph.__qualname__ = __name__, "FlowGraph"
    return FlowGraph


def __getattr__(name: str) -> Any:
    if name == "FlowGraph":  # built on first use so that importing this module skips graphviz
        return _flow_graph_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def visualize(
    flow: Any,
    flow_state: Any = None,
    filename: str | os.PathLike | None = None,
    format: str | None = None,
    horizontal: bool = False,
    expand_mapped: bool = False,
) -> Any:
    """Draw ``flow`` as a ``graphviz.Digraph`` (a `FlowGraph`) that Jupyter shows inline.

    Like Prefect 1's ``flow.visualize``: nodes are coloured by ``flow_state`` (a flow
    State, or its ``result`` dict) when given, and with ``filename`` the drawing is
    also written to ``filename.<format>`` (``format`` defaults to ``"pdf"``, or to the
    suffix of ``filename`` when that is a known format: ``"flow.svg"`` writes SVG to
    ``flow.svg``). SVG is written without a system ``dot`` too; other formats need it.
    Unlike Prefect 1, it never opens a viewer window (call ``.view()`` for that).
    """
    dot_source = to_dot(flow, flow_state, horizontal=horizontal, expand_mapped=expand_mapped)
    body = dot_source.splitlines(keepends=True)[1:-1]  # Digraph writes "digraph {" and "}"
    graph = _flow_graph_class()(body=body)
    if filename is not None:
        _write(graph, os.fspath(filename), format)
    return graph


def _write(graph: Any, filename: str, format: str | None) -> str:
    suffix = os.path.splitext(filename)[1].lstrip(".").lower()
    format = (format or (suffix if suffix in FILE_FORMATS else "pdf")).lower()
    path = filename if suffix == format else f"{filename}.{format}"
    if format == "svg":  # needs no system Graphviz
        with open(path, "w", encoding="utf-8") as fh:
            fh.write('<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n' + render.render_svg(graph.source) + "\n")
    elif shutil.which("dot") is None:
        raise render.RendererUnavailable(
            f"writing {format!r} needs the system Graphviz `dot`, which is not on PATH; "
            "write SVG instead (format='svg' is rendered in-process) or install Graphviz"
        )
    else:
        graph.render(outfile=path, format=format, cleanup=True)
    return path
