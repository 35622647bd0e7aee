"""The ``perfect`` command, run as a user runs it: in a subprocess, on files written here."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import perfect_nb.executors

CLOCK = r"\d\d:\d\d:\d\d"

ETL = '''
import sys
from perfect_nb import Flow, Parameter, task, unmapped

@task
def extract(n):
    return list(range(1, n + 1))

@task
def transform(x, bad):
    if x == bad:
        raise ValueError("bad")
    return x * 10

@task
def load(values):
    print("total", sum(values))
    print("widget modules", sorted(m for m in ("IPython", "ipywidgets", "anywidget") if m in sys.modules))

with Flow("etl") as etl:
    n = Parameter("n", default=3)
    bad = Parameter("bad", default=-1)
    load(transform.map(extract(n), bad=unmapped(bad)))

if __name__ == "__main__":
    print("the __main__ block ran")
'''

TWO_FLOWS = '''
from perfect_nb import Flow, task

@task
def hello(who):
    print("hello", who)

with Flow("greet") as greeting:
    hello("greet")

with Flow("farewell") as bye_flow:
    hello("farewell")

same = greeting  # one flow, two variables: listed once
'''


def perfect(*args: str, cwd: Path | None = None, module: bool = True) -> subprocess.CompletedProcess:
    """Run ``python -m perfect_nb ARGS`` (or the ``perfect`` script) and return the finished process."""
    command = [sys.executable, "-m", "perfect_nb", *args] if module else [str(Path(sys.executable).with_name("perfect")), *args]
    env = {k: v for k, v in os.environ.items() if k != "PERFECT_NB_LOGGING_LEVEL"}
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=240, env=env)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def write_notebook(folder: Path, name: str, *cells: str) -> Path:
    """A format-4 notebook whose code cells are ``cells`` (a cell starting with '#md ' is markdown)."""
    def cell(source: str) -> dict:
        source = textwrap.dedent(source).strip("\n")
        if source.startswith("#md "):
            return {"cell_type": "markdown", "metadata": {}, "source": source[4:]}
        return {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": source.splitlines(keepends=True)}

    notebook = {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": [cell(c) for c in cells],
    }
    path = folder / name
    path.write_text(json.dumps(notebook))
    return path


def lines(text: str, label: str) -> list[str]:
    """The progress lines of one task (or ``flow NAME``), as 'State message'."""
    found = []
    for line in text.splitlines():
        match = re.fullmatch(rf"{CLOCK} {re.escape(label)} +(\S+)(?: +(.*))?", line)
        if match:
            found.append(" ".join(filter(None, match.groups())).strip())
    return found


def usage_error(result: subprocess.CompletedProcess) -> str:
    """Assert exit status 2 with one line on stderr and nothing on stdout; return the line."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("python -m perfect_nb run: error: ")
    return result.stderr.strip()


# --- help and installation ---------------------------------------------------
def test_help_documents_the_command_with_examples():
    top = perfect("--help")
    assert top.returncode == 0
    assert "run a flow from a .py file or a notebook" in top.stdout
    assert "python -m perfect_nb run notebooks/01-quickstart.ipynb --flow etl" in top.stdout
    run = perfect("run", "--help")
    assert run.returncode == 0
    for text in ("FILE", "--flow NAME", "--param KEY=VALUE", "--executor EXECUTOR", "--quiet", "examples:", "exit status:", "%%perfect_flow", "threads", "processes", "dask", "tcp://host:8786"):
        assert text in run.stdout, text
    assert perfect().returncode == 2


def test_the_perfect_console_script_is_installed_next_to_python():
    script = Path(sys.executable).with_name("perfect")
    assert script.exists(), f"{script} is missing: pip install -e . declares it in [project.scripts]"
    result = perfect("run", "--help", module=False)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: perfect run ")


