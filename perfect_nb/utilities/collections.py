"""Prefect 1's ``prefect.utilities.collections``: ``DotDict``, ``as_nested_dict``, ``merge_dicts``.

>>> d = DotDict(a=1, b={"c": 2})
>>> d.a, d["b"], d.get("z", 0)
(1, {'c': 2}, 0)
>>> as_nested_dict({"x": {"y": 1}}, DotDict).x.y
1
>>> merge_dicts({"a": {"b": 1, "c": 2}}, {"a": {"b": 3}})
{'a': {'b': 3, 'c': 2}}
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any, Iterator

__all__ = ["DotDict", "as_nested_dict", "merge_dicts"]


class DotDict(MutableMapping):
    """A dict whose keys are also attributes (``d.key`` for ``d["key"]``).

    Values are kept as given: a nested plain dict stays a dict (use
    :func:`as_nested_dict` to convert the whole tree), as in Prefect 1.
    """

    def __init__(self, init_dict: Mapping | None = None, **kwargs: Any) -> None:
        if init_dict:
            self.update(init_dict)
        self.update(kwargs)

    def __getitem__(self, key: str) -> Any:
        return self.__dict__[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.__dict__[key] = value

    def __delitem__(self, key: str) -> None:
        del self.__dict__[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dict__)

    def __len__(self) -> int:
        return len(self.__dict__)

    def __getattr__(self, name: str) -> Any:  # only reached when the key is missing
        raise AttributeError(f"DotDict has no key {name!r}; keys: {sorted(self.__dict__)}")

    def __repr__(self) -> str:
        keys = ", ".join(repr(k) for k in sorted(self.__dict__))
        return f"<{type(self).__name__}: {keys}>" if keys else f"<{type(self).__name__}>"

    def copy(self) -> "DotDict":
        return type(self)(self.__dict__.copy())

    def to_dict(self) -> dict:
        """A plain dict, DotDicts inside it converted too."""
        return as_nested_dict(self, dict)


def as_nested_dict(obj: Any, dct_class: type = DotDict) -> Any:
    """``obj`` with every mapping in it (inside lists, tuples and sets too) turned into ``dct_class``."""
    if isinstance(obj, (list, tuple, set)):
        return type(obj)(as_nested_dict(item, dct_class) for item in obj)
    if isinstance(obj, Mapping):
        return dct_class({key: as_nested_dict(value, dct_class) for key, value in obj.items()})
    return obj


def merge_dicts(d1: MutableMapping, d2: Mapping) -> MutableMapping:
    """A copy of ``d1`` updated from ``d2``, merging nested mappings key by key
    (a value in ``d2`` wins, except that two mappings are merged)."""
    new = d1.copy()
    for key, value in d2.items():
        if isinstance(new.get(key), MutableMapping) and isinstance(value, Mapping):
            new[key] = merge_dicts(new[key], value)
        else:
            new[key] = value
    return new
