"""Prefect 1's task library and utility modules at their Prefect 1 paths (issue 14, section 2).

Each expectation was taken from running the same flow on Prefect 1.4.1
(bench/.prefect1-venv) and on perfect_nb; the docstrings quote what 1.4.1 gave.
"""

from __future__ import annotations

import doctest
import importlib
import logging
import os
import sqlite3
import threading
import time
import zipfile

import pytest

from perfect_nb import Flow, Parameter, Task, context, task
from perfect_nb.engine import signals
from perfect_nb.engine.state import Failed, Paused, Resume, TimedOut


@pytest.fixture
def records():
    """Every record the perfect_nb loggers emit during the test, DEBUG included."""
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record)

    logger = logging.getLogger("perfect_nb")
    handler, level = Keep(logging.DEBUG), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield seen
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.mark.parametrize("module", [
    "perfect_nb.exceptions", "perfect_nb.utilities.debug", "perfect_nb.utilities.collections",
    "perfect_nb.utilities.tasks", "perfect_nb.tasks.shell", "perfect_nb.tasks.templates.strings",
    "perfect_nb.tasks.database.sqlite", "perfect_nb.tasks.secrets.base", "perfect_nb.client.secrets",
])
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0


def _text(records) -> str:
    return "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.exc_info or ''}" for r in records)


# --- tasks.shell ---------------------------------------------------------------------------

def test_shell_task_returns_the_last_line_or_all_lines():
    """1.4.1: Success, result 'there'; with return_all=True ['hi', 'there']; no output: None."""
    from perfect_nb.tasks.shell import ShellTask

    with Flow("shell") as flow:
        last = ShellTask(name="last")(command="echo hi; echo there")
        every = ShellTask(name="every", return_all=True)(command="echo hi; echo there")
        quiet = ShellTask(name="quiet")(command="true")
    state = flow.run()
    assert state.is_successful()
    assert state.result[last].result == "there"
    assert state.result[every].result == ["hi", "there"]
    assert state.result[quiet].result is None


def test_shell_task_nonzero_exit_fails_with_prefect1_message_and_output_as_result(records):
    """1.4.1: Failed, message 'Command failed with exit code 3', result 'err' (stderr is
    merged into stdout, last line), and an ERROR log line with the same message."""
    from perfect_nb.tasks.shell import ShellTask

    with Flow("shell") as flow:
        bad = ShellTask(name="bad")(command="echo out; echo err >&2; exit 3")
        every = ShellTask(name="every", return_all=True, log_stderr=True)(command="echo out; echo err >&2; exit 4")
    state = flow.run()
    assert isinstance(state.result[bad], Failed)
    assert state.result[bad].message == "Command failed with exit code 3"
    assert state.result[bad].result == "err"
    assert state.result[every].message == "Command failed with exit code 4"
    assert state.result[every].result == ["out", "err"]
    errors = [r.getMessage() for r in records if r.levelno == logging.ERROR]
    assert "Command failed with exit code 3" in errors
    assert "out\nerr" in errors  # log_stderr logs the output of the failing command


def test_shell_task_env_and_helper_script():
    """1.4.1: env={'FOO': 'bar'} with 'echo $FOO' gives 'bar'; a helper_script defining
    greet() lets the command call it: 'hello bob'."""
    from perfect_nb.tasks.shell import ShellTask

    with Flow("shell") as flow:
        env = ShellTask(name="env", env={"FOO": "bar"})(command="echo $FOO")
        helper = ShellTask(name="helper", helper_script="greet() { echo hello $1; }")(command="greet bob")
        inherited = ShellTask(name="inherited")(command="echo $PATH")
    state = flow.run()
    assert state.result[env].result == "bar"
    assert state.result[helper].result == "hello bob"
    assert state.result[inherited].result == os.environ["PATH"]  # env adds to the current environment


def test_shell_task_without_command_raises_prefect1_type_error():
    """1.4.1: ShellTask().run() raises TypeError("run() missing required argument: 'command'")."""
    from perfect_nb.tasks.shell import ShellTask

    with pytest.raises(TypeError, match=r"run\(\) missing required argument: 'command'"):
        ShellTask().run()