# --- Python files --------------------------------------------------------------
def test_a_file_with_one_flow_runs_it_and_prints_a_line_per_state_change(tmp_path):
    write(tmp_path, "etl.py", ETL)
    result = perfect("run", "etl.py", "--param", "n=4", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert lines(out, "flow etl")[0] == "Running"
    assert lines(out, "extract") == ["Running", "Success"]
    assert lines(out, "transform") == ["Mapped 4 children"]
    assert [i for i in range(6) if lines(out, f"transform[{i}]") == ["Running", "Success"]] == [0, 1, 2, 3]
    assert "total 100" in out
    assert "widget modules []" in out  # a .py file never imports IPython or widgets
    assert "the __main__ block ran" not in out
    summary = out.strip().splitlines()[-1]
    assert re.fullmatch(rf"{CLOCK} flow etl +Success 8 task runs: 8 Success in \d+\.\d\ds\. All reference tasks succeeded\.", summary), summary
    assert result.stderr == ""


def test_a_failing_flow_exits_1_and_says_why(tmp_path):
    write(tmp_path, "etl.py", ETL)
    result = perfect("run", "etl.py", "--param", "bad=2", cwd=tmp_path)
    assert result.returncode == 1
    assert lines(result.stdout, "transform[1]") == ["Running", "Failed Error during execution of task: ValueError('bad')"]
    assert re.search(rf"{CLOCK} transform\[1\] +Failed  Error during execution of task: ValueError\('bad'\)", result.stdout)
    assert lines(result.stdout, "load") == ['TriggerFailed Trigger was "all_successful" but some of the upstream tasks failed.']
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"flow etl +Failed  7 task runs: 5 Success, 1 Failed, 1 TriggerFailed in .*s\. Some reference tasks failed\.$", summary), summary
    assert "ValueError: bad" in result.stderr  # the task's error is logged


