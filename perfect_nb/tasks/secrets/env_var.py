"""``EnvVarSecret``: a secret read from an environment variable of the process running the task."""

from __future__ import annotations

import os
from typing import Any, Callable

from perfect_nb.tasks.secrets.base import SecretBase

__all__ = ["EnvVarSecret"]


class EnvVarSecret(SecretBase):
    """The value of environment variable ``name`` (``None`` if unset, or ``ValueError``
    with ``raise_if_missing=True``), passed through ``cast`` when given."""

    def __init__(self, name: str | None = None, cast: Callable[[Any], Any] | None = None,
                 raise_if_missing: bool = False, **kwargs: Any) -> None:
        self.cast = cast
        self.raise_if_missing = raise_if_missing
        super().__init__(name, **kwargs)

    def run(self, name: str | None = None) -> Any:
        name = self._name(name)
        if self.raise_if_missing and name not in os.environ:
            raise ValueError(f"Environment variable not set: {name}")
        value = os.environ.get(name)
        if value is not None and self.cast is not None:
            value = self.cast(value)
        return value