def test_shell_task_stream_output_logs_each_line(records):
    from perfect_nb.tasks.shell import ShellTask

    ShellTask(stream_output="WARNING").run(command="echo first; echo second")
    streamed = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert streamed == ["first", "second"]
    with pytest.raises(ValueError, match="logging level"):
        ShellTask(stream_output="LOUD")


# --- tasks.templates -------------------------------------------------------------------------

def test_string_formatter_fills_from_context_and_arguments():
    """1.4.1: template '{flow_name} says {x}' with x=1 in flow 'tpl' gives 'tpl says 1'; a key
    found nowhere fails with "Error during execution of task: KeyError('missing')"."""
    from perfect_nb.tasks.templates import StringFormatter

    with Flow("tpl") as flow:
        said = StringFormatter(template="{flow_name} says {x}")(x=1)
        dated = StringFormatter(template="{today}")()
        missing = StringFormatter(template="{missing}")()
    state = flow.run()
    assert state.result[said].result == "tpl says 1"
    assert len(state.result[dated].result) == 10  # YYYY-MM-DD
    assert isinstance(state.result[missing], Failed)
    assert state.result[missing].message == "Error during execution of task: KeyError('missing')"


def test_jinja_template_renders_with_context():
    from perfect_nb.tasks.templates import JinjaTemplate

    with Flow("jinja") as flow:
        n = Parameter("n", default=3)
        out = JinjaTemplate(template="{{ flow_name }}{% for i in range(n) %}!{% endfor %}")(n=n)
    assert flow.run().result[out].result == "jinja!!!"


# --- tasks.database.sqlite ---------------------------------------------------------------------

def test_sqlite_script_then_query_on_a_real_database(tmp_path):
    """1.4.1: SQLiteScript's result None; SQLiteQuery with data=(0,) gives [(1, 'x'), (2, 'y')];
    a bad column fails with "Error during execution of task: OperationalError('no such column: nope')"."""
    from perfect_nb.tasks.database.sqlite import SQLiteQuery, SQLiteScript

    db = str(tmp_path / "t.db")
    with Flow("sql") as flow:
        script = SQLiteScript(db=db, script="create table t (a int, b text); insert into t values (1, 'x'); insert into t values (2, 'y');")
        rows = SQLiteQuery(db=db, query="select * from t where a > ?", data=(0,))(upstream_tasks=[script])
        bad = SQLiteQuery(db=db, query="select nope from t")(upstream_tasks=[script])
    state = flow.run()
    assert state.result[script].result is None
    assert state.result[rows].result == [(1, "x"), (2, "y")]
    assert isinstance(state.result[bad], Failed)
    assert state.result[bad].message == "Error during execution of task: OperationalError('no such column: nope')"


def test_sqlite_query_commits_its_statement(tmp_path):
    """1.4.1 closes the connection without a commit, so an INSERT through SQLiteQuery is lost
    (the row count stayed 2). We commit: a difference kept on purpose, in the README."""
    from perfect_nb.tasks.database.sqlite import SQLiteQuery, SQLiteScript

    db = str(tmp_path / "t.db")
    SQLiteScript(db=db, script="create table t (a int);").run()
    assert SQLiteQuery(db=db, query="insert into t values (?)", data=(5,)).run() == []
    assert sqlite3.connect(db).execute("select a from t").fetchall() == [(5,)]
    with pytest.raises(ValueError, match="query"):
        SQLiteQuery(db=db).run()


# --- tasks.files -------------------------------------------------------------------------------

