"""`python -m perfect_nb.notebook.lab_settings`: turns on JupyterLab's saving of widget
state for an environment, keeping the user's other settings, with clear errors."""

from __future__ import annotations

import json

import pytest

from perfect_nb.notebook import lab_settings


def test_install_keeps_other_settings_and_check_says_whether_it_is_on(tmp_path, capsys):
    folder = lab_settings.settings_dir(tmp_path)
    folder.mkdir(parents=True)
    other = {"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"},
             "@jupyter-widgets/jupyterlab-manager:plugin": {"saveState": False, "other": 1}}
    (folder / "overrides.json").write_text(json.dumps(other))
    assert lab_settings.main(["--prefix", str(tmp_path), "--check"]) == 1
    assert "saves widget state in notebooks: no" in capsys.readouterr().out

    assert lab_settings.main(["--prefix", str(tmp_path)]) == 0
    written = json.loads((folder / "overrides.json").read_text())
    assert written["@jupyterlab/apputils-extension:themes"] == {"theme": "JupyterLab Dark"}
    assert written["@jupyter-widgets/jupyterlab-manager:plugin"] == {"saveState": True, "other": 1}
    assert lab_settings.main(["--prefix", str(tmp_path), "--check"]) == 0


def test_a_broken_overrides_file_is_named_and_left_as_it_was(tmp_path):
    folder = lab_settings.settings_dir(tmp_path)
    folder.mkdir(parents=True)
    (folder / "overrides.json").write_text("{not json")
    with pytest.raises(SystemExit, match=r"overrides.json is not valid JSON .*fix or remove it"):
        lab_settings.main(["--prefix", str(tmp_path)])
    assert (folder / "overrides.json").read_text() == "{not json"
