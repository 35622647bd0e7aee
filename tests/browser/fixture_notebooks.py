"""The small notebook the tests of the view's controls open (in the server's temporary root).

It is built here from code, not stored as .ipynb, so that nbval, which collects every
notebook under the paths `make test` passes it, does not run it a second time.
"""

from __future__ import annotations

import pathlib

import nbformat

#: The cell that defines the flow starts with ``%%perfect_flow FORM_FLOW``.
FORM_FLOW = "report"

# A parameter feeding a short chain: for the form, node selection and "Run this task".
FORM = [
    "%load_ext perfect_nb",
    '''\
import time

from perfect_nb import Parameter, task


@task
def numbers(n):
    time.sleep(0.5)
    return list(range(1, n + 1))


@task
def squares(xs):
    time.sleep(0.5)
    return [x * x for x in xs]


@task
def total(xs):
    time.sleep(0.5)
    return sum(xs)''',
    f'''\
%%perfect_flow {FORM_FLOW}
n = Parameter("n", default=3, help="How many numbers to square")
total(squares(numbers(n)))''',
]


#: Two cells define a flow of the same name, each with other tasks.
TWIN_FLOW = "twin"
TWINS = [
    "%load_ext perfect_nb",
    '''\
import time

from perfect_nb import Parameter, task


@task
def count(n):
    time.sleep(0.6)
    return list(range(n))


@task
def size(xs):
    time.sleep(0.6)
    return len(xs)


@task
def hello(who):
    return f"hello {who}"''',
    f'''\
%%perfect_flow {TWIN_FLOW}
n = Parameter("n", default=2)
size(count(n))''',
    f'''\
%%perfect_flow {TWIN_FLOW}
who = Parameter("who", default="you")
hello(who)''',
]


def write(path: pathlib.Path, cells: list[str]) -> pathlib.Path:
    """Write ``cells`` (code sources) as a Python 3 notebook at ``path``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, path)
    return path


def write_all(root: pathlib.Path) -> None:
    """Write the fixture notebook(s) into ``root`` (a copy the server serves)."""
    write(root / "browser-form.ipynb", FORM)
    write(root / "browser-twins.ipynb", TWINS)
    write(root / "browser-saved.ipynb", FORM)  # saved and reopened by its test
