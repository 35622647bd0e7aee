"""A stored flow graph (JSON) drawn with the notebook's own code.

The server never unpickles a flow to draw it: ``flows.graph`` holds
``{"tasks": [{slug, name, type}], "edges": [{upstream, downstream, key, mapped, flattened}]}``
(see :func:`perfect_nb.client.register.flow_graph`). :class:`StoredFlow` gives
that JSON the few methods :func:`perfect_nb.viz.dot.to_dot` and
:class:`perfect_nb.viz.live.LiveSvg` call on a Flow, so the page shows the same
DOT, layout and colours as the notebook's live view.

>>> graph = {"tasks": [{"slug": "n", "name": "n", "type": "Parameter"}, {"slug": "double", "name": "double", "type": "FunctionTask"}],
...          "edges": [{"upstream": "n", "downstream": "double", "key": "x", "mapped": False, "flattened": False}]}
>>> print(to_dot(StoredFlow(graph)).splitlines()[4])
  "n" [label="n" shape=parallelogram class="task parameter"]
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from typing import Any

from perfect_nb.core.parameter import Parameter
from perfect_nb.tasks.core.constants import Constant
from perfect_nb.viz.dot import to_dot
from perfect_nb.viz.live import LiveSvg

__all__ = ["StoredFlow", "run_svg"]


class _Value:
    """Stands for a Constant's value, which the stored graph does not keep."""

    def __repr__(self) -> str:
        return "…"


class _Task:
    def __init__(self, slug: str, name: str) -> None:
        self.slug, self.name = slug, name

    def __hash__(self) -> int:
        return hash(self.slug)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, (_Task, _Param, _Const)) and other.slug == self.slug


class _Param(_Task, Parameter):  # isinstance(t, Parameter): drawn as a parallelogram
    __init__ = _Task.__init__
    __hash__ = _Task.__hash__
    __eq__ = _Task.__eq__


class _Const(_Task, Constant):  # a literal a task maps over: not drawn, as in the notebook
    def __init__(self, slug: str, name: str) -> None:
        _Task.__init__(self, slug, name)
        self.value = _Value()

    __hash__ = _Task.__hash__
    __eq__ = _Task.__eq__


class _Edge:
    def __init__(self, upstream: Any, downstream: Any, key: str | None, mapped: bool, flattened: bool) -> None:
        self.upstream_task, self.downstream_task = upstream, downstream
        self.key, self.mapped, self.flattened = key, bool(mapped), bool(flattened)


class StoredFlow:
    """The part of the Flow interface that drawing needs, over the stored graph JSON."""

    def __init__(self, graph: dict) -> None:
        kinds = {"Parameter": _Param, "DateTimeParameter": _Param, "Constant": _Const}
        self._tasks = [kinds.get(t.get("type"), _Task)(t["slug"], t.get("name") or t["slug"]) for t in graph.get("tasks") or []]
        by_slug = {t.slug: t for t in self._tasks}
        self._up: dict[Any, set] = {t: set() for t in self._tasks}
        for e in graph.get("edges") or []:
            up, down = by_slug.get(e["upstream"]), by_slug.get(e["downstream"])
            if up is not None and down is not None:
                self._up[down].add(_Edge(up, down, e.get("key"), e.get("mapped"), e.get("flattened")))

    @property
    def tasks(self) -> set:
        return set(self._tasks)

    def sorted_tasks(self) -> list:
        return list(self._tasks)  # stored in the flow's own sorted order

    def all_upstream_edges(self) -> dict:
        return self._up

    def edges_to(self, task: Any) -> set:
        return self._up.get(task, set())


@functools.lru_cache(maxsize=64)
def _live(graph_json: str) -> LiveSvg:
    return LiveSvg(StoredFlow(json.loads(graph_json)))


def run_svg(graph: dict | None, task_runs: list[dict]) -> tuple[str, list[str]]:
    """The SVG of a run's DAG coloured by its task runs, and the slugs of its mapped tasks.

    The layout is made once per graph (cached); colouring is string work. A mapped
    task's children that have not reported yet count as Pending (its ``map_size``
    says how many it has), as in the notebook's view, so "k/n" has the right n
    from the moment the task maps.
    """
    if not graph or not graph.get("tasks"):
        return "", []
    live = _live(json.dumps(graph, sort_keys=True))
    states: dict[str, str] = {}
    progress: dict[str, Counter] = {}
    sizes: dict[str, int] = {}
    for tr in task_runs:
        if tr["map_index"] < 0:
            states[tr["task_slug"]] = tr["state"]
            if tr.get("map_size") is not None:
                sizes[tr["task_slug"]] = tr["map_size"]
        else:
            progress.setdefault(tr["task_slug"], Counter())[tr["state"]] += 1
    for slug, size in sizes.items():
        counts = progress.setdefault(slug, Counter())
        unseen = size - sum(counts.values())
        if unseen > 0:
            counts["Pending"] += unseen
    return live.render(states, {slug: c for slug, c in progress.items() if c}), sorted(live.mapped)