def test_quiet_prints_only_the_summary(tmp_path):
    write(tmp_path, "etl.py", ETL.replace('    print("total", sum(values))\n', "").replace('    print("widget modules"', '    ("widget modules"'))
    result = perfect("run", "etl.py", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1
    assert re.fullmatch(rf"{CLOCK} flow etl +Success 7 task runs: 7 Success in .*\n", result.stdout)


def test_params_are_python_literals_or_strings(tmp_path):
    write(tmp_path, "echo.py", '''
        from perfect_nb import Flow, Parameter, task

        @task
        def show(value):
            print("value", repr(value))

        with Flow("echo") as flow:
            show(Parameter("value"))
    ''')
    for raw, shown in (("[1, 2]", "[1, 2]"), ("2.5", "2.5"), ("hello world", "'hello world'"), ("'7'", "'7'")):
        result = perfect("run", "echo.py", "--param", f"value={raw}", "-q", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert f"value {shown}\n" in result.stdout
    missing = usage_error(perfect("run", "echo.py", cwd=tmp_path))
    assert "value" in missing and "required" in missing.lower()


def test_with_several_flows_choose_one_by_name_or_variable(tmp_path):
    write(tmp_path, "two.py", TWO_FLOWS)
    message = usage_error(perfect("run", "two.py", cwd=tmp_path))
    assert message.endswith("two.py defines 2 flows; choose one with --flow NAME: 'greet' (variable greeting), 'farewell' (variable bye_flow).")
    by_name = perfect("run", "two.py", "--flow", "farewell", cwd=tmp_path)
    assert by_name.returncode == 0, by_name.stderr
    assert "hello farewell" in by_name.stdout and "hello greet" not in by_name.stdout
    by_variable = perfect("run", "two.py", "--flow", "greeting", cwd=tmp_path)
    assert by_variable.returncode == 0
    assert "hello greet" in by_variable.stdout and "hello farewell" not in by_variable.stdout
    unknown = usage_error(perfect("run", "two.py", "--flow", "nope", cwd=tmp_path))
    assert unknown.endswith("two.py has no flow 'nope'; its flows: 'greet' (variable greeting), 'farewell' (variable bye_flow).")


def test_usage_errors_exit_2_with_one_clear_line(tmp_path):
    write(tmp_path, "etl.py", ETL)
    write(tmp_path, "notes.txt", "not a flow")
    write(tmp_path, "empty.py", "x = 1\n")
    cases = {
        ("missing.py",): "missing.py: no such file.",
        ("notes.txt",): "notes.txt is neither a Python file (.py) nor a notebook (.ipynb).",
        ("etl.py", "--param", "n"): "--param takes KEY=VALUE, got 'n'.",
        ("etl.py", "--param", "size=3"): "flow 'etl' has no parameter 'size'; its parameters: 'bad', 'n'.",
        ("etl.py", "--param", "n=abc"): "--param for flow 'etl': Parameter 'n' needs an int, got 'abc' (str).",
        ("etl.py", "--executor", "gpu"): "--executor must be local, threads, processes, dask or a scheduler address like tcp://host:8786, got 'gpu'.",
        ("empty.py",): "empty.py defines no Flow at module level",
    }
    for args, expected in cases.items():
        message = usage_error(perfect("run", *args, cwd=tmp_path))
        assert expected in message, (args, message)


def test_an_executor_address_nothing_answers_at_exits_2_within_seconds(tmp_path):
    import socket
    import time

    write(tmp_path, "etl.py", ETL)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{sock.getsockname()[1]}"  # closed again below: nothing listens
    start = time.monotonic()
    message = usage_error(perfect("run", "etl.py", "--executor", address, cwd=tmp_path))
    assert time.monotonic() - start < 10  # the interpreter's start included
    assert f"--executor {address}: no Dask scheduler answers at that address" in message


def test_a_task_calling_sys_exit_fails_and_the_run_ends_with_its_summary(tmp_path):
    write(tmp_path, "quits.py", """
        import sys
        from perfect_nb import Flow, task

        @task
        def quits():
            sys.exit(3)

        @task
        def fine():
            return 1

        with Flow("quits") as flow:
            quits()
            fine()
    """)
    for executor in ("local", "threads", "processes"):
        result = perfect("run", "quits.py", "--executor", executor, cwd=tmp_path)
        assert result.returncode == 1, (executor, result.stdout, result.stderr)  # a failed flow, not the task's 3
        assert any("task called sys.exit(3)" in line for line in lines(result.stdout, "quits")), result.stdout
        summary = result.stdout.strip().splitlines()[-1]
        assert re.search(r"flow quits +Failed  2 task runs: (1 Failed, 1 Success|1 Success, 1 Failed) in .*Some reference tasks failed", summary), summary


def test_a_file_that_raises_while_loading_shows_its_traceback_and_exits_2(tmp_path):
    write(tmp_path, "broken.py", "from perfect_nb import Flow\n\nflow = Flow('x')\nraise RuntimeError('no database')\n")
    result = perfect("run", "broken.py", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert 'broken.py", line 4, in <module>' in result.stderr
    assert "RuntimeError: no database" in result.stderr
    assert "runpy" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "python -m perfect_nb run: error: broken.py raised RuntimeError while loading, so no flow was run (traceback above)."


def test_a_file_imports_its_sibling_modules(tmp_path):
    write(tmp_path, "helpers.py", "def double(x):\n    return 2 * x\n")
    write(tmp_path, "uses.py", '''
        from helpers import double
        from perfect_nb import Flow, task

        with Flow("uses") as flow:
            task(double, name="double")(21)
    ''')
    result = perfect("run", str(tmp_path / "uses.py"), "-q")
    assert result.returncode == 0, result.stderr


def test_a_large_map_prints_counts_and_only_the_children_that_fail(tmp_path):
    write(tmp_path, "big.py", '''
        from perfect_nb import Flow, task

        @task
        def work(i):
            if i in (7, 30):
                raise ValueError(f"item {i}")
            return i

        with Flow("big") as flow:
            work.map(list(range(50)))
    ''')
    result = perfect("run", "big.py", cwd=tmp_path)
    assert result.returncode == 1
    out = result.stdout
    assert lines(out, "work") == ["Mapped 50 children"]
    assert lines(out, "work[7]") == ["Failed Error during execution of task: ValueError('item 7')"]
    assert lines(out, "work[30]") == ["Failed Error during execution of task: ValueError('item 30')"]
    assert not lines(out, "work[0]") and not lines(out, "work[49]")
    assert lines(out, "work[*]")[-1] == "Failed 50/50 finished: 48 Success, 2 Failed"
    assert "51 task runs: 49 Success, 2 Failed" in out  # 50 children and the list's Constant task


@pytest.mark.skipif(not hasattr(perfect_nb.executors, "LocalDaskExecutor"), reason="no LocalDaskExecutor")
def test_executor_threads(tmp_path):
    write(tmp_path, "etl.py", ETL)
    result = perfect("run", "etl.py", "--executor", "threads", "--param", "n=5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "total 150" in result.stdout
    assert sum(lines(result.stdout, f"transform[{i}]") == ["Running", "Success"] for i in range(5)) == 5
    failed = perfect("run", "etl.py", "--executor", "threads", "--param", "bad=1", "-q", cwd=tmp_path)
    assert failed.returncode == 1
    assert "Failed  7 task runs: 5 Success, 1 Failed, 1 TriggerFailed" in failed.stdout


# --- notebooks -------------------------------------------------------------------
NOTEBOOK_CELLS = (
    "#md # A small notebook",
    "%load_ext perfect_nb",
    """
    from perfect_nb import Parameter, task

    @task
    def extract(n):
        return list(range(1, n + 1))

    @task
    def square(x):
        return x * x

    @task
    def total(values):
        return sum(values)

    print("definitions ran")
    """,
    "three = 3",
    """
    %%perfect_flow etl --param n={three}
    n = Parameter("n", default=2)
    result = total(square.map(extract(n)))
    """,
    'print("etl total", etl.last_run and etl.last_run.result[result].result)',
    """
    from perfect_nb.notebook import views
    print("etl view", views["etl"].states.get("total"))
    """,
    """
    %%perfect_flow report
    word = Parameter("word", default="hi")
    shout = task(lambda w: print("report says", w.upper()), name="shout")(word)
    """,
    "%perfect_rerun etl total",
    """
    form = views["report"].form
    form.values = {"word": "again"}
    form.click_run()
    """,
    'print("last cell ran")',
)


def test_a_notebook_runs_every_perfect_flow_cell_and_the_cells_around_them(tmp_path):
    write_notebook(tmp_path, "small.ipynb", *NOTEBOOK_CELLS)
    result = perfect("run", "small.ipynb", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    order = ["definitions ran", "flow etl ", "etl total 14", "etl view Success", "flow report ", "report says HI", "report says AGAIN", "last cell ran"]
    positions = [out.index(text) for text in order]
    assert positions == sorted(positions), out
    assert lines(out, "square[2]") == ["Running", "Success", "Cached"]
    # %perfect_rerun etl total: total runs again, its inputs come from the flow's cache
    assert lines(out, "extract") == ["Running", "Success", "Cached"]
    assert lines(out, "total") == ["Running", "Success", "Running", "Success"]
    assert out.strip().splitlines()[-1] == "4 flow runs: 4 Success"


def test_command_line_params_override_the_cells_and_go_to_the_flows_that_declare_them(tmp_path):
    write_notebook(tmp_path, "small.ipynb", *NOTEBOOK_CELLS)
    result = perfect("run", "small.ipynb", "--param", "n=4", "--param", "word=yo", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "etl total 30" in result.stdout and "report says YO" in result.stdout
    unused = perfect("run", "small.ipynb", "--param", "size=4", "-q", cwd=tmp_path)
    assert unused.returncode == 2
    assert unused.stderr.strip().splitlines()[-1] == "python -m perfect_nb run: error: no %%perfect_flow cell of small.ipynb has a parameter 'size'."


def test_flow_selects_one_perfect_flow_cell_and_stops_after_it(tmp_path):
    write_notebook(tmp_path, "small.ipynb", *NOTEBOOK_CELLS)
    etl = perfect("run", "small.ipynb", "--flow", "etl", "--param", "n=5", cwd=tmp_path)
    assert etl.returncode == 0, etl.stderr
    assert "definitions ran" in etl.stdout
    assert lines(etl.stdout, "square[4]") == ["Running", "Success"]
    assert "etl total" not in etl.stdout and "report" not in etl.stdout and "last cell ran" not in etl.stdout
    assert re.search(r"flow etl +Success 8 task runs: 8 Success", etl.stdout.strip().splitlines()[-1])
    report = perfect("run", "small.ipynb", "--flow", "report", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert "flow etl " not in report.stdout and "report says HI" in report.stdout
    assert "last cell ran" not in report.stdout
    assert "etl total None" in report.stdout  # etl was built and bound, not run
    assert "etl view Pending" in report.stdout  # and its view exists
    wrong_param = perfect("run", "small.ipynb", "--flow", "report", "--param", "n=1", cwd=tmp_path)
    assert wrong_param.returncode == 2
    assert wrong_param.stderr.strip() == "python -m perfect_nb run: error: flow 'report' has no parameter 'n'; its parameters: 'word'."
    unknown = perfect("run", "small.ipynb", "--flow", "nope", cwd=tmp_path)
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert unknown.stderr.strip() == "python -m perfect_nb run: error: small.ipynb has no %%perfect_flow cell named 'nope'; its flows: 'etl', 'report'."


def test_a_cell_that_raises_stops_the_run_with_exit_1(tmp_path):
    write_notebook(tmp_path, "broken.ipynb", "print('first')", "#md text", "x = 1\n1 / 0", "print('never')", "%%perfect_flow later\nx = 2")
    result = perfect("run", "broken.ipynb", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == "first\n"
    assert "ZeroDivisionError" in result.stderr and "1 / 0" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "perfect run: cell 3 raised ZeroDivisionError: division by zero (traceback above); stopped."


def test_a_perfect_flow_cell_that_raises_stops_the_run(tmp_path):
    write_notebook(tmp_path, "bad_flow.ipynb", "%%perfect_flow oops\nundefined_task()", "print('never')")
    result = perfect("run", "bad_flow.ipynb", cwd=tmp_path)
    assert result.returncode == 1
    assert "never" not in result.stdout
    assert "NameError" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "perfect run: cell 1 (%%perfect_flow oops) raised NameError: name 'undefined_task' is not defined; stopped."


def test_notebook_usage_errors_exit_2_before_any_cell_runs(tmp_path):
    write_notebook(tmp_path, "plain.ipynb", "print('ran')")
    write_notebook(tmp_path, "bad_line.ipynb", "print('ran')", "%%perfect_flow\nx = 1")
    (tmp_path / "garbage.ipynb").write_text("{not json")
    cases = {
        "plain.ipynb": "plain.ipynb has no %%perfect_flow cell, so there is no flow to run.",
        "bad_line.ipynb": "bad_line.ipynb, cell 2: bad %%perfect_flow line ''",
        "garbage.ipynb": "garbage.ipynb is not a readable notebook: JSONDecodeError",
    }
    for name, expected in cases.items():
        assert expected in usage_error(perfect("run", name, cwd=tmp_path)), name


def test_a_notebook_runs_in_its_own_folder(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "numbers.txt").write_text("1 2 3")
    write_notebook(tmp_path, "reads.ipynb", """
        %%perfect_flow reads
        from perfect_nb import task
        numbers = task(lambda: [int(x) for x in open("data/numbers.txt").read().split()], name="numbers")()
        task(lambda xs: print("sum", sum(xs)), name="show")(numbers)
    """)
    result = perfect("run", str(tmp_path / "reads.ipynb"), "-q")
    assert result.returncode == 0, result.stderr
    assert "sum 6" in result.stdout


def test_whole_lines_keeps_lines_printed_from_threads_apart():
    import io
    import threading

    from perfect_nb.cli.session import whole_lines

    out = io.StringIO()
    with whole_lines(out) as guarded:
        def shout(word: str) -> None:
            for _ in range(200):
                print(word, "and", word, file=guarded)

        threads = [threading.Thread(target=shout, args=(w,)) for w in ("alpha", "beta", "gamma")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        guarded.write("unfinished")
    assert sorted(set(out.getvalue().splitlines())) == ["alpha and alpha", "beta and beta", "gamma and gamma", "unfinished"]


def test_flow_runs_its_flow_even_when_another_flow_cell_is_broken(tmp_path):
    cells = (
        "%load_ext perfect_nb",
        "from perfect_nb import Parameter, task\ndouble = task(lambda x: 2 * x, name='double')",
        "%%perfect_flow --bad-option\nx = 1",  # a magic line that does not parse
        "%%perfect_flow other\nundefined_task()",  # a body that raises
        "%%perfect_flow good --param n=4\nn = Parameter('n', default=1)\nresult = double(n)",
        "print('good gave', good.last_run.result[result].result)",
    )
    write_notebook(tmp_path, "mixed.ipynb", *cells)
    good = perfect("run", "mixed.ipynb", "--flow", "good", cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    assert re.search(r"flow good +Success 2 task runs: 2 Success", good.stdout), good.stdout
    assert "undefined_task" not in good.stderr and "bad-option" not in good.stderr  # not needed: not reported
    # Needed: a cell after them uses the broken flow; the failure names what was skipped.
    write_notebook(tmp_path, "needs.ipynb", *cells[:5], "print(other)")
    needs = perfect("run", "needs.ipynb", "--flow", "other", cwd=tmp_path)
    last = needs.stderr.strip().splitlines()[-1]
    assert needs.returncode == 1 and "cell 4 (%%perfect_flow other) raised NameError" in last, needs.stderr
    assert "cell 3: bad %%perfect_flow line" in last  # the skipped cell is reported, as it may have been needed
    whole = perfect("run", "mixed.ipynb", cwd=tmp_path)  # without --flow every cell is needed
    assert "bad %%perfect_flow line '--bad-option'" in usage_error(whole)


def test_a_param_of_the_wrong_type_is_a_usage_error_before_the_flow_runs(tmp_path):
    write_notebook(tmp_path, "typed.ipynb", "%load_ext perfect_nb", "print('cell ran')",
                   "%%perfect_flow typed\nfrom perfect_nb import Parameter, task\nn = Parameter('n', default=1)\nresult = task(lambda x: x + 1, name='inc')(n)")
    result = perfect("run", "typed.ipynb", "--flow", "typed", "--param", "n=abc", cwd=tmp_path)
    assert result.returncode == 2 and "--param n='abc': Needs a whole number, got 'abc'." in result.stderr, result.stderr
    assert "Running" not in result.stdout
