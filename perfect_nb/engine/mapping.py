"""Mapping: how a mapped task becomes one task run per item, and when.

The flow runner keeps one :class:`Node` per task run. When a mapped task's
upstream runs are done (or, for a chain of maps, as soon as their children
exist), :func:`expand` asks the task runner whether the parent can map
(``check_mapped_parent``), moves it to ``Mapped`` through the task runner's public
transition (``handle_state_change``, so its state handlers and events fire) and
creates its children, each wired to the child of its upstream with the same
index: that is what makes chained maps run depth-first. A mapped parent given
again (``task_states``) keeps its finished children.

An upstream that cannot be mapped over ends the parent Failed, with the reason.
"""

from __future__ import annotations

from typing import Any

from perfect_nb.core.edge import Edge
from perfect_nb.engine.signals import ENDRUN
from perfect_nb.engine.state import Failed, Mapped, Pending, State, Success

__all__ = ["Node", "expand"]


class Node:
    """One task run: a task, or one child of a mapped task."""

    __slots__ = (
        "task", "runner", "index", "parent", "state", "run_id", "waiting", "upstream",
        "done_deps", "ready_deps", "children", "remaining", "mapped", "complete",
    )

    def __init__(self, task: Any, runner: Any, state: State, index: int | None = None, parent: "Node | None" = None) -> None:
        self.task = task
        self.runner = runner
        self.state = state
        self.index = index
        self.parent = parent
        self.run_id: str | None = None
        self.waiting = 0
        self.upstream: list[tuple[Edge, Any]] = []
        self.done_deps: list[Node] = []
        self.ready_deps: list[Node] = []
        self.children: list[Node] | None = None
        self.remaining = 0
        self.mapped = False
        self.complete = False


def _flattened(state: State) -> list[State]:
    """One state per item of a flattened upstream. As in Prefect 1.4.1: a result that is not
    a list of lists is mapped over as it is; of a mapped upstream, a child whose result is
    not iterable, or that did not succeed, stands for one item (so that child's downstream
    fails when it failed)."""
    if type(state) is not Mapped:
        try:
            return [_item(item, state, f"{i}.{j}") for i, sub in enumerate(state.result) for j, item in enumerate(sub)]
        except TypeError:
            return _items(state)
    items: list[State] = []
    for child in state.map_states:
        if child.is_successful():
            try:
                items.extend(_item(item, child, j) for j, item in enumerate(child.result))
            except TypeError:
                items.append(child)
        else:
            items.append(child)
    return items


def _items(state: State) -> list[State]:
    """One state per item of an upstream result a task maps over."""
    return [_item(item, state, i) for i, item in enumerate(state.result)]


def _item(value: Any, source: State, index: Any) -> Success:
    """A Success for one item of ``source``'s result; it names its content after the source's
    (the notebook cache's id of the value), so a cache can key on it."""
    content = source.context.get("cache_content")
    return Success(result=value, context=None if content is None else {"cache_content": f"{content}[{index}]"})


def _cannot_map(name: str, state: State) -> str:
    """Prefect 1.4.1's message, then which task gave what and how to fix it."""
    return (f"At least one upstream state has an unmappable result: task {name!r} gave "
            f"{type(state.result).__name__}; map over a list or another iterable, or pass it with unmapped().")


class _Every:
    """A mapped edge whose upstream did not succeed: every child gets its state."""

    __slots__ = ("state",)

    def __init__(self, state: State) -> None:
        self.state = state

    def __getitem__(self, index: int) -> State:
        return self.state



def expand(run: Any, parent: Node) -> None:
    """Create the children of a mapped task (or end it without mapping); ``run`` is the
    flow run (its ``ready`` queue, ``_complete``, ``_release`` and ``_parent_emitter``)."""
    runner = parent.runner
    emit = run._parent_emitter(parent)
    complete_upstream = {e: p.state for e, p in parent.upstream if p.complete}
    final = runner.check_mapped_parent(parent.state, complete_upstream, emit)
    if final is None:
        unmappable, items = _mapped_items(parent)
        if unmappable is not None:  # a failure found here: a transition like any other
            final = _transition(runner, parent.state, unmappable, emit)
    if final is not None:
        parent.state = final
        run._complete(parent)
        return
    n = min((len(v) for v in items.values() if type(v) is not _Every), default=0)
    previous = parent.state.map_states if type(parent.state) is Mapped else []
    mapped_state = Mapped("Ready to proceed with mapping.", map_states=[None] * n)
    parent.state = _transition(runner, parent.state, mapped_state, emit)
    if parent.state is not mapped_state:  # a state handler replaced it: no children
        run._complete(parent)
        return
    parent.children = [_child(parent, i, items, previous) for i in range(n)]
    parent.remaining = n
    run._release(parent.ready_deps)
    run.ready.extendleft(reversed([c for c in parent.children if c.waiting == 0]))
    if n == 0:
        parent.state.result = []
        run._complete(parent)


def _transition(runner: Any, old: State, new: State, emit: Any) -> State:
    try:
        return runner.handle_state_change(old, new, emit)
    except ENDRUN as end:  # a state handler raised
        return end.state


def _mapped_items(parent: Node) -> tuple[State | None, dict]:
    """Per mapped edge, the child-level providers (nodes or states), or why it cannot map."""
    if not any(up.state.is_successful() for edge, up in parent.upstream if edge.mapped):
        return Failed("No upstream states can be mapped over.", result=None), {}
    items: dict[Edge, Any] = {}
    for edge, up in parent.upstream:
        if not edge.mapped:
            continue
        if up.children is not None and not edge.flattened:
            items[edge] = up.children
            continue
        state = up.state
        if not state.is_successful():  # another mapped upstream succeeded: each child sees this one
            items[edge] = _Every(state)
            continue
        if type(state) is Mapped and not edge.flattened:
            items[edge] = state.map_states
            continue
        try:
            items[edge] = _flattened(state) if edge.flattened else _items(state)
        except TypeError:
            return Failed(_cannot_map(up.task.name, state), result=None), {}
    return None, items


def _child(parent: Node, i: int, items: dict, previous: list) -> Node:
    initial = previous[i] if i < len(previous) and previous[i] is not None else Pending()
    child = Node(parent.task, parent.runner, initial, index=i, parent=parent)
    for edge, up in parent.upstream:
        provider = items[edge][i] if edge.mapped else up
        child.upstream.append((edge, provider))
        if type(provider) is Node and not provider.complete:
            provider.done_deps.append(child)
            child.waiting += 1
    return child
