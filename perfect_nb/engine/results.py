"""Results: where a task's value is persisted, and how it is read back.

The base class, ``Result``, and ``NoResult`` are in :mod:`perfect_nb.engine.result`
(re-exported here). A Result has a ``location`` (a template such as ``"{task_name}-{today}.pkl"``
or a callable), a ``serializer``, and ``read`` / ``write`` / ``exists``.

>>> import tempfile
>>> result = LocalResult(dir=tempfile.mkdtemp(), location="{name}.json", serializer=JSONSerializer())
>>> written = result.write([1, 2], name="numbers")
>>> written.location.endswith("numbers.json"), result.read(written.location).value
(True, [1, 2])
"""

from __future__ import annotations

import base64
import copy
import os
import string
import uuid
from pathlib import Path
from typing import Any

from perfect_nb.engine.result import NoResult, NoResultType, Result
from perfect_nb.engine.serializers import JSONSerializer, PandasSerializer, PickleSerializer, Serializer
from perfect_nb.utilities.files import read_regular_file

__all__ = [
    "ConstantResult", "JSONSerializer", "LocalResult", "NoResult", "NoResultType", "PandasSerializer",
    "PickleSerializer", "PrefectResult", "Result", "Serializer", "template_fields",
]


def template_fields(template: str) -> set[str]:
    """The top-level names a ``str.format`` template refers to.

    >>> sorted(template_fields("{task_name}-{parameters[n]}-{today}.pkl"))
    ['parameters', 'task_name', 'today']
    """
    names = set()
    for _, field, _, _ in string.Formatter().parse(template):
        if field:
            names.add(field.split(".", 1)[0].split("[", 1)[0])
    return names


class LocalResult(Result):
    """Files in ``dir`` (default ``~/.perfect_nb/results``), written atomically.

    A write goes to a temporary file in the same folder, then is renamed into
    place, so an interrupted run never leaves a truncated file behind. A
    relative ``dir`` is taken relative to the working folder at construction;
    a relative location is taken relative to ``dir``.
    """

    def __init__(self, dir: str | os.PathLike | None = None, validate_dir: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dir = (Path(dir).expanduser() if dir is not None else Path.home() / ".perfect_nb" / "results").absolute()
        if validate_dir:
            try:
                self.dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ValueError(f"LocalResult cannot use dir={str(self.dir)!r}: {exc}. Pass a writable folder.") from None

    def _path(self, location: str | os.PathLike) -> Path:
        """Where ``location`` is; a relative one must stay inside ``dir`` (``../`` out of it is refused)."""
        path = Path(location)
        if path.is_absolute():
            return path
        full = self.dir / path
        if not os.path.normpath(full).startswith(os.path.join(os.path.normpath(self.dir), "")):
            raise ValueError(
                f"location {os.fspath(location)!r} points outside the result folder {str(self.dir)!r}; "
                "keep it inside (no '../'), or give an absolute path to write elsewhere on purpose."
            )
        return full

    def read(self, location: str) -> "Result":
        new = copy.copy(self)
        new.location = str(self._path(location))
        new.value = self.serializer.deserialize(read_regular_file(self._path(location)))
        return new

    def write(self, value: Any, **kwargs: Any) -> "Result":
        new = self.format(**kwargs)
        location = new.location if isinstance(new.location, str) else self.default_location()
        path = self._path(location)
        data = self.serializer.serialize(value)
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, data)
        new.value, new.location = value, str(path)
        return new

    def exists(self, location: str, **kwargs: Any) -> bool:
        return self._path(location.format(**kwargs) if kwargs else location).exists()


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file next to ``path``, flush it to disk, then rename it over ``path``.

    The temporary file is created with mode 0o666 so the process umask applies,
    as for any file the user writes; it is removed if anything goes wrong.
    """
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class PrefectResult(Result):
    """Keeps the value in the location string itself (JSON by default): for small values."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("serializer", JSONSerializer())
        super().__init__(**kwargs)

    def read(self, location: str) -> "Result":
        new = copy.copy(self)
        new.location = location
        new.value = self.serializer.deserialize(self._decode(location))
        return new

    def write(self, value: Any, **kwargs: Any) -> "Result":
        new = self.format(**kwargs)
        data = self.serializer.serialize(value)
        new.value = value
        new.location = data.decode() if isinstance(self.serializer, JSONSerializer) else base64.b64encode(data).decode()
        return new

    def _decode(self, location: str) -> bytes:
        return location.encode() if isinstance(self.serializer, JSONSerializer) else base64.b64decode(location)

    def exists(self, location: str, **kwargs: Any) -> bool:
        try:
            self.read(location)
        except Exception:
            return False
        return True


class ConstantResult(Result):
    """A value known before the run (what a task's constant input is held in): reading
    gives the value back wherever it is asked for; nothing can be written.

    >>> ConstantResult(value=5).read("anywhere").value, ConstantResult(value=5).exists("x")
    (5, True)
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def read(self, location: str) -> "Result":
        return self

    def write(self, value: Any, **kwargs: Any) -> "Result":
        raise ValueError("Cannot write values to `ConstantResult` types: it holds a value given before the run.")

    def exists(self, location: str, **kwargs: Any) -> bool:
        return True
