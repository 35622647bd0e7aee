"""``engine.result`` / ``engine.results`` and how a state holds its result, as Prefect 1.4.1 does.

Every expected value below was read off Prefect 1.4.1 (bench/.prefect1-venv) running the
same calls; each test's docstring says what 1.4.1 gave.
"""

from __future__ import annotations

import pickle

import pytest

from perfect_nb import Flow, task
from perfect_nb.engine import signals
from perfect_nb.engine import state as st
from perfect_nb.engine.result import NoResult, NoResultType, Result
from perfect_nb.engine.results import ConstantResult, LocalResult, PrefectResult
from perfect_nb.utilities.configuration import set_temporary_config


# --- Result and NoResult --------------------------------------------------------------------

def test_no_result():
    """1.4.1: repr(NoResult) == '<NoResultType: None>'; it is truthy, its value is None;
    NoResultType() == NoResult (a different object); NoResult != Result(None) both ways."""
    assert repr(NoResult) == str(NoResult) == "<NoResultType: None>"
    assert NoResult and NoResult.value is None and isinstance(NoResult, Result)
    assert NoResultType() == NoResult and NoResultType() is not NoResult
    assert NoResult != Result(None) and Result(None) != NoResult
    assert pickle.loads(pickle.dumps(NoResult)) == NoResult


def test_result_holds_a_value():
    """1.4.1: repr(Result(3)) == '<Result: 3>', Result(3) == Result(3) != Result(4); from_value(4)
    is a <Result: 4>; Result(location='{x}.txt').format(x=1).location == '1.txt'; copy() equals."""
    assert repr(Result(3)) == "<Result: 3>" and Result(3).value == 3 and Result(3).location is None
    assert Result(3) == Result(3) and Result(3) != Result(4)
    assert repr(Result().from_value(4)) == "<Result: 4>" and type(Result().from_value(4)) is Result
    assert Result(location="{x}.txt").format(x=1).location == "1.txt"
    assert Result(1).copy() == Result(1)


@pytest.mark.parametrize("method, args", [("read", ("x",)), ("write", (2,)), ("exists", ("x",))])
def test_the_base_result_stores_nothing(method, args):
    """1.4.1: Result().read / write / exists raise ResultNotImplementedError, a NotImplementedError."""
    with pytest.raises(NotImplementedError):
        getattr(Result(1), method)(*args)


def test_storage_results_show_their_value(tmp_path):
    """1.4.1: repr(LocalResult(dir=...)) == '<LocalResult: None>', PrefectResult() is
    '<PrefectResult: None>', ConstantResult(value=5) is '<ConstantResult: 5>'; a written
    LocalResult is '<LocalResult: 11>' with an absolute location."""
    local = LocalResult(dir=str(tmp_path), location="v.pkl")
    assert repr(local) == "<LocalResult: None>" and repr(PrefectResult()) == "<PrefectResult: None>"
    assert repr(ConstantResult(value=5)) == "<ConstantResult: 5>"
    written = local.write(11)
    assert repr(written) == "<LocalResult: 11>" and written.location == str(tmp_path / "v.pkl")


def test_constant_result():
    """1.4.1: ConstantResult(value=5).read('x') is a <ConstantResult: 5> (value 5), exists('x') is
    True, write(6) raises ValueError('Cannot write values to `ConstantResult` types.')."""
    constant = ConstantResult(value=5)
    assert constant.read("x").value == 5 and constant.exists("x") is True
    with pytest.raises(ValueError, match="Cannot write values to `ConstantResult` types"):
        constant.write(6)


# --- a state's result holder ----------------------------------------------------------------------

@pytest.mark.parametrize("cls", [st.Pending, st.Scheduled, st.Running, st.Success, st.Failed, st.Retrying, st.Mapped, st.Cached, st.Skipped, st.Submitted])
def test_a_new_state_holds_no_result(cls):
    """1.4.1: every state class built with no arguments has result None, _result
    <NoResultType: None>, message None, context {} and cached_inputs {}; none has a timestamp."""
    state = cls()
    assert state.result is None and state._result == NoResult and repr(state._result) == "<NoResultType: None>"
    assert state.message is None and state.context == {} and state.cached_inputs == {}
    assert not hasattr(state, "timestamp")


