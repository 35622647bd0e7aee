"""Edges and argument annotations (perfect_nb.core.edge)."""

from __future__ import annotations

import pickle

import pytest

from perfect_nb import Task, flatten, mapped, unmapped
from perfect_nb.core.edge import Edge, EdgeAnnotation

A, B = Task(name="a"), Task(name="b")


@pytest.mark.parametrize(
    "one, other, equal",
    [
        (Edge(A, B), Edge(A, B), True),
        (Edge(A, B, key="x"), Edge(A, B, key="x"), True),
        (Edge(A, B, key="x"), Edge(A, B, key="y"), False),
        (Edge(A, B), Edge(B, A), False),
        (Edge(A, B, mapped=True), Edge(A, B), False),
        (Edge(A, B, flattened=True), Edge(A, B), False),
        (Edge(A, B), Edge(Task(name="a"), B), False),  # tasks compare by identity
    ],
)
def test_equality_and_hash(one, other, equal):
    assert (one == other) is equal
    assert (len({one, other}) == 1) is equal


def test_fields_and_tasks():
    edge = Edge(A, B, key="x", mapped=True, flattened=True)
    assert (edge.upstream_task, edge.downstream_task, edge.key, edge.mapped, edge.flattened) == (A, B, "x", True, True)
    assert edge.tasks == {A, B}


@pytest.mark.parametrize(
    "edge, text",
    [
        (Edge(A, B), "<Edge: a to b>"),
        (Edge(A, B, key="x"), "<Edge: a to b (key=x)>"),
        (Edge(A, B, key="x", mapped=True, flattened=True), "<Edge: a to b (key=x, mapped, flattened)>"),
    ],
)
def test_repr(edge, text):
    assert repr(edge) == text


def test_key_must_be_an_argument_name():
    with pytest.raises(TypeError, match="argument name"):
        Edge(A, B, key=1)


def test_pickle_round_trip_keeps_equality_among_copies():
    edge = Edge(A, B, key="x", mapped=True)
    up, down, copy = pickle.loads(pickle.dumps((A, B, edge)))
    assert copy == Edge(up, down, key="x", mapped=True)
    assert hash(copy) == hash(Edge(up, down, key="x", mapped=True))


@pytest.mark.parametrize(
    "annotation, flags",
    [
        (unmapped([1]), {"mapped": False}),
        (mapped([1]), {"mapped": True}),
        (flatten([[1]]), {"flattened": True}),
        (unmapped(flatten([[1]])), {"flattened": True, "mapped": False}),
        (flatten(mapped([[1]])), {"mapped": True, "flattened": True}),
    ],
)
def test_annotations_wrap_a_value_and_combine(annotation, flags):
    assert isinstance(annotation, EdgeAnnotation)
    assert annotation.annotations == flags
    assert not isinstance(annotation.value, EdgeAnnotation)
