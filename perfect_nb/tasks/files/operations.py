"""``Copy``, ``Move``, ``Remove`` and ``Glob``: file-system tasks returning ``pathlib.Path`` values.

A missing argument or a missing source raises ``ValueError`` (the task ends Failed), as in Prefect 1.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from perfect_nb.core.task import Task
from perfect_nb.utilities.tasks import defaults_from_attrs

__all__ = ["Copy", "Glob", "Move", "Remove"]



def _given(value: Any, name: str) -> Path:
    if not value:
        raise ValueError(f"No `{name}` provided.")
    return Path(value)


def _existing(path: Path, what: str = "Source path") -> Path:
    if not path.exists():
        raise ValueError(f"{what} ({path}) not found")
    return path


class _SourceTarget(Task):
    def __init__(self, source_path: str | Path = "", target_path: str | Path = "", **kwargs: Any) -> None:
        self.source_path = source_path
        self.target_path = target_path
        super().__init__(**kwargs)


class Copy(_SourceTarget):
    """Copy a file (``shutil.copy``: into ``target_path`` if it is a folder) or a whole
    folder (``shutil.copytree``); the result is the path written."""

    @defaults_from_attrs("source_path", "target_path")
    def run(self, source_path: str | Path = "", target_path: str | Path = "") -> Path:
        source = _existing(_given(source_path, "source_path"))
        target = _given(target_path, "target_path")
        self.logger.info("Copying %s to %s...", source, target)
        out = shutil.copytree(source, target) if source.is_dir() else shutil.copy(source, target)
        return Path(out)


class Move(_SourceTarget):
    """Move a file or folder (``shutil.move``); the result is its new path."""

    @defaults_from_attrs("source_path", "target_path")
    def run(self, source_path: str | Path = "", target_path: str | Path = "") -> Path:
        source = _existing(_given(source_path, "source_path"))
        target = _given(target_path, "target_path")
        self.logger.info("Moving %s to %s...", source, target)
        return Path(shutil.move(str(source), str(target)))


class Remove(Task):
    """Delete a file, or a folder and everything in it; the result is None."""

    def __init__(self, path: str | Path = "", **kwargs: Any) -> None:
        self.path = path
        super().__init__(**kwargs)

    @defaults_from_attrs("path")
    def run(self, path: str | Path = "") -> None:
        target = _existing(_given(path, "path"), "Path")
        self.logger.info("Removing %s...", target)
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()


class Glob(Task):
    """The paths under ``path`` matching ``pattern`` (``pathlib.Path.glob``, so ``**`` recurses),
    in the order the file system lists them."""

    def __init__(self, path: str | Path = "", pattern: str = "*", **kwargs: Any) -> None:
        self.path = path
        self.pattern = pattern
        super().__init__(**kwargs)

    @defaults_from_attrs("path", "pattern")
    def run(self, path: str | Path = "", pattern: str = "*") -> list[Path]:
        folder = _given(path, "path")
        self.logger.debug("Glob path: %s", folder / pattern)
        return list(folder.glob(pattern))