def test_the_result_holder_and_its_value(tmp_path):
    """1.4.1: Success(result=5)._result is <Result: 5>; setting result = 7 gives <Result: 7> (a plain
    Result even when the holder was a LocalResult); Success(result=None)._result is NoResult,
    but setting result = None holds <Result: None>; Success(result=Result(9)).result == 9;
    state._result = NoResult makes result None."""
    state = st.Success(result=5)
    assert type(state._result) is Result and state._result.value == 5 and state._result is state._result
    state = st.Success(result=LocalResult(dir=str(tmp_path), location="x"))
    state.result = 7
    assert type(state._result) is Result and state._result.location is None and state.result == 7
    assert st.Success(result=None)._result == NoResult
    state = st.Success(result=4)
    state.result = None
    assert type(state._result) is Result and state._result == Result(None)
    assert st.Success(result=Result(9)).result == 9
    state._result = NoResult
    assert state.result is None


def test_load_result_reads_a_location(tmp_path):
    """1.4.1: a Success holding LocalResult(location=written, value None) reads 11 on load_result()
    and returns itself; one holding Result(location=...) reads through load_result(LocalResult(dir))
    and then holds a LocalResult; a state that holds a value (7) or a plain one (5) keeps it."""
    written = LocalResult(dir=str(tmp_path), location="v.pkl").write(11)
    state = st.Success(result=LocalResult(dir=str(tmp_path), location=written.location))
    assert state.result is None and state.load_result() is state and state.result == 11
    state = st.Success(result=Result(location=written.location))
    state.load_result(LocalResult(dir=str(tmp_path)))
    assert state.result == 11 and type(state._result) is LocalResult and state._result.location == written.location
    assert st.Success(result=Result(7, location="nowhere")).load_result(LocalResult(dir=str(tmp_path))).result == 7
    assert st.Success(result=5).load_result(LocalResult(dir=str(tmp_path))).result == 5


def test_load_cached_results(tmp_path):
    """1.4.1: Failed(cached_inputs={'x': Result(location=written), 'y': Result(3)})
    .load_cached_results({'x': LocalResult(dir)}) returns itself with x a LocalResult (11) and
    y a Result (3); a LocalResult input reads itself with no argument; cached_inputs=None gives {}."""
    written = LocalResult(dir=str(tmp_path), location="v.pkl").write(11)
    failed = st.Failed(cached_inputs={"x": Result(location=written.location), "y": Result(3)})
    assert failed.load_cached_results({"x": LocalResult(dir=str(tmp_path))}) is failed
    assert {k: (type(v).__name__, v.value) for k, v in failed.cached_inputs.items()} == {"x": ("LocalResult", 11), "y": ("Result", 3)}
    failed = st.Failed(cached_inputs={"x": LocalResult(dir=str(tmp_path), location=written.location)})
    assert failed.load_cached_results().cached_inputs["x"].value == 11
    assert st.Failed(cached_inputs=None).load_cached_results().cached_inputs == {}


# --- state classes ----------------------------------------------------------------------------------

COLORS_141 = {
    "State": "#696969", "Pending": "#7ebdff", "Scheduled": "#ffab00", "Paused": "#99a8e8", "Resume": "#f58c0c",
    "Retrying": "#f66a0a", "Submitted": "#ffdf5d", "Queued": "#ffea7f", "Running": "#3d67ff", "Cancelling": "#E8E8E8",
    "Finished": "#003ccb", "Looped": "#003ccb", "Success": "#28a745", "Cached": "#34d058", "Mapped": "#003ccb",
    "Skipped": "#62757f", "Cancelled": "#bdbdbd", "Failed": "#eb0000", "TimedOut": "#ff4e33",
    "TriggerFailed": "#ff5131", "ValidationFailed": "#ff5131",
}


def test_state_colors_are_prefect_1s():
    """1.4.1: each state class's ``color`` (read from every class in State.children())."""
    assert {name: getattr(st, name).color for name in COLORS_141} == COLORS_141