def test_file_tasks_on_real_files(tmp_path):
    """1.4.1, the same chain: Copy -> Path(b.txt); Glob('*.txt') both files; Zip None; Unzip ->
    the folder; Move -> Path(c.txt); Remove None; Remove of a missing path fails with
    "ValueError('Path (...) not found')"."""
    from perfect_nb.tasks.files import Copy, Glob, Move, Remove, Unzip, Zip

    src = tmp_path / "a.txt"
    src.write_text("A")
    with Flow("files") as flow:
        copied = Copy()(source_path=src, target_path=tmp_path / "b.txt")
        found = Glob()(path=tmp_path, pattern="*.txt", upstream_tasks=[copied])
        zipped = Zip()(source_path=str(src), zip_path=tmp_path / "z.zip", upstream_tasks=[found])
        unzipped = Unzip()(zip_path=tmp_path / "z.zip", extract_dir=tmp_path / "out", upstream_tasks=[zipped])
        moved = Move()(source_path=tmp_path / "b.txt", target_path=tmp_path / "c.txt", upstream_tasks=[unzipped])
        removed = Remove()(path=tmp_path / "c.txt", upstream_tasks=[moved])
        missing = Remove()(path=tmp_path / "nothere", upstream_tasks=[removed])
    state = flow.run()
    assert state.result[copied].result == tmp_path / "b.txt"
    assert sorted(state.result[found].result) == [tmp_path / "a.txt", tmp_path / "b.txt"]
    assert state.result[zipped].result is None
    assert state.result[unzipped].result == tmp_path / "out"
    assert (tmp_path / "out" / "a.txt").read_text() == "A"
    assert state.result[moved].result == tmp_path / "c.txt"
    assert state.result[removed].result is None and not (tmp_path / "c.txt").exists()
    assert state.result[missing].message == f"Error during execution of task: ValueError('Path ({tmp_path / 'nothere'}) not found')"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "out", "z.zip"]


def test_copy_and_zip_folders(tmp_path):
    from perfect_nb.tasks.files import Copy, Remove, Zip

    folder = tmp_path / "data"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "x.csv").write_text("1")
    assert Copy().run(source_path=folder, target_path=tmp_path / "copy") == tmp_path / "copy"
    assert (tmp_path / "copy" / "sub" / "x.csv").read_text() == "1"
    Zip(source_path=[folder], zip_path=tmp_path / "d.zip", compression_method="store").run()
    assert zipfile.ZipFile(tmp_path / "d.zip").namelist() == ["data/sub/x.csv"]
    Remove().run(path=tmp_path / "copy")
    assert not (tmp_path / "copy").exists()
    with pytest.raises(ValueError, match="not supported"):
        Zip(compression_method="rar")
    with pytest.raises(ValueError, match="Source path"):
        Copy().run(source_path=tmp_path / "nope", target_path=tmp_path / "x")


# --- tasks.secrets and client.secrets ---------------------------------------------------------

def test_prefect_secret_from_prefect1_env_var_and_missing_secret(monkeypatch):
    """1.4.1 with PREFECT__CONTEXT__SECRETS__MYKEY=s3cr3t: PrefectSecret('MYKEY') is Success
    's3cr3t'; PrefectSecret('NOPE') fails with
    'Error during execution of task: ValueError(\\'Local Secret "NOPE" was not found.\\')'."""
    from perfect_nb.tasks.secrets import PrefectSecret

    monkeypatch.setenv("PREFECT__CONTEXT__SECRETS__MYKEY", "s3cr3t")
    with Flow("sec") as flow:
        key = flow.add_task(PrefectSecret("MYKEY"))
        nope = flow.add_task(PrefectSecret("NOPE"))
    state = flow.run()
    assert key.name == "MYKEY"
    assert state.result[key].result == "s3cr3t"
    assert state.result[nope].message == 'Error during execution of task: ValueError(\'Local Secret "NOPE" was not found.\')'


def test_secret_sources_and_precedence(monkeypatch):
    from perfect_nb.client.secrets import Secret

    monkeypatch.setenv("PREFECT__CONTEXT__SECRETS__K", "from prefect var")
    assert Secret("K").get() == "from prefect var"
    monkeypatch.setenv("PERFECT_NB__CONTEXT__SECRETS__K", '{"user": "ann"}')
    assert Secret("K").get() == {"user": "ann"}  # ours wins, and JSON is decoded as in Prefect 1
    with context(secrets={"K": "from context"}):
        assert Secret("K").get() == "from context"
    assert Secret("k").exists() is False  # names are case-sensitive


