"""JupyterLab settings perfect_nb needs: saved notebooks keep their widgets' state.

JupyterLab draws a saved widget output from the widget state stored in the notebook,
and stores that state only when "Save Widget State Automatically" is on (off by
default). Without it, a notebook you saved and reopen with a new kernel shows
"Error displaying widget: model not found" where the DAG was. ``make lab`` and Binder
turn the setting on with this module; run it yourself for another JupyterLab::

    python -m perfect_nb.notebook.lab_settings          # this environment's JupyterLab
    python -m perfect_nb.notebook.lab_settings --check  # says whether it is on

It writes ``<prefix>/share/jupyter/lab/settings/overrides.json`` (keeping every other
setting in it), which JupyterLab reads as the default of each setting; a value you set
in JupyterLab's settings editor still wins.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> path = install(folder)
>>> is_installed(folder), path.name
(True, 'overrides.json')
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["OVERRIDES", "install", "is_installed", "settings_dir"]

#: The settings perfect_nb sets, by JupyterLab plugin id.
OVERRIDES: dict[str, dict] = {"@jupyter-widgets/jupyterlab-manager:plugin": {"saveState": True}}


def settings_dir(prefix: str | Path = sys.prefix) -> Path:
    """JupyterLab's application settings folder of the environment at ``prefix``."""
    return Path(prefix) / "share" / "jupyter" / "lab" / "settings"


def _read(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text() or "{}")
    except json.JSONDecodeError as exc:
        raise SystemExit(f"{path} is not valid JSON ({exc}): fix or remove it, then run this again.") from None
    if not isinstance(data, dict):
        raise SystemExit(f"{path} must hold a JSON object of settings by plugin id: fix or remove it.")
    return data


def install(folder: Path | None = None) -> Path:
    """Merge :data:`OVERRIDES` into ``folder/overrides.json`` (default: this environment's)."""
    path = (folder or settings_dir()) / "overrides.json"
    data = _read(path)
    for plugin, values in OVERRIDES.items():
        data.setdefault(plugin, {}).update(values)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def is_installed(folder: Path | None = None) -> bool:
    """Whether ``folder/overrides.json`` already has every value of :data:`OVERRIDES`."""
    data = _read((folder or settings_dir()) / "overrides.json")
    return all(data.get(plugin, {}).get(key) == value for plugin, values in OVERRIDES.items() for key, value in values.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m perfect_nb.notebook.lab_settings", description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefix", default=sys.prefix, help="The environment whose JupyterLab to set (default: this one).")
    parser.add_argument("--check", action="store_true", help="Only say whether the settings are on; exit 1 if not.")
    args = parser.parse_args(argv)
    folder = settings_dir(args.prefix)
    if args.check:
        on = is_installed(folder)
        print(f"JupyterLab saves widget state in notebooks: {'yes' if on else 'no'} ({folder / 'overrides.json'})")
        return 0 if on else 1
    print(f"JupyterLab will save widget state in notebooks: {install(folder)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
