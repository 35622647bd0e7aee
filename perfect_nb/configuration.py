"""User configuration: defaults, ``$PERFECT_NB_HOME/config.toml``, then environment variables.

``perfect_nb.config`` is the configuration in force, read once when perfect_nb is
imported (as ``prefect.config`` is), a nested dict read by attribute:
``config.flows.checkpointing``. It merges, later winning:

1. the defaults below (the keys a Prefect 1 Core user reads: ``flows``, ``tasks.defaults``,
   ``logging``, ``context``, ``engine``, plus perfect_nb's ``backend`` and ``server``);
2. ``$PERFECT_NB_HOME/config.toml`` (default ``~/.perfect_nb``), where a string value may
   refer to another key (``"${home_dir}/results"``) or to an environment variable (``"$HOME"``);
3. environment variables ``PREFECT__SECTION__KEY`` (Prefect 1's), then
   ``PERFECT_NB__SECTION__KEY``; each ``__`` goes one level down
   (``PERFECT_NB__TASKS__DEFAULTS__MAX_RETRIES=2``). A value reads as Python
   would write it (``true``/``True``, ``3``, ``1.5``, ``None``, ``[1, 2]``), else as text.

``PREFECT__BACKEND``, ``PREFECT__SERVER__...`` and ``PREFECT__CLOUD__...`` are not read:
they configure Prefect Server or Cloud, whose settings mean other things here (set
``PERFECT_NB__BACKEND__KIND`` or ``PERFECT_NB__SERVER__PORT`` instead).

>>> import os, tempfile
>>> saved = os.environ.get("PERFECT_NB_HOME")
>>> os.environ["PERFECT_NB_HOME"] = tempfile.mkdtemp()
>>> load_config().backend.kind
'none'
>>> _ = set_user_config("backend", "kind", "server")
>>> load_config().backend.kind
'server'
>>> os.environ["PERFECT_NB__BACKEND__KIND"] = "none"
>>> load_config().backend.kind
'none'
>>> os.environ["PREFECT__TASKS__DEFAULTS__MAX_RETRIES"] = "2"
>>> load_config().tasks.defaults.max_retries
2
>>> del os.environ["PERFECT_NB__BACKEND__KIND"], os.environ["PREFECT__TASKS__DEFAULTS__MAX_RETRIES"]
>>> _ = os.environ.pop("PERFECT_NB_HOME") if saved is None else os.environ.update(PERFECT_NB_HOME=saved)
"""

from __future__ import annotations

import ast
import copy
import datetime as _dt
import os
import re
import tomllib
from pathlib import Path
from typing import Any

__all__ = ["DEFAULTS", "Config", "config", "get_value", "home", "load_config", "reload_config",
           "set_user_config", "user_config_path"]

LOG_FORMAT = "[%(asctime)s] %(levelname)s - %(name)s | %(message)s"

DEFAULTS: dict[str, Any] = {
    "debug": False,
    "home_dir": "",  # filled with $PERFECT_NB_HOME when loaded
    "backend": {"kind": "none", "api": "http://127.0.0.1:4200", "token": ""},
    "server": {"host": "127.0.0.1", "port": 4200, "database_url": "", "token": "", "keep_days": 30,
               "heartbeat_seconds": 5.0, "max_claims": 3, "late_after_seconds": 30.0, "schedule_horizon_hours": 24.0, "schedule_max_runs": 10},
    "flows": {
        "checkpointing": False,  # write task results (result=, target=) in a local flow.run()
        "run_on_schedule": True,  # flow.run() of a flow with a schedule runs on it
        "eager_edge_validation": False,
    },
    "tasks": {"defaults": {"max_retries": 0, "retry_delay": None, "timeout": None}},
    "logging": {"level": "INFO", "format": LOG_FORMAT, "datefmt": None,  # None: logging's own, with milliseconds
                "log_attributes": [], "extra_loggers": []},
    "context": {},  # every key here is a key of perfect_nb.context
    "engine": {
        "executor": {"default_class": "perfect_nb.executors.LocalExecutor"},
        "flow_runner": {"default_class": "perfect_nb.engine.flow_runner.FlowRunner"},
        "task_runner": {"default_class": "perfect_nb.engine.task_runner.TaskRunner"},
    },
}
_PREFIXES = ("PERFECT_NB__", "PREFECT__")  # the first wins
_NOT_FROM_PREFECT = ("backend", "server", "cloud")  # Prefect Server/Cloud settings: other meanings here
_cache: dict[str, tuple[tuple, dict]] = {}
_temporary: list[dict[str, Any]] = []  # set_temporary_config's dotted keys, innermost last