def test_parents_and_children():
    """1.4.1: Success.parents() == [Finished, State]; Skipped.parents() == [Success, Finished, State];
    Submitted.parents() == [State] (the meta-state base is not listed); State.parents() == [];
    Success.children() == [Cached, Mapped, Skipped], and a user subclass appears after them;
    Pending.children() == [Scheduled, Paused, Resume, Retrying]."""
    assert st.Success.parents() == [st.Finished, st.State]
    assert st.Skipped.parents() == [st.Success, st.Finished, st.State]
    assert st.Submitted.parents() == [st.State] and st.State.parents() == []
    assert st.Pending.children() == [st.Scheduled, st.Paused, st.Resume, st.Retrying]
    assert st.Success.children() == [st.Cached, st.Mapped, st.Skipped]

    class Mine(st.Success):
        __slots__ = ()

    assert st.Success.children() == [st.Cached, st.Mapped, st.Skipped, Mine]
    assert st.MetaState not in st.State.children() and st.Queued in st.State.children()


def test_extra_attributes_of_mapped_and_cached():
    """1.4.1: Mapped(n_map_states=3).n_map_states == 3 (also with one map state given),
    Mapped().n_map_states == 0; Cached().hashed_inputs is None."""
    assert st.Mapped(n_map_states=3).n_map_states == 3
    assert st.Mapped(map_states=[st.Success()], n_map_states=3).n_map_states == 3
    assert st.Mapped().n_map_states == 0 and st.Mapped(map_states=[st.Success()]).n_map_states == 1
    assert st.Cached().hashed_inputs is None


# --- in a flow run ---------------------------------------------------------------------------------

def test_task_states_hold_results_as_in_prefect_1():
    """1.4.1: a task returning 3 ends <Success> holding <Result: 3>; one raising ValueError holds
    <Result: ValueError('x')>; a raised SKIP('nope') is the Skipped state's result (a Result);
    the task after it is Skipped holding NoResult; the flow state's _result is a Result of the dict."""
    @task
    def plain():
        return 3

    @task
    def boom():
        raise ValueError("x")

    @task
    def skipper():
        raise signals.SKIP("nope")

    @task
    def down(x):
        return x

    with Flow("held") as flow:
        p, b, s = plain(), boom(), skipper()
        d = down(s)
    state = flow.run()
    assert type(state.result[p]._result) is Result and state.result[p]._result.value == 3
    assert isinstance(state.result[b]._result.value, ValueError)
    assert isinstance(state.result[s].result, signals.SKIP) and type(state.result[s]._result) is Result
    assert type(state.result[d]) is st.Skipped and state.result[d]._result == NoResult
    assert type(state._result) is Result and isinstance(state._result.value, dict)


def test_a_checkpointed_task_holds_its_local_result(tmp_path):
    """1.4.1 with flows.checkpointing on: a task with result=LocalResult(dir, location='sq-{x}.pkl')
    holds <LocalResult: 9> whose location is dir/sq-3.pkl; a task found at its target on the
    second run is <Cached: "Result found at task target t-3.pkl"> holding <LocalResult: 4>
    (1.4.1's location is the target as written, 't-3.pkl'; here it is the absolute path)."""
    @task(result=LocalResult(dir=str(tmp_path), location="sq-{x}.pkl"))
    def sq(x):
        return x * x

    @task(target="t-{x}.pkl", checkpoint=True, result=LocalResult(dir=str(tmp_path)))
    def tg(x):
        return x + 1

    with set_temporary_config({"flows.checkpointing": True}):
        with Flow("c") as flow:
            a, b = sq(3), tg(3)
        first = flow.run()
        second = flow.run()
    held = first.result[a]._result
    assert type(held) is LocalResult and held.value == 9 and held.location == str(tmp_path / "sq-3.pkl")
    hit = second.result[b]
    assert type(hit) is st.Cached and hit.message == "Result found at task target t-3.pkl"
    assert type(hit._result) is LocalResult and hit.result == 4 and hit._result.location == str(tmp_path / "t-3.pkl")


# --- serialize / deserialize -----------------------------------------------------------------------

