"""Edges: one upstream task feeding (or only preceding) one downstream task.

>>> from perfect_nb import Task
>>> a, b = Task(name="a"), Task(name="b")
>>> Edge(a, b, key="x")
<Edge: a to b (key=x)>
"""

from __future__ import annotations

from typing import Any

__all__ = ["Edge", "EdgeAnnotation", "flatten", "mapped", "unmapped"]


class Edge:
    """``upstream_task`` runs before ``downstream_task``; with a ``key`` its result
    is passed as that keyword argument. ``mapped`` edges feed one item per
    mapped child; ``flattened`` edges flatten a list of lists first."""

    __slots__ = ("upstream_task", "downstream_task", "key", "mapped", "flattened", "_hash")

    def __init__(self, upstream_task, downstream_task, key: str | None = None, mapped: bool = False, flattened: bool = False) -> None:
        if key is not None and not isinstance(key, str):
            raise TypeError(f"An edge key must be a string (an argument name), got {key!r}.")
        self.upstream_task = upstream_task
        self.downstream_task = downstream_task
        self.key = key
        self.mapped = mapped
        self.flattened = flattened
        self._hash = hash((id(upstream_task), id(downstream_task), key, mapped, flattened))

    @property
    def tasks(self) -> set:
        return {self.upstream_task, self.downstream_task}

    def _tuple(self) -> tuple:
        return (id(self.upstream_task), id(self.downstream_task), self.key, self.mapped, self.flattened)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Edge) and self._tuple() == other._tuple()

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        extra = [f"key={self.key}"] if self.key else []
        extra += ["mapped"] if self.mapped else []
        extra += ["flattened"] if self.flattened else []
        tail = f" ({', '.join(extra)})" if extra else ""
        return f"<Edge: {self.upstream_task.name} to {self.downstream_task.name}{tail}>"

    def __getstate__(self):
        return {s: getattr(self, s) for s in self.__slots__ if s != "_hash"}

    def __setstate__(self, data):
        self.__init__(**data)


class EdgeAnnotation:
    """Marks an argument: ``unmapped(x)``, ``mapped(x)`` or ``flatten(x)``."""

    __slots__ = ("value", "annotations")

    def __init__(self, value: Any, **annotations: bool) -> None:
        if isinstance(value, EdgeAnnotation):
            annotations = {**value.annotations, **annotations}
            value = value.value
        self.value = value
        self.annotations = annotations

    def __repr__(self) -> str:
        flags = ",".join(k for k, v in self.annotations.items() if v)
        return f"<{flags}: {self.value!r}>"


def unmapped(value: Any) -> EdgeAnnotation:
    """Pass ``value`` whole to every mapped child instead of mapping over it."""
    return EdgeAnnotation(value, mapped=False)


def mapped(value: Any) -> EdgeAnnotation:
    """Map over ``value`` even in a plain call."""
    return EdgeAnnotation(value, mapped=True)


def flatten(value: Any) -> EdgeAnnotation:
    """Flatten a list of lists by one level before mapping over it."""
    return EdgeAnnotation(value, flattened=True)