def test_client_secret_exists_get_and_errors():
    """1.4.1: Secret('NOPE').exists() is False; .get() raises ValueError('Local Secret "NOPE"
    was not found.'); inside `with Flow(...)` get() raises ValueError about building a flow."""
    from perfect_nb.client.secrets import Secret

    with context(secrets={"CTX": "v"}):
        assert Secret("CTX").get() == "v" and Secret("CTX").exists()
        with Flow("building"):
            with pytest.raises(ValueError, match="not while building a Flow"):
                Secret("CTX").get()
    assert not Secret("NOPE").exists()
    with pytest.raises(ValueError, match='Local Secret "NOPE" was not found.'):
        Secret("NOPE").get()
    assert "v" not in repr(Secret("CTX"))


def test_secret_value_never_appears_in_logs(monkeypatch, records):
    from perfect_nb.tasks.secrets import EnvVarSecret, PrefectSecret

    value = "hunter2-very-secret"
    monkeypatch.setenv("PERFECT_NB__CONTEXT__SECRETS__PASSWORD", value)
    monkeypatch.setenv("MY_PASSWORD", value)

    @task
    def use(secret):
        return len(secret)

    with Flow("logs") as flow:
        n = use(PrefectSecret("PASSWORD"))
        m = use(EnvVarSecret("MY_PASSWORD"))
    state = flow.run()
    assert state.result[n].result == state.result[m].result == len(value)
    assert records, "the fixture must see the run's DEBUG records"
    assert value not in _text(records)


def test_secret_tasks_are_not_checkpointed_and_take_no_result():
    """1.4.1: SecretBase(result=...) raises ValueError('Result types for Secrets are not configurable.')."""
    from perfect_nb.tasks.secrets import EnvVarSecret, PrefectSecret, SecretBase

    assert PrefectSecret("X").checkpoint is False
    with pytest.raises(ValueError, match="not configurable"):
        SecretBase(result=object())
    with pytest.raises(ValueError, match="A secret name must be provided"):
        PrefectSecret().run()
    assert EnvVarSecret("PERFECT_NB_TEST_UNSET_VAR").run() is None
    with pytest.raises(ValueError, match="PERFECT_NB_TEST_UNSET_VAR"):
        EnvVarSecret("PERFECT_NB_TEST_UNSET_VAR", raise_if_missing=True).run()


# --- utilities.collections, utilities.debug, utilities.tasks -----------------------------------

def test_dotdict_as_nested_dict_merge_dicts():
    """1.4.1: DotDict(a=1, b={'c': 2}).b is a plain dict; repr "<DotDict: 'a', 'b'>";
    to_dict() {'a': 1, 'b': {'c': 2}}; merge_dicts merges nested keys: {'a': {'b': 3, 'c': 2}}."""
    from perfect_nb.utilities.collections import DotDict, as_nested_dict, merge_dicts

    d = DotDict(a=1, b={"c": 2})
    assert (d.a, d["b"], type(d.b), d.get("z", 5)) == (1, {"c": 2}, dict, 5)
    assert repr(d) == "<DotDict: 'a', 'b'>"
    d.e = 4
    assert d["e"] == 4 and len(d) == 3
    del d["e"]
    with pytest.raises(AttributeError):
        d.e
    nested = as_nested_dict({"a": {"b": 1}, "l": [{"x": 1}]}, DotDict)
    assert nested.a.b == 1 and nested.l[0].x == 1
    assert DotDict(nested).to_dict() == {"a": {"b": 1}, "l": [{"x": 1}]}
    assert merge_dicts({"a": {"b": 1, "c": 2}}, {"a": {"b": 3}}) == {"a": {"b": 3, "c": 2}}


def test_is_serializable():
    """1.4.1: is_serializable(lambda: 1) is True (cloudpickle)."""
    from perfect_nb.utilities.debug import is_serializable

    assert is_serializable(lambda: 1)
    assert not is_serializable(threading.Lock())
    with pytest.raises(TypeError):
        is_serializable(threading.Lock(), raise_on_error=True)


