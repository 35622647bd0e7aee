"""``Secret``: a named secret value for a flow run, as Prefect 1's ``prefect.client.secrets``.

A secret is looked up, first match wins, in

1. ``perfect_nb.context.secrets`` (a dict: ``with context(secrets={"KEY": "v"}):``),
2. the environment: ``PERFECT_NB__CONTEXT__SECRETS__KEY``, then Prefect 1's
   ``PREFECT__CONTEXT__SECRETS__KEY`` (the name is case-sensitive),
3. the ``[context.secrets]`` table of the user's ``config.toml``.

A string value that is JSON (``'{"user": "ann"}'``, ``'5'``) is returned decoded, as in
Prefect 1. perfect_nb's server stores no secrets, so there is no server look-up.

This module imports no HTTP client; note that ``import perfect_nb.client.secrets`` still
runs ``perfect_nb/client/__init__.py``, which imports ``Client`` (and so httpx).

>>> from perfect_nb import context
>>> with context(secrets={"API_KEY": '{"token": "abc"}'}):
...     Secret("API_KEY").get()
{'token': 'abc'}
>>> Secret("NOT_SET_ANYWHERE").exists()
False
"""

from __future__ import annotations

import json
import os
from typing import Any

from perfect_nb.core.context import context

__all__ = ["Secret"]

_ENV_PREFIXES = ("PERFECT_NB__CONTEXT__SECRETS__", "PREFECT__CONTEXT__SECRETS__")
_MISSING = object()


def _lookup(name: str) -> Any:
    secrets = context.get("secrets") or {}
    if name in secrets:
        return secrets[name]
    for prefix in _ENV_PREFIXES:
        value = os.environ.get(prefix + name)
        if value is not None:
            return value
    from perfect_nb import configuration

    table = configuration._read_user_file(configuration.user_config_path()).get("context", {})
    table = table.get("secrets", {}) if isinstance(table, dict) else {}
    if isinstance(table, dict) and name in table:
        return table[name]
    return _MISSING


class Secret:
    """The secret called ``name``; ``get()`` reads its value, ``exists()`` says whether it is set."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:  # never the value
        return f"<Secret: {self.name!r}>"

    def exists(self) -> bool:
        return _lookup(self.name) is not _MISSING

    def get(self) -> Any:
        """The value; ``ValueError`` if it is not set, or if called while a flow is being built."""
        if context.get("flow") is not None:  # inside `with Flow(...)`; a run drops this key
            raise ValueError("Secrets should only be retrieved during a Flow run, not while building a Flow.")
        value = _lookup(self.name)
        if value is _MISSING:
            raise ValueError(f'Local Secret "{self.name}" was not found.')
        if isinstance(value, (str, bytes)):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value
