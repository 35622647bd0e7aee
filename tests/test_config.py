"""perfect_nb.config, set_temporary_config and flows.checkpointing against Prefect 1.4.1.

Each test's docstring says what Prefect 1.4.1 does; that was run on 1.4.1 (bench/.prefect1-venv)
with the same code, ``prefect`` in place of ``perfect_nb``. What depends on the environment at
import runs in a new Python process, as a user's script would.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import pickle
import subprocess
import sys

import pytest

import perfect_nb
from perfect_nb import Flow, Parameter, config, context, task
from perfect_nb.configuration import Config
from perfect_nb.engine.results import LocalResult
from perfect_nb.engine.task_runner import TaskRunner
from perfect_nb.utilities.configuration import set_temporary_config


def in_new_python(code: str, home, **env: str):
    """Run ``code`` in a new interpreter with only these PERFECT_NB__/PREFECT__ variables; its last
    printed line, read as JSON."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PERFECT_NB__", "PREFECT__", "PERFECT_NB_LOGGING"))}
    out = subprocess.run([sys.executable, "-c", code], env={**clean, "PERFECT_NB_HOME": str(home), **env},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- the config object ---------------------------------------------------------------------------
def test_defaults_a_core_user_reads():
    """1.4.1: config.flows.checkpointing is False (a bool), flows.run_on_schedule True,
    logging.level "INFO", tasks.defaults max_retries 0, retry_delay None, timeout None;
    config.engine.executor.default_class names LocalExecutor."""
    assert config.flows.checkpointing is False and config.flows.run_on_schedule is True
    assert config.flows.eager_edge_validation is False
    assert config.logging.level == "INFO"
    assert dict(config.tasks.defaults) == {"max_retries": 0, "retry_delay": None, "timeout": None}
    assert config.engine.executor.default_class.endswith("executors.LocalExecutor")
    assert config.debug is False and config.home_dir == os.environ["PERFECT_NB_HOME"]


def test_attribute_and_item_access_and_a_missing_key():
    """1.4.1: prefect.config is a nested dict (a Box) read by attribute or item; config.get("nope")
    is None and config.nope raises an error that is an AttributeError (and a KeyError).
    prefect.context.config there is a copy made at import (`context.config is config` is False);
    here it is the config itself, so a change to perfect_nb.config reaches the runs."""
    assert isinstance(config, dict) and isinstance(config.flows, Config)
    assert config["flows"]["checkpointing"] is config.flows.checkpointing
    assert config.get("nope") is None
    with pytest.raises(AttributeError, match="no configuration key 'nope'"):
        config.nope
    assert perfect_nb.config is config and context.config is config


def test_environment_variables_are_typed_nested_and_case_insensitive(tmp_path):
    """1.4.1 with PREFECT__A__T1=True, PREFECT__A__T2=TRUE, PREFECT__A__N=None, PREFECT__A__I=007,
    PREFECT__A__F=1e3, PREFECT__A__D="{'x': 1}", PREFECT__A__E="", PREFECT__X__Y__Z=1.5,
    PREFECT__Flows__CheckPointing=true: t1 True, t2 True, n None, i '007' (text), f 1000.0,
    d {'x': 1}, e '', config.x.y.z 1.5 and flows.checkpointing True."""
    code = "import json, perfect_nb as p; c = p.config; print(json.dumps([dict(c.a), c.x.y.z, c.flows.checkpointing]))"
    env = {"PREFECT__A__T1": "True", "PREFECT__A__T2": "TRUE", "PREFECT__A__N": "None", "PREFECT__A__I": "007",
           "PREFECT__A__F": "1e3", "PREFECT__A__D": "{'x': 1}", "PREFECT__A__E": "", "PREFECT__X__Y__Z": "1.5",
           "PREFECT__Flows__CheckPointing": "true"}
    a, z, checkpointing = in_new_python(code, tmp_path, **env)
    assert a == {"t1": True, "t2": True, "n": None, "i": "007", "f": 1000.0, "d": {"x": 1}, "e": ""}
    assert z == 1.5 and checkpointing is True


def test_perfect_nb_variables_win_over_prefect_ones_and_over_the_file(tmp_path):
    """1.4.1 reads only PREFECT__ variables, which win over the user's config.toml. Here
    PERFECT_NB__ variables are read too and win over PREFECT__ ones."""
    (tmp_path / "config.toml").write_text("[flows]\ncheckpointing = true\nrun_on_schedule = false\n")
    code = "import json, perfect_nb as p; print(json.dumps([p.config.flows.checkpointing, p.config.flows.run_on_schedule]))"
    assert in_new_python(code, tmp_path) == [True, False]
    assert in_new_python(code, tmp_path, PREFECT__FLOWS__CHECKPOINTING="false") == [False, False]
    assert in_new_python(code, tmp_path, PREFECT__FLOWS__CHECKPOINTING="false", PERFECT_NB__FLOWS__CHECKPOINTING="true") == [True, False]


def test_the_user_file_with_references_and_environment_variables(tmp_path):
    """1.4.1 with a user config.toml holding [context] where = "${home_dir}/x", envref = "$MYVAR"
    (MYVAR=hello), [context.secrets] TOKEN, [tasks.defaults] max_retries = 2, retry_delay = 5:
    config.context.where is <home_dir>/x, envref "hello", context.secrets == {"TOKEN": "abc"},
    tasks.defaults.retry_delay timedelta(seconds=5), and task(fn) gets max_retries 2 and
    retry_delay 0:00:05."""
    (tmp_path / "config.toml").write_text(
        '[context]\nwhere = "${home_dir}/x"\nenvref = "$MYVAR"\nport = "${server.port}"\n'
        '[context.secrets]\nTOKEN = "abc"\n[tasks.defaults]\nmax_retries = 2\nretry_delay = 5\n'
    )
    code = (
        "import json, perfect_nb as p\n"
        "t = p.task(lambda: 1)\n"
        "c = p.config\n"
        "print(json.dumps([c.context.where, c.context.envref, c.context.port, dict(p.context.secrets),\n"
        "    c.tasks.defaults.retry_delay.total_seconds(), t.max_retries, t.retry_delay.total_seconds()]))\n"
    )
    got = in_new_python(code, tmp_path, MYVAR="hello")
    assert got == [f"{tmp_path}/x", "hello", 4200, {"TOKEN": "abc"}, 5.0, 2, 5.0]


def test_references_are_typed_nested_and_environment_variables_expand_only_by_name(tmp_path):
    """1.4.1 with a user config.toml where general.x = 1, nested.x = "${general.x}",
    x_interpolated = "${general.x} + 1", y = "${general.y} or bye", interpolation.value =
    "${general.nested.${interpolation.key}}" (key "x"), and "$HOME", "xxx$HOMExxx", "a $HOME b",
    "${HOME}/x", "$NOPE_NOT_SET": gives 1 (an int), "1 + 1", "hi or bye", 1, and "/root",
    "xxx$HOMExxx", "a /root b", "/root/x", "$NOPE_NOT_SET" (HOME=/root)."""
    (tmp_path / "config.toml").write_text(
        '[general]\nx = 1\ny = "hi"\n[general.nested]\nx = "${general.x}"\nx_interpolated = "${general.x} + 1"\n'
        'y = "${general.y} or bye"\n[interpolation]\nkey = "x"\nvalue = "${general.nested.${interpolation.key}}"\n'
        '[env_vars]\nplain = "$HOME"\nglued = "xxx$HOMExxx"\nspaced = "a $HOME b"\nbraced = "${HOME}/x"\nmissing = "$NOPE_NOT_SET"\n'
    )
    code = ("import json, perfect_nb as p; c = p.config\n"
            "print(json.dumps([c.general.nested.x, c.general.nested.x_interpolated, c.general.nested.y, c.interpolation.value, dict(c.env_vars)]))")
    got = in_new_python(code, tmp_path, HOME="/root")
    assert got == [1, "1 + 1", "hi or bye", 1, {"plain": "/root", "glued": "xxx$HOMExxx", "spaced": "a /root b",
                                               "braced": "/root/x", "missing": "$NOPE_NOT_SET"}]


def test_a_broken_user_file_warns_and_perfect_nb_still_imports(tmp_path):
    """1.4.1 with a user config.toml reading "[flows" fails to import (toml.decoder.TomlDecodeError).
    Here perfect_nb imports with a warning naming the file and saying to fix or delete it, and uses
    the defaults and the environment."""
    (tmp_path / "config.toml").write_text("[flows\ncheckpointing = true\n")
    code = "import json, warnings, perfect_nb as p; print(json.dumps(p.config.flows.checkpointing))"
    out = subprocess.run([sys.executable, "-W", "always", "-c", code], env={**os.environ, "PERFECT_NB_HOME": str(tmp_path)},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "false"
    assert "config.toml is not valid TOML" in out.stderr and "fix or delete it" in out.stderr


def test_prefect_server_and_cloud_variables_do_not_change_perfect_nbs_backend(tmp_path):
    """1.4.1 reads PREFECT__BACKEND=server and PREFECT__SERVER__HOST as its Server's settings.
    Here [backend] and [server] are perfect_nb's own (a different meaning), so these two are not
    read; PERFECT_NB__SERVER__PORT is."""
    code = "import json, perfect_nb as p; c = p.config; print(json.dumps([c.backend.kind, c.server.host, c.server.port]))"
    got = in_new_python(code, tmp_path, PREFECT__BACKEND="server", PREFECT__SERVER__HOST="http://localhost",
                        PERFECT_NB__SERVER__PORT="4300")
    assert got == ["none", "127.0.0.1", 4300]


def test_logging_level_from_the_configuration(tmp_path):
    """1.4.1 with PREFECT__LOGGING__LEVEL=DEBUG: the prefect logger's level is DEBUG."""
    code = "import json, logging, perfect_nb; print(json.dumps(logging.getLogger('perfect_nb').level))"
    assert in_new_python(code, tmp_path, PREFECT__LOGGING__LEVEL="DEBUG") == logging.DEBUG
    assert in_new_python(code, tmp_path, PERFECT_NB__LOGGING__LEVEL="ERROR") == logging.ERROR


# --- set_temporary_config ------------------------------------------------------------------------
def test_set_temporary_config_sets_dotted_keys_and_puts_everything_back():
    """1.4.1: inside set_temporary_config({"flows.checkpointing": True, "new.key.x": 5})
    config.flows.checkpointing is True (context.config's too) and config.new.key.x 5; after it,
    False and "new" not in config; a block left by an exception restores too. 1.4.1 puts back
    new section objects (`config.flows is flows` is False after the block); here the old ones are
    kept, so a reference to a section stays right."""
    flows = config.flows
    with set_temporary_config({"flows.checkpointing": True, "new.key.x": 5}) as c:
        assert c is config and config.flows.checkpointing is True and config.new.key.x == 5
        assert context.config.flows.checkpointing is True
    assert config.flows.checkpointing is False and "new" not in config
    assert config.flows is flows  # the same section object, so references to it stay right
    with pytest.raises(RuntimeError):
        with set_temporary_config({"logging.level": "DEBUG"}):
            raise RuntimeError("boom")
    assert config.logging.level == "INFO"


def test_set_temporary_config_reaches_the_backend_switch():
    """1.4.1 has no [backend] section (its `backend` is a string naming Server or Cloud). Here
    [backend] kind, which every flow.run() reads afresh, follows a set_temporary_config block."""
    from perfect_nb.configuration import get_value

    with set_temporary_config({"backend.kind": "server"}):
        assert get_value("backend", "kind") == "server"
    assert get_value("backend", "kind") == "none"


def test_task_defaults_from_config():
    """1.4.1: under set_temporary_config({"tasks.defaults.max_retries": 3, "tasks.defaults.retry_delay":
    timedelta(seconds=2)}) a new task has max_retries 3 and retry_delay 0:00:02; with only max_retries
    set, making a task raises ValueError (a retry_delay must be provided)."""
    with set_temporary_config({"tasks.defaults.max_retries": 3, "tasks.defaults.retry_delay": dt.timedelta(seconds=2)}):
        t = task(lambda: 1)
    assert (t.max_retries, t.retry_delay) == (3, dt.timedelta(seconds=2))
    assert task(lambda: 1).max_retries == 0
    with set_temporary_config({"tasks.defaults.max_retries": 3}):
        with pytest.raises(ValueError, match="from config tasks.defaults.max_retries"):
            task(lambda: 1)


def test_run_on_schedule_and_the_default_executor_from_config():
    """1.4.1: with flows.run_on_schedule False, flow.run() of a flow whose schedule starts tomorrow
    runs once at once; with engine.executor.default_class "prefect.executors.LocalDaskExecutor",
    flow.run() without an executor makes a LocalDaskExecutor."""
    from perfect_nb.executors import LocalDaskExecutor
    from perfect_nb.schedules import IntervalSchedule

    schedule = IntervalSchedule(start_date=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1), interval=dt.timedelta(hours=1))
    with Flow("s", schedule=schedule) as flow:
        task(lambda: 1)()
    with set_temporary_config({"flows.run_on_schedule": False}):
        assert flow.run().is_successful()

    made = []

    class Spy(LocalDaskExecutor):
        def __init__(self, *args, **kwargs):
            made.append(self)
            super().__init__(*args, **kwargs)

    sys.modules[__name__].Spy = Spy
    with Flow("e") as plain:
        task(lambda: 1)()
    with set_temporary_config({"engine.executor.default_class": f"{__name__}.Spy"}):
        assert plain.run().is_successful()
    assert len(made) == 1
    with set_temporary_config({"engine.executor.default_class": "nowhere.Nothing"}):
        with pytest.raises(ValueError, match="names no executor"):
            plain.run()


# --- flows.checkpointing -----------------------------------------------------------------------------
def _flow_with_results(folder):
    calls = []

    @task(target="{task_name}-{today}.txt", result=LocalResult(dir=folder))
    def t1():
        calls.append("t1")
        return 1

    @task(checkpoint=True, result=LocalResult(dir=folder, location="plain-{task_name}.out"))
    def t2():
        calls.append("t2")
        return 2

    @task(checkpoint=False, result=LocalResult(dir=folder, location="nock-{task_name}.out"))
    def t4():
        calls.append("t4")
        return 4

    with Flow("f", result=LocalResult(dir=folder, location="flowres-{task_name}.out")) as flow:
        t1(), t2(), t4()
        task(lambda: calls.append("t5") or 5, name="t5")()
    return flow, calls


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_checkpointing_off_writes_nothing_but_an_existing_target_is_read(tmp_path):
    """1.4.1 by default (checkpointing off): a target=, a result location, checkpoint=True and a
    flow-level result all write nothing, every task runs on each run; a file put at a target
    before the run is read (Cached "Result found at task target t1.txt", not run)."""
    flow, calls = _flow_with_results(tmp_path)
    for _ in range(2):
        state = flow.run()
        assert state.is_successful() and all(type(s).__name__ == "Success" for s in state.result.values())
    assert _files(tmp_path) == [] and sorted(calls) == sorted(["t1", "t2", "t4", "t5"] * 2)

    @task(target="{task_name}.txt", result=LocalResult(dir=tmp_path))
    def t1():
        return "computed"

    with Flow("g") as g:
        out = t1()
    (tmp_path / "t1.txt").write_bytes(pickle.dumps("from-file"))
    hit = g.run().result[out]
    assert type(hit).__name__ == "Cached" and hit.result == "from-file" and hit.message == "Result found at task target t1.txt"


def test_checkpointing_on_writes_every_result_but_checkpoint_false(tmp_path):
    """1.4.1 with PREFECT__FLOWS__CHECKPOINTING=true: t1's target, t2's and t3's result locations
    and the flow-level result of t5 are written; t4 (checkpoint=False) is not; the second run finds
    t1's target (Cached) and runs the rest."""
    code = (
        "import json, pathlib, sys\n"
        "sys.path.insert(0, %r)\n"
        "from test_config import _flow_with_results, _files\n"
        "folder = pathlib.Path(%r)\n"
        "flow, calls = _flow_with_results(folder)\n"
        "first = _files(folder); flow.run(); first = _files(folder); calls.clear()\n"
        "second = flow.run()\n"
        "print(json.dumps([first, sorted(calls), sorted(type(s).__name__ for s in second.result.values())]))\n"
    ) % (os.path.dirname(__file__), str(tmp_path))
    first, calls, kinds = in_new_python(code, tmp_path, PREFECT__FLOWS__CHECKPOINTING="true")
    today = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    assert first == ["flowres-t5.out", "plain-t2.out", f"t1-{today}.txt"]
    assert calls == ["t2", "t4", "t5"] and kinds == ["Cached", "Success", "Success", "Success"]


@pytest.mark.parametrize("how", ["flow.run context", "with context", "set_temporary_config", "config attribute"])
def test_every_way_to_turn_checkpointing_on_writes_the_target(tmp_path, how):
    """1.4.1: flow.run(context={"checkpointing": True}), `with prefect.context(checkpointing=True)`
    and set_temporary_config({"flows.checkpointing": True}) each make the flow write its target and
    the task sees context.checkpointing True. `prefect.config.flows.checkpointing = True` does not
    in 1.4.1 (its runs read the copy of the config made at import, a trap); here it does."""
    @task(target="{task_name}.txt", result=LocalResult(dir=tmp_path))
    def t1():
        return context.get("checkpointing")

    with Flow("f") as flow:
        out = t1()
    if how == "flow.run context":
        state = flow.run(context={"checkpointing": True})
    elif how == "with context":
        with context(checkpointing=True):
            state = flow.run()
    elif how == "set_temporary_config":
        with set_temporary_config({"flows.checkpointing": True}):
            state = flow.run()
    else:
        config.flows.checkpointing = True
        try:
            state = flow.run()
        finally:
            config.flows.checkpointing = False
    assert state.result[out].result is True and _files(tmp_path) == ["t1.txt"]


def test_a_task_runner_on_its_own_follows_the_config(tmp_path):
    """1.4.1: TaskRunner(t).run() with checkpointing off writes no target (result False, Success);
    under set_temporary_config({"flows.checkpointing": True}) it writes it; run(context={"checkpointing":
    True}) then finds it (Cached)."""
    @task(target="{task_name}.txt", result=LocalResult(dir=tmp_path))
    def t1():
        return context.get("checkpointing")

    state = TaskRunner(t1).run()
    assert type(state).__name__ == "Success" and state.result is False and _files(tmp_path) == []
    with set_temporary_config({"flows.checkpointing": True}):
        assert TaskRunner(t1).run().result is True
    assert _files(tmp_path) == ["t1.txt"]
    assert type(TaskRunner(t1).run(context={"checkpointing": True})).__name__ == "Cached"


def test_a_perfect_flow_cell_checkpoints(run_cell, tmp_path):
    """Prefect 1.4.1 has no cell magic; its backend runs always checkpoint (its CloudTaskRunner sets
    checkpointing=True). A %%perfect_flow run checkpoints too, so a target in a notebook cell is
    written, while a plain flow.run() in the same kernel is not."""
    run_cell(
        "from perfect_nb import task, context\n"
        "from perfect_nb.engine.results import LocalResult\n"
        f"@task(target='{{task_name}}.pkl', result=LocalResult(dir={str(tmp_path)!r}))\n"
        "def stored():\n"
        "    return context.checkpointing\n"
    )
    run_cell("%%perfect_flow nbflow\nstored()")
    assert _files(tmp_path) == ["stored.pkl"]
    (tmp_path / "stored.pkl").unlink()
    run_cell("state = nbflow.run()")
    assert _files(tmp_path) == []


def test_a_parameterised_target_is_checked_and_written_only_with_checkpointing(tmp_path):
    """1.4.1: target "{x}.pkl" with Parameter x: off, x=3 runs and writes nothing; on, it writes
    3.pkl; then off again, x=3 finds 3.pkl (Cached) and x=4 runs."""
    @task(target="{x}.pkl", result=LocalResult(dir=tmp_path))
    def square(x):
        return x * x

    with Flow("p") as flow:
        out = square(Parameter("x"))
    assert type(flow.run(x=3).result[out]).__name__ == "Success" and _files(tmp_path) == []
    flow.run(x=3, context={"checkpointing": True})
    assert _files(tmp_path) == ["3.pkl"]
    assert type(flow.run(x=3).result[out]).__name__ == "Cached"
    assert type(flow.run(x=4).result[out]).__name__ == "Success" and _files(tmp_path) == ["3.pkl"]
