"""The State tree (perfect_nb.engine.state): hierarchy, predicates, equality, defaults, pickling."""

from __future__ import annotations

import datetime as dt
import pickle

import pytest

from perfect_nb import context
from perfect_nb.engine import state as st
from perfect_nb.engine.state import (
    Cached, Cancelled, Cancelling, Failed, Finished, Looped, Mapped, MetaState, Paused,
    Pending, Queued, Resume, Retrying, Running, Scheduled, Skipped, State, Submitted,
    Success, TimedOut, TriggerFailed, ValidationFailed,
)

# Each state class and its one direct parent, as in Prefect 1.
PARENT = {
    Pending: State,
    Scheduled: Pending,
    Paused: Scheduled,
    Resume: Scheduled,
    Retrying: Scheduled,
    MetaState: State,
    Submitted: MetaState,
    Queued: MetaState,
    Running: State,
    Cancelling: Running,
    Finished: State,
    Success: Finished,
    Cached: Success,
    Mapped: Success,
    Skipped: Success,
    Looped: Finished,
    Cancelled: Finished,
    Failed: Finished,
    TimedOut: Failed,
    TriggerFailed: Failed,
    ValidationFailed: Failed,
}
ALL_STATES = [State, *PARENT]

# For each predicate, exactly the classes for which it is True.
PREDICATES = {
    "is_pending": {Pending, Scheduled, Paused, Resume, Retrying},
    "is_scheduled": {Scheduled, Paused, Resume, Retrying, Queued},
    "is_paused": {Paused},
    "is_retrying": {Retrying},
    "is_submitted": {Submitted},
    "is_queued": {Queued},
    "is_meta_state": {MetaState, Submitted, Queued},
    "is_running": {Running, Cancelling},
    "is_cancelling": {Cancelling},
    "is_finished": {Finished, Success, Cached, Mapped, Skipped, Looped, Cancelled, Failed, TimedOut, TriggerFailed, ValidationFailed},
    "is_successful": {Success, Cached, Mapped, Skipped},
    "is_cached": {Cached},
    "is_mapped": {Mapped},
    "is_skipped": {Skipped},
    "is_looped": {Looped},
    "is_cancelled": {Cancelled},
    "is_failed": {Failed, TimedOut, TriggerFailed, ValidationFailed},
    "is_timed_out": {TimedOut},
}


def _name(cls: type) -> str:
    return cls.__name__


# --- hierarchy ---------------------------------------------------------------
@pytest.mark.parametrize("cls, parent", PARENT.items(), ids=[c.__name__ for c in PARENT])
def test_each_state_has_its_prefect1_parent(cls, parent):
    assert cls.__bases__ == (parent,)


def test_module_exports_every_state_class():
    exported = {getattr(st, name) for name in st.__all__}
    assert set(ALL_STATES) <= exported


@pytest.mark.parametrize(
    "child, ancestor",
    [(Retrying, Pending), (Paused, Pending), (Cancelling, Running), (TimedOut, Finished), (Cached, Finished), (Queued, State)],
)
def test_grandchildren_are_subclasses(child, ancestor):
    assert issubclass(child, ancestor)


@pytest.mark.parametrize(
    "cls, not_ancestor",
    [(Skipped, Failed), (Looped, Success), (Cancelled, Failed), (Submitted, Pending), (Cancelling, Finished), (Paused, Finished)],
)
def test_unrelated_branches_are_not_subclasses(cls, not_ancestor):
    assert not issubclass(cls, not_ancestor)


# --- predicates ----------------------------------------------------------------
def test_predicate_table_covers_every_is_method():
    methods = {name for name in dir(State) if name.startswith("is_")}
    assert methods == set(PREDICATES)


@pytest.mark.parametrize("predicate", sorted(PREDICATES))
@pytest.mark.parametrize("cls", ALL_STATES, ids=_name)
def test_predicates(cls, predicate):
    assert getattr(cls(), predicate)() is (cls in PREDICATES[predicate])


# --- equality ------------------------------------------------------------------
ERROR = ValueError("boom")
WHEN = dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc)
EQUALITY = [
    ("same type and result", Success(result=1), Success(result=1), True),
    ("message ignored", Success(result=1, message="a"), Success(result=1, message="b"), True),
    ("context ignored", Success(result=1, context={"a": 1}), Success(result=1), True),
    ("different result", Success(result=1), Success(result=2), False),
    ("different type", Success(result=1), Failed(result=1), False),
    ("subclass is not equal to parent", Success(result=1), Cached(result=1), False),
    ("parent is not equal to subclass", Failed(), TriggerFailed(), False),
    ("same exception object", Failed(result=ERROR), Failed(result=ERROR), True),
    ("equal-looking but distinct exceptions", Failed(result=ValueError("x")), Failed(result=ValueError("x")), False),
    ("no result equals no result", Pending(), Pending(), True),
    ("None result equals default", Success(result=None), Success(), True),
    ("different cached inputs", Failed(cached_inputs={"x": 1}), Failed(), False),
    ("empty cached inputs equal none", Failed(cached_inputs={}), Failed(), True),
    ("start_time matters", Scheduled(start_time=WHEN), Scheduled(start_time=WHEN + dt.timedelta(1)), False),
    ("same start_time", Scheduled(start_time=WHEN, message="x"), Scheduled(start_time=WHEN), True),
    ("run_count matters", Retrying(run_count=1), Retrying(run_count=2), False),
    ("loop_count matters", Looped(loop_count=1), Looped(loop_count=2), False),
    # Prefect 1.4.1: Submitted(state=Failed()) == Submitted(state=Success()); Queued likewise at one start_time
    ("wrapped state does not matter", Submitted(state=Pending()), Submitted(state=Running()), True),
    ("nor for Queued", Queued(state=Pending(), start_time=WHEN), Queued(state=Running(), start_time=WHEN), True),
    ("same wrapped state", Queued(state=Pending(), start_time=WHEN), Queued(state=Pending(), start_time=WHEN), True),
    ("map_states compared child by child", Mapped(map_states=[Success(result=1)]), Mapped(map_states=[Success(result=2)]), False),
    ("equal map_states", Mapped(map_states=[Success(result=1)]), Mapped(map_states=[Success(result=1, message="m")]), True),
    ("cached_parameters matter", Cached(result=1, cached_parameters={"p": 1}), Cached(result=1, cached_parameters={"p": 2}), False),
    ("not equal to a non-state", Success(result=1), 1, False),
]


