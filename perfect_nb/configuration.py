"""User configuration: defaults, ``$PERFECT_NB_HOME/config.toml``, then environment variables.

The home folder is ``$PERFECT_NB_HOME`` (default ``~/.perfect_nb``). Its
``config.toml`` holds sections of keys; an environment variable
``PERFECT_NB__SECTION__KEY`` (or Prefect 1's ``PREFECT__SECTION__KEY``) wins
over the file. Values are read as TOML scalars when they parse as one.

>>> import os, tempfile
>>> os.environ["PERFECT_NB_HOME"] = tempfile.mkdtemp()
>>> load_config().backend.kind
'none'
>>> _ = set_user_config("backend", "kind", "server")
>>> load_config().backend.kind
'server'
>>> os.environ["PERFECT_NB__BACKEND__KIND"] = "none"
>>> load_config().backend.kind
'none'
>>> del os.environ["PERFECT_NB__BACKEND__KIND"], os.environ["PERFECT_NB_HOME"]
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

__all__ = ["DEFAULTS", "Config", "get_value", "home", "load_config", "set_user_config", "user_config_path"]

DEFAULTS: dict[str, dict[str, Any]] = {
    "backend": {"kind": "none", "api": "http://127.0.0.1:4200", "token": ""},
    "server": {"host": "127.0.0.1", "port": 4200, "database_url": "", "token": "", "keep_days": 30,
               "heartbeat_seconds": 5.0, "max_claims": 3, "late_after_seconds": 30.0, "schedule_horizon_hours": 24.0, "schedule_max_runs": 10},
}
_PREFIXES = ("PERFECT_NB__", "PREFECT__")
_cache: dict[str, tuple[tuple, dict]] = {}


class Config(dict):
    """A nested dict read by attribute: ``config.backend.api``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no configuration key {name!r}; known keys: {sorted(self)}") from None


def home() -> Path:
    """The perfect_nb home folder (not created here)."""
    return Path(os.environ.get("PERFECT_NB_HOME") or Path.home() / ".perfect_nb")


def user_config_path() -> Path:
    return home() / "config.toml"


def _read_user_file(path: Path) -> dict:
    try:
        stat = path.stat()
    except OSError:
        return {}
    cached = _cache.get(str(path))
    mtime = (stat.st_mtime_ns, stat.st_size)
    if cached and cached[0] == mtime:
        return cached[1]
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path} is not valid TOML ({exc}); fix or delete it.") from None
    _cache[str(path)] = (mtime, data)
    return data


def _scalar(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def load_config() -> Config:
    """The configuration in force now (cheap: the file is parsed again only when it changed)."""
    merged: dict[str, dict] = {section: dict(keys) for section, keys in DEFAULTS.items()}
    for section, keys in _read_user_file(user_config_path()).items():
        if isinstance(keys, dict):
            merged.setdefault(section, {}).update(keys)
    for prefix in reversed(_PREFIXES):  # PERFECT_NB__ wins over PREFECT__
        for name, value in os.environ.items():
            if name.startswith(prefix) and name.count("__") >= 2:
                section, key = name[len(prefix):].lower().split("__", 1)
                merged.setdefault(section, {})[key] = _scalar(value)
    return Config({section: Config(keys) for section, keys in merged.items()})


def get_value(section: str, key: str) -> Any:
    """One key, as :func:`load_config` would give it, without merging the rest (what
    ``flow.run`` asks on every run, so it costs a stat and two dict look-ups).

    >>> get_value("backend", "kind") == load_config().backend.kind
    True
    """
    for prefix in _PREFIXES:
        value = os.environ.get(f"{prefix}{section.upper()}__{key.upper()}")
        if value is not None:
            return _scalar(value)
    from_file = _read_user_file(user_config_path()).get(section)
    if isinstance(from_file, dict) and key in from_file:
        return from_file[key]
    return DEFAULTS.get(section, {}).get(key)


def set_user_config(section: str, key: str, value: Any) -> Path:
    """Write one key to the user's ``config.toml`` (other keys are kept) and return its path."""
    import tomli_w

    path = user_config_path()
    data = dict(_read_user_file(path))
    data[section] = {**data.get(section, {}), key: value}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(tomli_w.dumps(data))
    os.chmod(tmp, 0o600)  # it may hold a token
    tmp.replace(path)
    _cache.pop(str(path), None)
    return path
