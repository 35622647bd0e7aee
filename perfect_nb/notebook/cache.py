"""The notebook's result caches: one per flow name (one per cell), inside this kernel.

Flows run through ``%%perfect_flow`` or a FlowView use them by default. The
memory layer of each is bounded (``config.max_bytes``, 2 GiB by default; least
recently used results go first). With ``config.persist = True`` (or the magic's
``--persist``) picklable results are also written under ``config.directory``
(``.perfect_cache/`` in the kernel's working folder, i.e. beside the notebook),
so the same cell is a full hit after a kernel restart.

Results computed on Dask workers are sent back with their task's state and
stored here, in the kernel's process: the cache never holds futures, so it
outlives any cluster.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from perfect_nb.cache.runs import FlowCache
from perfect_nb.cache.store import DEFAULT_MAX_BYTES, ResultStore

__all__ = ["caches", "config", "get_cache"]


@dataclasses.dataclass
class CacheConfig:
    """Settings for caches created from now on (and ``persist`` for existing ones on their next run)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    persist: bool = False
    directory: str = ".perfect_cache"


config = CacheConfig()

#: flow name -> FlowCache
caches: dict[str, FlowCache] = {}


def _folder(name: str) -> Path:
    return Path(config.directory) / re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def get_cache(name: str, persist: bool | None = None) -> FlowCache:
    """The cache of flow ``name`` (created on first use); ``persist`` turns the disk layer on or off."""
    cache = caches.get(name)
    if cache is None:
        cache = caches[name] = FlowCache(ResultStore(max_bytes=config.max_bytes))
    wanted = config.persist if persist is None else persist
    if wanted and cache.store.directory is None:
        cache.store.directory = _folder(name)
    elif persist is False:
        cache.store.directory = None
    return cache