class Config(dict):
    """A nested dict read and written by attribute: ``config.flows.checkpointing``.

    >>> c = Config({"flows": {"checkpointing": False}})
    >>> c.flows.checkpointing = True
    >>> c.flows, c.get("nope")
    (Config({'checkpointing': True}), None)
    >>> c.nope
    Traceback (most recent call last):
    ...
    AttributeError: no configuration key 'nope'; known keys: ['flows']
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __setitem__(self, key: str, value: Any) -> None:
        if isinstance(value, dict) and not isinstance(value, Config):
            value = Config(value)
        super().__setitem__(key, value)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no configuration key {name!r}; known keys: {sorted(self)}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return f"Config({self.to_dict()!r})"

    def __deepcopy__(self, memo: dict) -> "Config":
        return Config({k: copy.deepcopy(v, memo) for k, v in self.items()})

    def copy(self) -> "Config":
        return copy.deepcopy(self)

    def to_dict(self) -> dict:
        """Plain nested dicts."""
        return {k: v.to_dict() if isinstance(v, Config) else v for k, v in self.items()}

    def set_nested(self, dotted: str, value: Any) -> None:
        """Set ``"a.b.c"``, creating the sections on the way."""
        *path, last = dotted.split(".")
        node = self
        for part in path:
            if not isinstance(node.get(part), dict):
                node[part] = Config()
            node = node[part]
        node[last] = value

    def get_nested(self, dotted: str, default: Any = None) -> Any:
        node: Any = self
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node


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
    """An environment variable's value: a bool, number, None, list or dict when it reads as one.

    >>> [_scalar(v) for v in ["true", "FALSE", "3", "1.5", "None", "[1, 2]", "007", "text", ""]]
    [True, False, 3, 1.5, None, [1, 2], '007', 'text', '']
    """
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def _merge(into: dict, new: dict) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


_REFERENCE = re.compile(r"\$\{([A-Za-z0-9_.]+)\}")


def _interpolate(node: dict, root: dict) -> None:
    """``"${section.key}"`` in a file's string value is that key's value; ``$VAR`` an environment variable's."""
    for key, value in node.items():
        if isinstance(value, dict):
            _interpolate(value, root)
        elif isinstance(value, str) and "$" in value:
            node[key] = _resolve(value, root, 0)


def _resolve(value: str, root: dict, depth: int) -> Any:
    """Replace ``${key}`` references, innermost first (``"${a.${b}}"``), then ``$VAR``s."""
    def one(match: re.Match) -> str:
        found = Config.get_nested(root, match.group(1))  # type: ignore[arg-type]
        if found is None:
            return match.group(0)  # not a key: maybe an environment variable, ``${HOME}``
        return str(_resolve(found, root, depth + 1) if isinstance(found, str) and depth < 10 else found)

    for _ in range(10):
        whole = _REFERENCE.fullmatch(value)
        if whole is not None:  # one reference: the key's value, with its type
            found = Config.get_nested(root, whole.group(1))  # type: ignore[arg-type]
            if found is not None:
                return _resolve(found, root, depth + 1) if isinstance(found, str) and depth < 10 else found
        new = _REFERENCE.sub(one, value)
        if new == value:
            break
        value = new
    return os.path.expandvars(value)


def _from_environment() -> dict:
    found: dict = {}
    for prefix in reversed(_PREFIXES):  # PERFECT_NB__ last, so it wins
        for name, value in os.environ.items():
            if not name.startswith(prefix) or len(name) == len(prefix):
                continue
            given = name[len(prefix):].split("__")
            path = [part.lower() for part in given]
            if prefix == "PREFECT__" and path[0] in _NOT_FROM_PREFECT:
                continue
            if path[:2] == ["context", "secrets"]:  # a secret's name keeps its case: ..._CONTEXT__SECRETS__MyKey
                path[2:] = given[2:]
            if "" in path or (len(path) == 1 and isinstance(DEFAULTS.get(path[0]), dict)):
                continue  # PREFECT__FLOWS=... would replace a whole section
            node = found
            for part in path[:-1]:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
            node[path[-1]] = _scalar(value)
    return found


def _normalise(merged: dict) -> None:
    """Types Prefect 1 gives: ``tasks.defaults.retry_delay`` and ``timeout`` in seconds become timedeltas."""
    defaults = merged.get("tasks", {}).get("defaults", {})
    for key in ("retry_delay", "timeout"):
        value = defaults.get(key)
        if value is False:  # Prefect 1's config.toml writes "no default" as false
            defaults[key] = None
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and key == "retry_delay":
            defaults[key] = _dt.timedelta(seconds=value)
    if defaults.get("max_retries") is False:
        defaults["max_retries"] = 0


def load_config() -> Config:
    """The configuration as the defaults, the user's file and the environment give it now.

    ``perfect_nb.config`` is this, read at import; :func:`reload_config` reads it again in place.
    """
    merged: dict = copy.deepcopy(DEFAULTS)
    merged["home_dir"] = str(home())
    user = {k: v for k, v in _read_user_file(user_config_path()).items()}
    _merge(merged, user)
    _interpolate(merged, merged)
    _merge(merged, _from_environment())
    _normalise(merged)
    for overrides in _temporary:
        for dotted, value in overrides.items():
            Config.set_nested(merged, dotted, value)  # type: ignore[arg-type]
    return Config(merged)


def reload_config() -> Config:
    """Read the configuration again into ``perfect_nb.config`` (after changing the file or the
    environment in a running kernel); a ``set_temporary_config`` block still in force is kept."""
    fresh = load_config()
    config.clear()
    config.update(fresh)
    return config


def get_value(section: str, key: str) -> Any:
    """One key, as :func:`load_config` would give it now, without merging the rest (what
    ``flow.run`` asks on every run, so it costs a stat and two dict look-ups). A
    ``set_temporary_config`` block wins over everything.

    >>> get_value("backend", "kind") == load_config().backend.kind
    True
    """
    for overrides in reversed(_temporary):
        dotted = f"{section}.{key}"
        if dotted in overrides:
            return overrides[dotted]
    for prefix in _PREFIXES:
        if prefix == "PREFECT__" and section in _NOT_FROM_PREFECT:
            continue
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


def _load_at_import() -> Config:
    try:
        return load_config()
    except ValueError as exc:  # a broken config.toml: say so, and keep perfect_nb importable
        import warnings

        warnings.warn(f"{exc} Until then perfect_nb.config uses the defaults and the environment.", stacklevel=3)
        merged = copy.deepcopy(DEFAULTS)
        merged["home_dir"] = str(home())
        _merge(merged, _from_environment())
        _normalise(merged)
        return Config(merged)


config: Config = _load_at_import()