def test_raise_on_exception_lets_the_task_error_out_of_flow_run():
    """1.4.1: inside raise_on_exception(), flow.run() raises ValueError('boom!') from the task."""
    from perfect_nb.executors import LocalDaskExecutor
    from perfect_nb.utilities.debug import raise_on_exception

    @task
    def boom():
        raise ValueError("boom!")

    @task
    def skip():
        raise signals.SKIP("skipped")

    with Flow("dbg") as flow:
        boom()
    with Flow("signals") as quiet:
        skipped = skip()
    with raise_on_exception():
        with pytest.raises(ValueError, match="boom!"):
            flow.run()
        with pytest.raises(ValueError, match="boom!"):
            flow.run(executor=LocalDaskExecutor(scheduler="threads"))
        assert quiet.run().result[skipped].message == "skipped"  # signals still set states
    assert isinstance(flow.run(), Failed)  # and outside the block, a Failed state again


def test_defaults_from_attrs_and_pause_task():
    """1.4.1: Add().run(1) -> 11, run(1, y=2) -> 3, run(1, y=None) keeps None (TypeError in x + y);
    pause_task('waiting for a person') -> Paused with that message, start_time None; with
    task_states={w: Resume()} the task returns 'resumed' (checked through FlowRunner, because
    1.4.1's flow.run() prompts on a terminal for a paused task)."""
    from perfect_nb.utilities.tasks import as_task, defaults_from_attrs, pause_task

    class Add(Task):
        def __init__(self, y=10, **kwargs):
            self.y = y
            super().__init__(**kwargs)

        @defaults_from_attrs("y")
        def run(self, x, y=None):
            return x + y

    with Flow("attrs") as flow:
        from_attr = Add()(x=1)
        given = Add()(x=1, y=2)
    state = flow.run()
    assert (state.result[from_attr].result, state.result[given].result) == (11, 3)
    with pytest.raises(TypeError):
        Add().run(1, y=None)
    assert as_task(5).run() == 5

    @task
    def wait():
        pause_task("waiting for a person")
        return "resumed"

    with Flow("pause") as paused:
        w = wait()
    first = paused.run().result[w]
    assert isinstance(first, Paused) and first.message == "waiting for a person" and first.start_time is None
    assert paused.run(task_states={w: Resume()}).result[w].result == "resumed"


# --- exceptions -----------------------------------------------------------------------------------

def test_exceptions_catch_what_perfect_nb_raises_under_prefect1_names():
    """1.4.1: PrefectSignal is engine.signals.PrefectSignal (same object); ClientError,
    AuthorizationError, ObjectNotFoundError and FlowStorageError derive from PrefectException."""
    from perfect_nb import exceptions
    from perfect_nb.client import Client
    from perfect_nb.errors import CycleError

    with pytest.raises(exceptions.PrefectSignal):
        raise signals.FAIL("no")
    assert not issubclass(exceptions.PrefectSignal, Exception)
    for cls in (exceptions.ClientError, exceptions.AuthorizationError, exceptions.ObjectNotFoundError, exceptions.FlowStorageError):
        assert issubclass(cls, exceptions.PrefectException)
    assert issubclass(exceptions.VersionLockMismatchSignal, exceptions.PrefectSignal)
    with pytest.raises(exceptions.ClientError):  # nothing listens on port 9
        Client("http://127.0.0.1:9", timeout=2).health()
    assert issubclass(CycleError, exceptions.PrefectException)


def test_task_timeout_signal_is_what_a_timed_out_task_raises():
    from perfect_nb.exceptions import TaskTimeoutSignal

    caught = []

    @task(timeout=0.2)
    def slow():
        try:
            for _ in range(500):  # short sleeps: the timeout is raised between bytecodes
                time.sleep(0.01)
        except TaskTimeoutSignal:
            caught.append(True)
            raise

    with Flow("timeout") as flow:
        s = slow()
    state = flow.run()
    assert isinstance(state.result[s], TimedOut)
    assert caught == [True]
