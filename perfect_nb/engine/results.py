"""Results: where a task's value is persisted, and how it is read back.

A Result has a ``location`` (a template such as ``"{task_name}-{today}.pkl"``
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
from typing import Any, Callable

from perfect_nb.engine.serializers import JSONSerializer, PandasSerializer, PickleSerializer, Serializer
from perfect_nb.utilities.files import read_regular_file

__all__ = ["JSONSerializer", "LocalResult", "PandasSerializer", "PickleSerializer", "PrefectResult", "Result", "Serializer", "template_fields"]


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


class Result:
    """Base class of results.

    Parameters
    ----------
    value : Any, optional
    location : str or callable, optional
        Where the value lives; a template formatted with the run's context and inputs.
    serializer : Serializer, optional
        Defaults to PickleSerializer.
    """

    def __init__(self, value: Any = None, location: str | Callable | None = None, serializer: Serializer | None = None) -> None:
        self.value = value
        self.location = location
        self.serializer = serializer or PickleSerializer()

    def format(self, **kwargs: Any) -> "Result":
        """A copy whose ``location`` is formatted with ``kwargs``."""
        new = copy.copy(self)
        if callable(self.location):
            new.location = os.fspath(self.location(**kwargs))
        elif isinstance(self.location, str) and kwargs:
            new.location = self.location.format(**kwargs)
        elif isinstance(self.location, os.PathLike):
            new.location = os.fspath(self.location)
        return new

    def default_location(self) -> str:
        return f"{uuid.uuid4()}.prefect_result"

    def read(self, location: str) -> "Result":
        """A copy holding the value stored at ``location``."""
        raise self._no_storage()

    def write(self, value: Any, **kwargs: Any) -> "Result":
        """Store ``value``; return a copy whose ``location`` says where."""
        raise self._no_storage()

    def exists(self, location: str, **kwargs: Any) -> bool:
        """Whether a value is stored at ``location``."""
        raise self._no_storage()

    def _no_storage(self) -> TypeError:
        # Prefect 1 lets the base class be built (for its location and format), not stored to
        return TypeError(f"{type(self).__name__} has no storage: use LocalResult(dir=...) or PrefectResult().")

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.location!r}>"


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
