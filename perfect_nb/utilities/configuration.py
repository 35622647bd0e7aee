"""``set_temporary_config``: change ``perfect_nb.config`` for a block, as in Prefect 1.

>>> from perfect_nb import config
>>> from perfect_nb.utilities.configuration import set_temporary_config
>>> with set_temporary_config({"flows.checkpointing": True, "my.new.key": 1}):
...     config.flows.checkpointing, config.my.new.key
(True, 1)
>>> config.flows.checkpointing, "my" in config
(False, False)
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any, Iterator

from perfect_nb.configuration import Config, _temporary, config

__all__ = ["set_temporary_config"]


@contextlib.contextmanager
def set_temporary_config(temp_config: dict[str, Any]) -> Iterator[Config]:
    """Set the dotted keys of ``temp_config`` (``{"flows.checkpointing": True}``) in
    ``perfect_nb.config`` for the block, then put back what was there.

    The change is global (every thread sees it), as in Prefect 1; sections a key
    needs are created and removed afterwards. Yields the config.
    """
    if not isinstance(temp_config, dict):
        raise TypeError(f"set_temporary_config takes a dict of dotted keys, e.g. {{'flows.checkpointing': True}}; got {temp_config!r}.")
    saved = copy.deepcopy(config)
    overrides = dict(temp_config)
    try:
        for dotted, value in overrides.items():
            config.set_nested(dotted, value)
        _temporary.append(overrides)
        yield config
    finally:
        if overrides in _temporary:
            _temporary.remove(overrides)
        _restore(config, saved)


def _restore(current: dict, saved: dict) -> None:
    """Make ``current`` equal ``saved`` again, keeping the section objects that existed before."""
    for key in [k for k in current if k not in saved]:
        del current[key]
    for key, value in saved.items():
        if isinstance(value, dict) and isinstance(current.get(key), dict):
            _restore(current[key], value)
        else:
            dict.__setitem__(current, key, value)