@pytest.mark.parametrize("a, b, equal", [row[1:] for row in EQUALITY], ids=[row[0] for row in EQUALITY])
def test_equality(a, b, equal):
    assert (a == b) is equal
    assert (b == a) is equal
    assert (a != b) is (not equal)


def test_results_that_refuse_to_compare_are_equal_only_when_identical():
    class Grumpy:
        def __eq__(self, other):
            raise TypeError("ambiguous truth value")

    value = Grumpy()
    assert Success(result=value) == Success(result=value)
    assert Success(result=value) != Success(result=Grumpy())


def test_states_hash_by_identity():
    a, b = Success(result=1), Success(result=1)
    assert a == b
    assert len({a, b}) == 2
    assert {a: "x"}[a] == "x"


# --- defaults and attributes -----------------------------------------------------
@pytest.mark.parametrize("cls", ALL_STATES, ids=_name)
def test_defaults(cls):
    state = cls()
    assert state.message is None
    assert state.result is None
    assert state.context == {}
    assert state.cached_inputs == {}  # Prefect 1.4.1: an empty dict
    assert state.type == cls.__name__


def test_context_dict_is_not_shared_between_states():
    a, b = Success(), Success()
    a.context["k"] = 1
    assert b.context == {}


def test_message_result_and_context_are_kept():
    state = Failed("it broke", result=ERROR, context={"k": 1}, cached_inputs={"x": 2})
    assert (state.message, state.result, state.context, state.cached_inputs) == ("it broke", ERROR, {"k": 1}, {"x": 2})
    assert state._result.value is ERROR
    assert state.load_result() is state


@pytest.mark.parametrize(
    "state, attribute, value",
    [
        (Paused(), "start_time", None),  # Prefect 1.4.1: None for Paused, now for Scheduled, Resume, Retrying, Queued
        (Retrying(), "run_count", 1),
        (Looped(), "loop_count", 1),
        (Submitted(), "state", None),
        (Mapped(), "map_states", []),
        (Cached(), "cached_parameters", None),
        (Cached(), "cached_result_expiration", None),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_subclass_field_defaults(state, attribute, value):
    assert getattr(state, attribute) == value


@pytest.mark.parametrize("cls", [Scheduled, Resume, Retrying, Queued])
def test_start_time_defaults_to_now(cls):
    """Prefect 1.4.1: Scheduled(), Resume(), Retrying() and Queued() start now (UTC); Paused() has None."""
    before = dt.datetime.now(dt.timezone.utc)
    assert before <= cls().start_time <= dt.datetime.now(dt.timezone.utc)


def test_counts_default_from_the_run_context():
    with context(task_run_count=3, task_loop_count=4):
        assert Retrying().run_count == 3
        assert Looped().loop_count == 4
        assert Retrying(run_count=7).run_count == 7


def test_mapped_counts_its_children():
    mapped = Mapped(map_states=(Success(), Failed()))
    assert mapped.n_map_states == 2
    assert isinstance(mapped.map_states, list)


@pytest.mark.parametrize(
    "state, text",
    [(Success(), "<Success>"), (Failed("no data"), '<Failed: "no data">'), (TriggerFailed("x"), '<TriggerFailed: "x">')],
)
def test_repr(state, text):
    assert repr(state) == text


# --- pickling ---------------------------------------------------------------------
def _example(cls: type) -> State:
    extra = {
        Scheduled: {"start_time": WHEN}, Paused: {"start_time": WHEN}, Resume: {"start_time": WHEN},
        Retrying: {"start_time": WHEN, "run_count": 2}, Looped: {"loop_count": 5},
        Submitted: {"state": Retrying(run_count=2)}, Queued: {"state": Pending(), "start_time": WHEN},
        MetaState: {"state": Pending()}, Mapped: {"map_states": [Success(result=1), Failed(result=2)]},
        Cached: {"cached_parameters": {"p": 1}, "cached_result_expiration": WHEN},
    }.get(cls, {})
    return cls(message=f"a {cls.__name__}", result={"value": [1, 2]}, context={"k": "v"}, **extra)


@pytest.mark.parametrize("cls", ALL_STATES, ids=_name)
def test_pickle_round_trip(cls):
    state = _example(cls)
    state._timestamp = 123.5
    copy = pickle.loads(pickle.dumps(state))
    assert type(copy) is cls
    assert copy == state
    assert copy is not state
    assert (copy.message, copy.context, copy._timestamp) == (state.message, state.context, 123.5)
    for field in ("start_time", "run_count", "loop_count", "state", "map_states", "cached_parameters", "cached_result_expiration"):
        assert getattr(copy, field, None) == getattr(state, field, None)


def test_no_result_marker_survives_pickling_as_the_same_object():
    """Prefect 1.4.1: NoResult is a truthy NoResultType whose repr is '<NoResultType: None>'."""
    assert pickle.loads(pickle.dumps(st.NoResult)) is st.NoResult
    assert st.NoResult and st.NoResult.value is None
    assert repr(st.NoResult) == "<NoResultType: None>"