def test_serialize_writes_what_a_state_is_not_its_value(tmp_path):
    """1.4.1: Success('ok', result=3).serialize() == {'context': {}, 'message': 'ok', '_result':
    {'location': None, '__version__': ..., 'type': 'Result'}, 'cached_inputs': {}, '__version__': ...,
    'type': 'Success'}; a Retrying adds start_time (ISO) and run_count and holds NoResultType; a
    Mapped has n_map_states and no _result; a LocalResult adds its dir and location."""
    data = st.Success("ok", result=3).serialize()
    version = data.pop("__version__")
    assert data == {"context": {}, "message": "ok", "_result": {"location": None, "__version__": version, "type": "Result"},
                    "cached_inputs": {}, "type": "Success"}
    retry = st.Retrying("r", run_count=2).serialize()
    assert retry["run_count"] == 2 and retry["_result"]["type"] == "NoResultType" and isinstance(retry["start_time"], str)
    mapped = st.Mapped("m", map_states=[st.Success()]).serialize()
    assert mapped["n_map_states"] == 1 and "_result" not in mapped
    local = st.Success("s", result=LocalResult(dir=str(tmp_path), location=str(tmp_path / "x.pkl"))).serialize()["_result"]
    assert (local["type"], local["dir"], local["location"]) == ("LocalResult", str(tmp_path), str(tmp_path / "x.pkl"))
    assert st.Paused("p").serialize()["start_time"] is None


def test_deserialize_gives_a_state_holding_the_location():
    """1.4.1: State.deserialize(Success('ok', result=3).serialize()) is <Success: "ok"> holding
    <Result: None>; a Queued's inner state comes back (<Pending: "p">); a Retrying keeps its
    run_count; cached inputs come back as Results with their location."""
    back = st.State.deserialize(st.Success("ok", result=3).serialize())
    assert type(back) is st.Success and back.message == "ok" and repr(back._result) == "<Result: None>" and back.result is None
    queued = st.State.deserialize(st.Queued("q", state=st.Pending("p")).serialize())
    assert type(queued.state) is st.Pending and queued.state.message == "p"
    assert st.State.deserialize(st.Retrying("r", run_count=2).serialize()).run_count == 2
    cached = st.State.deserialize(st.Cached("c", cached_inputs={"x": Result(1, location="L")}).serialize())
    assert type(cached.cached_inputs["x"]) is Result and cached.cached_inputs["x"].location == "L"


def test_a_task_with_a_result_holds_its_value_in_a_copy_of_it(tmp_path):
    """1.4.1 with checkpointing off: a task with result=LocalResult(dir, location='a.pkl') ends
    holding <LocalResult: 1> with location None (nothing written); a task without one, in a flow
    with result=LocalResult(dir), holds <LocalResult: 2>; the folder stays empty."""
    @task(result=LocalResult(dir=str(tmp_path), location="a.pkl"))
    def a():
        return 1

    @task
    def b():
        return 2

    with Flow("x", result=LocalResult(dir=str(tmp_path))) as flow:
        x, y = a(), b()
    state = flow.run()
    for t, value in ((x, 1), (y, 2)):
        held = state.result[t]._result
        assert type(held) is LocalResult and held.value == value and held.location is None
    assert list(tmp_path.iterdir()) == []


def test_task_states_carry_the_task_tags_in_their_context():
    """1.4.1: a task tagged 'a' is seen by its state handler going to <Running> with context
    {'tags': ['a']} and to <Success> with {'tags': ['a']}; an untagged task's states have
    {'tags': []}; the flow's own state has an empty context."""
    seen = []

    @task(tags=["a"], state_handlers=[lambda t, old, new: seen.append((type(new), dict(new.context)))])
    def tagged():
        return 1

    @task
    def plain():
        return 2

    with Flow("tags") as flow:
        tagged()
        p = plain()
    state = flow.run()
    assert seen == [(st.Running, {"tags": ["a"]}), (st.Success, {"tags": ["a"]})]
    assert state.result[p].context == {"tags": []} and state.context == {}


def test_a_parameter_holds_its_value_in_a_prefect_result():
    """1.4.1: Parameter('p', default=[1, 2])'s state holds <PrefectResult: [1, 2]> with location
    None and a JSONSerializer (nothing written with checkpointing off)."""
    from perfect_nb import Parameter
    from perfect_nb.engine.serializers import JSONSerializer

    with Flow("p") as flow:
        p = Parameter("p", default=[1, 2])
        task(lambda x: x, name="show")(p)
    held = flow.run().result[p]._result
    assert type(held) is PrefectResult and held.value == [1, 2] and held.location is None
    assert isinstance(held.serializer, JSONSerializer)
