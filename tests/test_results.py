"""Results, serializers and targets.

Serializers round-trip values; LocalResult writes atomically (an interrupted
write leaves either nothing or the old file, and no temporary file); targets
in flows turn an existing file into Pending -> Cached without running, and a
corrupt file into a warning and a normal run.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import pathlib
import pickle
import stat

import pandas as pd
import pytest

from perfect_nb import Flow, Parameter, Task, task
from perfect_nb.engine import results as results_module
from perfect_nb.engine.results import (
    JSONSerializer, LocalResult, PandasSerializer, PickleSerializer, PrefectResult, Result, Serializer,
    template_fields,
)
from perfect_nb.engine.state import Cached, Failed, Success

RAN = [("Pending", "Running"), ("Running", "Success")]
HIT = [("Pending", "Cached")]
DAY = dt.datetime(2024, 3, 5, 12, 0, tzinfo=dt.timezone.utc)


pytestmark = pytest.mark.usefixtures("fresh_cache_for_caches")



def run(flow, checkpointing=True, **kwargs):
    """flow.run() with checkpointing on, as a Prefect 1 user writing results turns it on
    (PREFECT__FLOWS__CHECKPOINTING=true): these tests are about what gets written."""
    events: list = []
    context = {"checkpointing": checkpointing, **kwargs.pop("context", {})}
    state = flow.run(listeners=[events.append], context=context, **kwargs)
    return state, events


def transitions(events, t, index=None) -> list[tuple[str, str]]:
    return [(e.old_state.type, e.new_state.type) for e in events if e.task is t and e.map_index == index]


def files(folder) -> list[str]:
    """Every file under ``folder``, relative, sorted (temporary files included)."""
    root = pathlib.Path(folder)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def frame() -> pd.DataFrame:
    return pd.DataFrame({"n": [1, 2, 3], "name": ["a", "b", "c"], "x": [0.5, 1.5, -2.0]})


# --- serializers -------------------------------------------------------------

@pytest.mark.parametrize("value", [None, 1, "text", [1, {"a": (2, 3)}], {"nested": {"k": [1.5, None]}}, {1, 2}, b"\x00\xff"])
def test_pickle_round_trip(value):
    s = PickleSerializer()
    data = s.serialize(value)
    assert isinstance(data, bytes)
    assert s.deserialize(data) == value


def test_pickle_round_trips_a_lambda_and_a_local_class():
    offset = 10

    class Point:
        def __init__(self, x):
            self.x = x

    s = PickleSerializer()
    fn = s.deserialize(s.serialize(lambda v: v + offset))
    assert fn(1) == 11
    point = s.deserialize(s.serialize(Point(3)))
    assert point.x == 3 and type(point).__name__ == "Point"


@pytest.mark.parametrize("value", [None, True, 3, 2.5, "é ü", [1, "a"], {"a": {"b": [1, 2]}}])
def test_json_round_trip(value):
    s = JSONSerializer()
    data = s.serialize(value)
    assert json.loads(data.decode("utf-8")) == value
    assert s.deserialize(data) == value


def test_json_rejects_what_json_cannot_hold():
    with pytest.raises(TypeError):
        JSONSerializer().serialize({1, 2})


@pytest.mark.parametrize("file_type", ["parquet", "csv"])
def test_pandas_round_trip(file_type):
    s = PandasSerializer(file_type)
    data = s.serialize(frame())
    assert isinstance(data, bytes) and data
    pd.testing.assert_frame_equal(s.deserialize(data), frame())


def test_pandas_csv_is_text_with_a_header_and_kwargs_pass_through():
    s = PandasSerializer("csv", serialize_kwargs={"sep": ";"}, deserialize_kwargs={"sep": ";"})
    data = s.serialize(frame())
    assert data.decode().splitlines()[0] == "n;name;x"
    pd.testing.assert_frame_equal(s.deserialize(data), frame())


def test_pandas_parquet_bytes_are_parquet():
    assert PandasSerializer("parquet").serialize(frame())[:4] == b"PAR1"


def test_pandas_serializer_checks_its_arguments():
    with pytest.raises(ValueError, match="'parquet' or 'csv'"):
        PandasSerializer("xlsx")
    with pytest.raises(TypeError, match="DataFrame"):
        PandasSerializer("csv").serialize([1, 2, 3])


def test_serializers_compare_by_type_and_options():
    assert PickleSerializer() == PickleSerializer()
    assert JSONSerializer() != PickleSerializer()
    assert PandasSerializer("csv") == PandasSerializer("csv")
    assert PandasSerializer("csv") != PandasSerializer("parquet")
    with pytest.raises(TypeError, match="abstract"):
        Serializer()


# --- template_fields ----------------------------------------------------------

@pytest.mark.parametrize("template, fields", [
    ("plain.pkl", set()),
    ("{task_name}-{today}.pkl", {"task_name", "today"}),
    ("{parameters[n]}/{x.attr}/{y!r}/{z:>4}", {"parameters", "x", "y", "z"}),
    ("{{literal}}-{a}", {"a"}),
])
def test_template_fields(template, fields):
    assert template_fields(template) == fields


# --- LocalResult -----------------------------------------------------------------

def test_local_result_write_read_exists_with_a_template(tmp_path):
    result = LocalResult(dir=tmp_path, location="{flow}/{name}.pkl")
    written = result.write({"v": 1}, flow="etl", name="load")
    path = tmp_path / "etl" / "load.pkl"
    assert written.location == str(path) and written.value == {"v": 1}
    assert pickle.loads(path.read_bytes()) == {"v": 1}
    assert result.location == "{flow}/{name}.pkl"  # the template itself is unchanged
    assert result.exists("etl/load.pkl") and result.exists(str(path))
    assert result.exists("{flow}/{name}.pkl", flow="etl", name="load")
    assert not result.exists("etl/other.pkl")
    read = result.read("etl/load.pkl")
    assert read.value == {"v": 1} and read.location == str(path)
    assert result.value is None  # reading returns a new Result


def test_local_result_absolute_location_ignores_dir(tmp_path):
    elsewhere = tmp_path / "elsewhere" / "x.json"
    result = LocalResult(dir=tmp_path / "dir", location=str(elsewhere), serializer=JSONSerializer())
    written = result.write([1, 2])
    assert written.location == str(elsewhere)
    assert json.loads(elsewhere.read_text()) == [1, 2]
    assert result.exists(str(elsewhere)) and result.read(str(elsewhere)).value == [1, 2]
    assert files(tmp_path / "dir") == []


def test_local_result_relative_dir_is_fixed_at_construction(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = LocalResult(dir="results", location="a.pkl")
    monkeypatch.chdir(tmp_path.parent)
    written = result.write(5)
    assert written.location == str(tmp_path / "results" / "a.pkl")
    assert result.read("a.pkl").value == 5


def test_local_result_callable_location(tmp_path):
    result = LocalResult(dir=tmp_path, location=lambda **kw: f"{kw.get('name', 'default')}.pkl")
    assert result.write(1, name="given").location == str(tmp_path / "given.pkl")
    assert result.write(2).location == str(tmp_path / "default.pkl")


def test_local_result_without_location_writes_a_fresh_file(tmp_path):
    result = LocalResult(dir=tmp_path)
    first, second = result.write(1), result.write(2)
    assert first.location != second.location
    assert result.read(first.location).value == 1 and result.read(second.location).value == 2
    assert len(files(tmp_path)) == 2


def test_local_result_dir_must_be_usable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ValueError, match="Pass a writable folder"):
        LocalResult(dir=blocker / "sub")


def test_local_result_files_respect_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        written = LocalResult(dir=tmp_path, location="x.pkl").write(1)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(written.location).st_mode) == 0o644


# --- atomic writes -------------------------------------------------------------------

class Boom(Exception):
    pass


def test_interrupted_rename_leaves_no_file_and_no_temp(tmp_path, monkeypatch):
    result = LocalResult(dir=tmp_path, location="out.pkl")

    def replace(src, dst):
        assert pathlib.Path(src).read_bytes()  # the data had been written to a temporary file
        raise Boom("power cut")

    monkeypatch.setattr(results_module.os, "replace", replace)
    with pytest.raises(Boom):
        result.write(list(range(1000)))
    assert files(tmp_path) == []


@pytest.mark.parametrize("where", ["serialize", "write", "fsync", "replace"])
def test_interrupted_write_keeps_the_old_file_intact(tmp_path, monkeypatch, where):
    result = LocalResult(dir=tmp_path, location="out.pkl")
    result.write("old value")
    before = (tmp_path / "out.pkl").read_bytes()

    if where == "serialize":
        monkeypatch.setattr(PickleSerializer, "serialize", lambda self, v: (_ for _ in ()).throw(Boom()))
    elif where == "write":
        class Half(PickleSerializer):
            def serialize(self, value):
                return b"partial" + super().serialize(value)
        real_fdopen = os.fdopen

        def fdopen(fd, mode="r", *a, **kw):
            handle = real_fdopen(fd, mode, *a, **kw)
            real_write = handle.write

            class Writer:
                def __enter__(self):
                    return self

                def __exit__(self, *exc):
                    handle.close()

                def write(self, data):
                    real_write(data[:7])  # half the bytes reach the disk, then the process dies
                    raise KeyboardInterrupt

                def __getattr__(self, name):
                    return getattr(handle, name)
            return Writer()

        result.serializer = Half()
        monkeypatch.setattr(results_module.os, "fdopen", fdopen)
    elif where == "fsync":
        monkeypatch.setattr(results_module.os, "fsync", lambda fd: (_ for _ in ()).throw(Boom()))
    else:
        monkeypatch.setattr(results_module.os, "replace", lambda src, dst: (_ for _ in ()).throw(Boom()))

    with pytest.raises((Boom, KeyboardInterrupt)):
        result.write("new value")
    assert files(tmp_path) == ["out.pkl"]
    assert (tmp_path / "out.pkl").read_bytes() == before
    assert result.read("out.pkl").value == "old value"


def test_a_successful_write_replaces_the_old_file(tmp_path):
    result = LocalResult(dir=tmp_path, location="out.pkl")
    result.write("old")
    result.write("new")
    assert files(tmp_path) == ["out.pkl"] and result.read("out.pkl").value == "new"


# --- PrefectResult -------------------------------------------------------------------

@pytest.mark.parametrize("value", [None, 3, "s", [1, 2], {"a": {"b": [True, None]}}])
def test_prefect_result_round_trip(value):
    result = PrefectResult()
    written = result.write(value)
    assert json.loads(written.location) == value  # the value lives in the location
    assert written.value == value
    assert result.read(written.location).value == value
    assert result.exists(written.location)


def test_prefect_result_with_pickle_and_bad_locations():
    result = PrefectResult(serializer=PickleSerializer())
    written = result.write({1, 2})
    assert result.read(written.location).value == {1, 2}
    assert not PrefectResult().exists("{not json")
    assert not result.exists("!!! not base64 !!!")


def test_base_result_is_abstract_and_formats():
    r = Result(location="{a}-{b}.pkl")
    assert r.format(a=1, b=2).location == "1-2.pkl" and r.location == "{a}-{b}.pkl"
    with pytest.raises(TypeError, match="use LocalResult"):
        r.write(1)
    assert repr(r) == "<Result: None>"  # Prefect 1.4.1 shows the value, not the location


# --- targets in flows -----------------------------------------------------------------

def test_target_first_run_writes_then_hits_and_other_parameter_writes_another_file(tmp_path):
    calls = []

    @task(target="{task_name}-{x}.pkl", result=LocalResult(dir=tmp_path))
    def square(x):
        calls.append(x)
        return x * x

    with Flow("targets") as flow:
        x = Parameter("x")
        out = square(x)

    state, events = run(flow, parameters={"x": 3})
    assert transitions(events, out) == RAN
    final = state.result[out]
    assert type(final) is Success and final.result == 9
    assert final.context["result_location"] == str(tmp_path / "square-3.pkl")
    assert files(tmp_path) == ["square-3.pkl"]
    assert pickle.loads((tmp_path / "square-3.pkl").read_bytes()) == 9

    state, events = run(flow, parameters={"x": 3})
    assert transitions(events, out) == HIT and calls == [3]
    hit = state.result[out]
    assert type(hit) is Cached and hit.result == 9
    assert hit.message == "Result found at task target square-3.pkl"
    assert hit.context["result_location"] == str(tmp_path / "square-3.pkl")

    state, events = run(flow, parameters={"x": 4})
    assert transitions(events, out) == RAN and state.result[out].result == 16
    assert files(tmp_path) == ["square-3.pkl", "square-4.pkl"] and calls == [3, 4]


def test_downstream_of_a_target_hit_gets_the_stored_value(tmp_path):
    @task(target="data.json", result=LocalResult(dir=tmp_path, serializer=JSONSerializer()))
    def load():
        return {"rows": [1, 2]}

    @task
    def count(d):
        return len(d["rows"])

    with Flow("downstream") as flow:
        out = count(load())
    run(flow)
    (tmp_path / "data.json").write_text('{"rows": [1, 2, 3]}')  # the file is the source of truth
    assert run(flow)[0].result[out].result == 3


def test_callable_target_gets_context_parameters_and_inputs(tmp_path):
    seen = []

    def where(**kw):
        seen.append(kw)
        return pathlib.Path(kw["flow_name"]) / f"{kw['task_name']}-{kw['x']}-{kw['parameters']['x']}-{kw['today']}.pkl"

    calls = []

    @task(target=where, result=LocalResult(dir=tmp_path))
    def ident(x):
        calls.append(x)
        return x

    with Flow("callable") as flow:
        x = Parameter("x")
        out = ident(x)

    state, _ = run(flow, parameters={"x": 7}, context={"date": DAY})
    assert files(tmp_path) == ["callable/ident-7-7-2024-03-05.pkl"]
    assert state.result[out].context["result_location"] == str(tmp_path / "callable/ident-7-7-2024-03-05.pkl")
    assert seen[0]["map_index"] is None and seen[0]["flow_name"] == "callable"
    _, events = run(flow, parameters={"x": 7}, context={"date": DAY})
    assert transitions(events, out) == HIT and calls == [7]


def test_target_with_a_flow_level_result(tmp_path):
    calls = []

    @task(target="{task_name}.pkl")
    def make():
        calls.append(1)
        return "made"

    with Flow("flow-result", result=LocalResult(dir=tmp_path)) as flow:
        out = make()

    run(flow)
    assert files(tmp_path) == ["make.pkl"]
    state, events = run(flow)
    assert transitions(events, out) == HIT and state.result[out].result == "made" and calls == [1]


def test_checkpoint_false_with_a_result_does_not_write(tmp_path):
    calls = []

    @task(checkpoint=False, result=LocalResult(dir=tmp_path, location="{task_name}.pkl"))
    def volatile():
        calls.append(1)
        return 1

    with Flow("no-checkpoint") as flow:
        out = volatile()
    for _ in range(2):
        state, events = run(flow)
        assert transitions(events, out) == RAN
        assert "result_location" not in state.result[out].context
    assert files(tmp_path) == [] and calls == [1, 1]


def test_checkpoint_writes_but_a_result_location_is_not_a_target(tmp_path):
    calls = []

    @task(result=LocalResult(dir=tmp_path, location="{task_name}-{flow_name}.pkl"))
    def kept():
        calls.append(1)
        return "v"

    with Flow("checkpointed") as flow:
        out = kept()
    for _ in range(2):
        state, events = run(flow)
        assert transitions(events, out) == RAN
    assert files(tmp_path) == ["kept-checkpointed.pkl"] and calls == [1, 1]
    assert state.result[out].context["result_location"] == str(tmp_path / "kept-checkpointed.pkl")


def test_flow_result_checkpoints_every_task_that_does_not_opt_out(tmp_path):
    @task
    def a():
        return 1

    @task(checkpoint=False)
    def b():
        return 2

    with Flow("all", result=LocalResult(dir=tmp_path, location="{task_name}.pkl")) as flow:
        a()
        b()
    run(flow)
    assert files(tmp_path) == ["a.pkl"]


def test_a_target_with_checkpoint_false_is_read_but_never_written(tmp_path):
    """Prefect 1.4.1, checkpointing on: a task with target= and checkpoint=False runs each
    time and writes nothing, but a file already at its target is read (Cached, not run)."""
    calls = []

    @task(target="t.pkl", checkpoint=False, result=LocalResult(dir=tmp_path))
    def t():
        calls.append(1)
        return 1

    with Flow("honoured") as flow:
        out = t()
    run(flow)
    _, events = run(flow)
    assert files(tmp_path) == [] and transitions(events, out) == RAN and calls == [1, 1]
    (tmp_path / "t.pkl").write_bytes(pickle.dumps("from the file"))
    state, events = run(flow)
    assert transitions(events, out) == HIT and state.result[out].result == "from the file" and calls == [1, 1]


@pytest.mark.parametrize("garbage", [b"", b"\x80\x04garbage", b"not a pickle at all", pickle.dumps(list(range(100)))[:20]])
def test_a_corrupt_target_file_is_a_miss_with_a_warning(tmp_path, perfect_nb_log, garbage):
    calls = []

    @task(target="{task_name}.pkl", result=LocalResult(dir=tmp_path))
    def rebuild():
        calls.append(1)
        return "fresh"

    with Flow("corrupt") as flow:
        out = rebuild()

    (tmp_path / "rebuild.pkl").write_bytes(garbage)
    state, events = run(flow)
    assert transitions(events, out) == RAN and state.result[out].result == "fresh" and calls == [1]
    warnings = [r.getMessage() for r in perfect_nb_log.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "could not be read" in warnings[0] and "rebuild.pkl" in warnings[0]
    assert pickle.loads((tmp_path / "rebuild.pkl").read_bytes()) == "fresh"  # repaired
    _, events = run(flow)
    assert transitions(events, out) == HIT and calls == [1]


def test_a_target_that_is_a_folder_is_a_miss_not_a_crash(tmp_path, perfect_nb_log):
    (tmp_path / "weird.pkl").mkdir()

    @task(target="weird.pkl", result=LocalResult(dir=tmp_path))
    def t():
        return 1

    with Flow("folder") as flow:
        out = t()
    state, events = run(flow)
    assert state.is_successful() and state.result[out].result == 1
    assert transitions(events, out) == RAN
    assert any("weird.pkl" in r.getMessage() for r in perfect_nb_log.records)


def test_a_target_too_long_for_the_filesystem_fails_the_task_not_the_run(tmp_path, perfect_nb_log):
    @task(target="{x}.pkl", result=LocalResult(dir=tmp_path))
    def t(x):
        return 1

    @task
    def other():
        return 2

    with Flow("long") as flow:
        out = t("a" * 1000)
        ok = other()
    state = flow.run()
    assert state.result[ok].result == 2
    assert state.result[out].result == 1  # ran; the result stays in memory
    assert any("a" * 50 in r.getMessage() for r in perfect_nb_log.records)


def test_unknown_template_key_fails_before_any_task_runs(tmp_path):
    calls = []

    @task
    def side_effect():
        calls.append(1)

    @task(target="{task_name}-{colour}.pkl", result=LocalResult(dir=tmp_path))
    def t(x):
        return x

    with Flow("unknown") as flow:
        side_effect()
        t(1)
    with pytest.raises(ValueError) as info:
        flow.run()
    message = str(info.value)
    assert "'colour'" in message and "'t'" in message
    assert calls == [] and files(tmp_path) == []


def test_template_may_name_a_keyword_of_a_kwargs_task(tmp_path):
    class Fetch(Task):
        def run(self, **kwargs):
            return kwargs["city"].upper()

    with Flow("kwargs") as flow:
        out = Fetch(target="{city}.pkl", result=LocalResult(dir=tmp_path))(city="oslo")
    assert run(flow)[0].result[out].result == "OSLO"
    assert files(tmp_path) == ["oslo.pkl"]


def test_unknown_parameter_in_template_fails_before_any_task_runs(tmp_path):
    calls = []

    @task
    def side_effect():
        calls.append(1)

    @task(target="{parameters[nope]}.pkl", result=LocalResult(dir=tmp_path))
    def t(n):
        return n

    with Flow("unknown-param") as flow:
        side_effect()
        t(Parameter("n", default=1))
    with pytest.raises(ValueError, match="nope"):
        flow.run()
    assert calls == []


def test_unknown_key_in_a_result_location_fails_before_any_task_runs(tmp_path):
    calls = []

    @task
    def side_effect():
        calls.append(1)

    with Flow("bad-location", result=LocalResult(dir=tmp_path, location="{task_name}-{nope}.pkl")) as flow:
        side_effect()
    with pytest.raises(ValueError, match="'nope'"):
        flow.run()
    assert calls == []


def test_target_without_a_result_says_how_to_fix_it():
    calls = []

    @task
    def side_effect():
        calls.append(1)

    @task(target="{task_name}.pkl")
    def t():
        return 1

    with Flow("no-result") as flow:
        side_effect()
        t()
    with pytest.raises(ValueError, match=r"result=LocalResult\(dir=\.\.\.\)"):
        flow.run()
    assert calls == []


def test_a_runtime_template_error_fails_only_that_task(tmp_path):
    @task(target="{x.missing}.pkl", result=LocalResult(dir=tmp_path))
    def t(x):
        return x

    @task
    def other():
        return 2

    with Flow("runtime") as flow:
        out = t(3)
        ok = other()
    state = flow.run()
    assert state.result[ok].result == 2
    failed = state.result[out]
    assert type(failed) is Failed and "{x.missing}.pkl" in failed.message and "'missing'" in failed.message


def test_today_template(tmp_path):
    @task(target="{today}/{yesterday_nodash}-{task_name}.pkl", result=LocalResult(dir=tmp_path))
    def daily():
        return "d"

    with Flow("daily") as flow:
        daily()
    run(flow, context={"date": DAY})
    assert files(tmp_path) == ["2024-03-05/20240304-daily.pkl"]


def test_today_defaults_to_now(tmp_path):
    @task(target="{today}.pkl", result=LocalResult(dir=tmp_path))
    def daily():
        return "d"

    with Flow("now") as flow:
        daily()
    before = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    run(flow)
    after = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    assert files(tmp_path) in (["%s.pkl" % before], ["%s.pkl" % after])


def test_map_index_template_gives_each_child_its_file(tmp_path):
    calls = []

    @task(target="{task_name}/{map_index}.json", result=LocalResult(dir=tmp_path, serializer=JSONSerializer()))
    def double(x):
        calls.append(x)
        return 2 * x

    with Flow("mapped") as flow:
        out = double.map([1, 2, 3])

    state, events = run(flow)
    assert state.result[out].result == [2, 4, 6]
    assert files(tmp_path) == ["double/0.json", "double/1.json", "double/2.json"]
    assert [json.loads((tmp_path / f"double/{i}.json").read_text()) for i in range(3)] == [2, 4, 6]
    assert [s.context["result_location"] for s in state.result[out].map_states] == [str(tmp_path / f"double/{i}.json") for i in range(3)]
    state, events = run(flow)
    assert [transitions(events, out, i) for i in range(3)] == [HIT] * 3
    assert state.result[out].result == [2, 4, 6] and calls == [1, 2, 3]


def test_mapped_target_naming_the_mapped_input_is_fine(tmp_path):
    @task(target="{x}.pkl", result=LocalResult(dir=tmp_path))
    def ident(x):
        return x

    with Flow("by-input") as flow:
        out = ident.map(["a", "b"])
    assert run(flow)[0].result[out].result == ["a", "b"]
    assert files(tmp_path) == ["a.pkl", "b.pkl"]


def test_mapped_target_that_would_share_one_file_is_rejected(tmp_path):
    # Every child would read the first child's file: a silent false hit.
    calls = []

    @task
    def side_effect():
        calls.append(1)

    @task(target="{task_name}.pkl", result=LocalResult(dir=tmp_path))
    def ident(x):
        return x

    with Flow("shared") as flow:
        side_effect()
        ident.map([1, 2])
    with pytest.raises(ValueError, match=r"\{map_index\}"):
        flow.run()
    assert calls == []


def test_parameters_template(tmp_path):
    @task(target="{parameters[n]}-{n}.pkl", result=LocalResult(dir=tmp_path))
    def use(n):
        return n

    with Flow("params") as flow:
        use(Parameter("n", default=5))
    run(flow)
    run(flow, parameters={"n": 6})
    assert files(tmp_path) == ["5-5.pkl", "6-6.pkl"]


def test_result_location_and_cache_for_together(tmp_path):
    calls = []

    @task(cache_for=dt.timedelta(minutes=1), result=LocalResult(dir=tmp_path, location="r.pkl"))
    def both():
        calls.append(1)
        return 1

    with Flow("both") as flow:
        out = both()
    state, events = run(flow)
    assert transitions(events, out) == RAN + [("Success", "Cached")]
    assert state.result[out].context["result_location"] == str(tmp_path / "r.pkl")
    state, events = run(flow)
    assert transitions(events, out) == HIT and calls == [1]


def test_pandas_target_round_trips_a_dataframe(tmp_path):
    @task(target="{task_name}.parquet", result=LocalResult(dir=tmp_path, serializer=PandasSerializer("parquet")))
    def table():
        return frame()

    with Flow("frames") as flow:
        out = table()
    run(flow)
    state, events = run(flow)
    assert transitions(events, out) == HIT
    pd.testing.assert_frame_equal(state.result[out].result, frame())


def test_a_failed_write_keeps_the_value_and_warns(tmp_path, perfect_nb_log, monkeypatch):
    @task(result=LocalResult(dir=tmp_path, location="x.json", serializer=JSONSerializer()))
    def not_json():
        return {1, 2}  # JSON cannot hold a set

    with Flow("write-fails") as flow:
        out = not_json()
    state = flow.run(context={"checkpointing": True})
    assert state.is_successful() and state.result[out].result == {1, 2}
    assert "result_location" not in state.result[out].context
    assert any("could not write" in r.getMessage() for r in perfect_nb_log.records)
    assert files(tmp_path) == []


@pytest.mark.timeout(30)
def test_a_target_that_is_a_fifo_is_a_miss_with_a_warning_never_a_hang(tmp_path, perfect_nb_log):
    os.mkfifo(tmp_path / "pipe.pkl")  # reading it would wait for a writer forever

    @task(target="pipe.pkl", result=LocalResult(dir=tmp_path))
    def t():
        return 1

    with Flow("fifo") as flow:
        out = t()
    state, events = run(flow)
    assert state.is_successful() and state.result[out].result == 1
    assert transitions(events, out) == RAN
    warnings = [r.getMessage() for r in perfect_nb_log.records if r.levelno == logging.WARNING]
    assert any("pipe.pkl" in w and "FIFO" in w and "running the task instead" in w for w in warnings), warnings


@pytest.mark.parametrize("template", ["{task_name", "{task_name}}-x.pkl", "out-{.pkl"])
def test_a_target_template_with_a_stray_brace_names_the_task_and_the_template(tmp_path, template):
    @task(target=template, result=LocalResult(dir=tmp_path))
    def braces():
        return 1

    with Flow("braces") as flow:
        braces()
    with pytest.raises(ValueError) as info:
        flow.run()
    message = str(info.value)
    assert message.startswith(f"Task 'braces': target {template!r} is not a valid template: ")
    assert "double a brace" in message
    assert flow.last_run is None  # nothing ran


def test_a_task_run_name_with_a_stray_brace_fails_its_task_naming_the_template():
    @task(task_run_name="row-{x")
    def named(x):
        return x

    with Flow("run name") as flow:
        out = named(1)
    state = flow.run()
    assert state.result[out].is_failed()
    assert state.result[out].message.startswith("Task 'named': task_run_name 'row-{x' is not a valid template: ")


def test_a_target_outside_its_result_folder_is_refused_with_a_warning_naming_task_and_path(tmp_path, perfect_nb_log):
    from perfect_nb import Flow, task

    folder = tmp_path / "results"

    @task(target="../escaped.pkl", result=LocalResult(dir=folder))
    def escape():
        return 1

    with Flow("escape") as flow:
        out = escape()
    state = flow.run().result[out]
    assert state.is_successful() and state.result == 1  # the result is kept in memory
    assert "result_location" not in state.context  # never a location that was not written
    assert not (tmp_path / "escaped.pkl").exists()
    assert "'escape'" in perfect_nb_log.text and "'../escaped.pkl'" in perfect_nb_log.text
    assert "outside the result folder" in perfect_nb_log.text


def test_a_target_that_cannot_be_written_is_a_warning_naming_task_and_path(tmp_path, perfect_nb_log):
    from perfect_nb import Flow, task

    (tmp_path / "taken.pkl").mkdir()  # a folder where the file should go

    @task(target="taken.pkl", result=LocalResult(dir=tmp_path))
    def blocked():
        return 2

    with Flow("blocked") as flow:
        out = blocked()
    state = flow.run(context={"checkpointing": True}).result[out]
    assert state.is_successful() and state.result == 2 and "result_location" not in state.context
    assert "Task 'blocked': could not write its result to 'taken.pkl'" in perfect_nb_log.text
    assert "kept in memory only" in perfect_nb_log.text
