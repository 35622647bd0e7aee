"""binder/ builds the environment pyproject.toml describes (checked here, without building it)."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def lower_bounds(requirements: list[str]) -> dict[str, str | None]:
    """Canonical name -> the version after ``>=`` (None when there is no lower bound)."""
    bounds = {}
    for line in requirements:
        req = Requirement(line)
        lows = [spec.version for spec in req.specifier if spec.operator == ">="]
        bounds[canonicalize_name(req.name)] = lows[0] if lows else None
    return bounds


def lines(path: Path) -> list[str]:
    """The non-blank lines of ``path`` without comments."""
    stripped = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in stripped if line]


RUNTIME = lower_bounds(PYPROJECT["dependencies"])
DEV = lower_bounds(PYPROJECT["optional-dependencies"]["dev"])
BINDER_REQUIREMENTS = lower_bounds(lines(BINDER / "requirements.txt"))


def test_every_runtime_dependency_is_in_binder_with_the_same_lower_bound():
    missing = sorted(set(RUNTIME) - set(BINDER_REQUIREMENTS))
    assert not missing, f"add to binder/requirements.txt: {missing}"
    differ = {name: (low, BINDER_REQUIREMENTS[name]) for name, low in RUNTIME.items() if BINDER_REQUIREMENTS[name] != low}
    assert not differ, f"lower bounds differ (pyproject, binder): {differ}"


def test_binder_lists_nothing_pyproject_does_not_and_the_notebook_extras_match():
    declared = {**DEV, **RUNTIME}
    unknown = sorted(set(BINDER_REQUIREMENTS) - set(declared))
    assert not unknown, f"binder/requirements.txt lists packages pyproject.toml does not declare: {unknown}"
    differ = {name: (declared[name], low) for name, low in BINDER_REQUIREMENTS.items() if declared[name] != low}
    assert not differ, f"lower bounds differ (pyproject, binder): {differ}"
    for needed in ("jupyterlab", "ipykernel", "pandas", "pyarrow"):
        assert needed in BINDER_REQUIREMENTS, f"a notebook user needs {needed}"


def test_apt_installs_graphviz():
    assert "graphviz" in lines(BINDER / "apt.txt")


def test_post_build_is_an_executable_script_that_installs_the_package():
    post_build = BINDER / "postBuild"
    assert os.access(post_build, os.X_OK), "chmod +x binder/postBuild"
    text = post_build.read_text()
    assert text.startswith("#!/bin/bash\n")
    assert re.search(r"^python -m pip install .*(-e \.|\s\.)$", text, re.MULTILINE), text
    # and turns on JupyterLab's saving of widget state, as `make lab` does
    assert re.search(r"^python -m perfect_nb\.notebook\.lab_settings\b", text, re.MULTILINE), text
    assert re.search(r"^\t\$\(BIN\)/python -m perfect_nb\.notebook\.lab_settings$", (BINDER.parent / "Makefile").read_text(), re.MULTILINE)


def test_runtime_python_satisfies_requires_python():
    (runtime,) = lines(BINDER / "runtime.txt")
    version = re.fullmatch(r"python-(\d+\.\d+)", runtime)
    assert version, runtime
    assert SpecifierSet(PYPROJECT["requires-python"]).contains(version.group(1))
