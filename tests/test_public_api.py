"""The public API: ``perfect_nb.__all__``, the Prefect 1 import paths, and what importing pulls in."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import pytest

import perfect_nb

EXPECTED_ALL = [
    "DateTimeParameter",
    "Flow",
    "FlowRunner",
    "Parameter",
    "Task",
    "TaskRunner",
    "__version__",
    "apply_map",
    "case",
    "config",
    "context",
    "flatten",
    "load_ipython_extension",
    "mapped",
    "resource_manager",
    "tags",
    "task",
    "triggers",
    "unmapped",
]


def test_all_is_sorted_and_exactly_the_public_names():
    assert perfect_nb.__all__ == sorted(perfect_nb.__all__)
    assert perfect_nb.__all__ == EXPECTED_ALL


@pytest.mark.parametrize("name", EXPECTED_ALL)
def test_every_public_name_exists(name):
    assert getattr(perfect_nb, name) is not None


def test_version_is_a_string():
    assert isinstance(perfect_nb.__version__, str) and perfect_nb.__version__.count(".") == 2


# Prefect 1 import paths: (module, names, where each name really lives)
IMPORT_PATHS = [
    ("perfect_nb", ["task", "Task", "Flow", "Parameter", "context", "tags", "unmapped", "flatten"], None),
    ("perfect_nb.engine.state", ["Success", "Failed", "Pending", "Running", "Scheduled", "Retrying", "Skipped",
                                 "Mapped", "Cached", "TriggerFailed", "TimedOut", "Paused", "Resume", "Looped",
                                 "Cancelled", "Submitted", "Queued", "Finished", "State"], None),
    ("perfect_nb.engine", ["signals", "state", "FlowRunner", "TaskRunner"], None),
    ("perfect_nb.engine.signals", ["FAIL", "SUCCESS", "SKIP", "RETRY", "LOOP", "PAUSE", "ENDRUN", "TRIGGERFAIL"], None),
    ("perfect_nb", ["triggers"], None),
    ("perfect_nb.triggers", ["all_finished", "all_successful", "always_run", "manual_only", "any_failed",
                             "some_successful", "not_all_skipped"], "perfect_nb.engine.triggers"),
    ("perfect_nb.executors", ["LocalExecutor"], "perfect_nb.executors.local"),
    ("perfect_nb.utilities.edges", ["unmapped", "flatten", "mapped"], "perfect_nb.core.edge"),
    ("perfect_nb.core", ["Task", "Flow", "Edge", "Parameter"], None),
    ("perfect_nb.engine.flow_runner", ["FlowRunner"], None),
    ("perfect_nb.engine.task_runner", ["TaskRunner"], None),
    ("perfect_nb.tasks.core.constants", ["Constant"], None),
    ("perfect_nb.errors", ["PerfectError", "FlowValidationError", "CycleError", "ParameterError"], None),
    ("perfect_nb.exceptions", ["PrefectException", "ClientError", "AuthorizationError", "ObjectNotFoundError",
                               "FlowStorageError", "PrefectSignal", "TaskTimeoutSignal",
                               "VersionLockMismatchSignal"], None),
    ("perfect_nb.utilities.debug", ["raise_on_exception", "is_serializable"], None),
    ("perfect_nb.utilities.collections", ["DotDict", "as_nested_dict", "merge_dicts"], None),
    ("perfect_nb.utilities.tasks", ["task", "unmapped", "tags"], "perfect_nb"),
    ("perfect_nb.utilities.tasks", ["as_task"], "perfect_nb.core.task"),
    ("perfect_nb.utilities.tasks", ["defaults_from_attrs", "pause_task"], None),
    ("perfect_nb.tasks.shell", ["ShellTask"], None),
    ("perfect_nb.tasks.templates", ["StringFormatter", "JinjaTemplate"], "perfect_nb.tasks.templates.strings"),
    ("perfect_nb.tasks.database.sqlite", ["SQLiteQuery", "SQLiteScript"], None),
    ("perfect_nb.tasks.files", ["Copy", "Move", "Remove", "Glob"], "perfect_nb.tasks.files.operations"),
    ("perfect_nb.tasks.files", ["Zip", "Unzip"], "perfect_nb.tasks.files.compression"),
    ("perfect_nb.tasks.secrets", ["PrefectSecret", "SecretBase", "EnvVarSecret"], None),
    ("perfect_nb.client.secrets", ["Secret"], None),
    ("perfect_nb", ["case"], "perfect_nb.tasks.control_flow"),
    ("perfect_nb", ["apply_map"], "perfect_nb.utilities.tasks"),
    ("perfect_nb", ["resource_manager"], "perfect_nb.tasks.core.resource_manager"),
    ("perfect_nb.tasks.core.function", ["FunctionTask"], "perfect_nb.core.task"),
    ("perfect_nb.tasks.core.operators", ["GetItem", "GetAttr", "Add", "Sub", "Mul", "Div", "FloorDiv", "Pow", "Mod",
                                         "And", "Or", "Not", "Equal", "NotEqual", "GreaterThanOrEqual", "GreaterThan",
                                         "LessThanOrEqual", "LessThan"], None),
    ("perfect_nb.tasks.core.collections", ["VarArgsTask", "List", "Tuple", "Set", "Dict"], None),
    ("perfect_nb.tasks.core.resource_manager", ["ResourceManager", "ResourceInitTask", "ResourceSetupTask",
                                                "ResourceCleanupTask", "ResourceContext", "resource_manager",
                                                "resource_cleanup_trigger"], None),
    ("perfect_nb.schedules.clocks", ["RRuleClock"], None),
    ("perfect_nb.tasks.notifications", ["SlackTask"], "perfect_nb.tasks.notifications.slack_task"),
    ("perfect_nb.tasks.notifications", ["EmailTask"], "perfect_nb.tasks.notifications.email_task"),
    ("perfect_nb.utilities.logging", ["get_logger"], None),
    ("perfect_nb", ["config", "context"], None),
    ("perfect_nb.configuration", ["config", "Config"], None),
    ("perfect_nb.utilities.configuration", ["set_temporary_config"], None),
    ("perfect_nb.utilities.context", ["Context", "context"], "perfect_nb.core.context"),
]


@pytest.mark.parametrize("module, names, home", IMPORT_PATHS, ids=[row[0] + ":" + row[1][0] for row in IMPORT_PATHS])
def test_prefect1_import_paths(module, names, home):
    imported = importlib.import_module(module)
    for name in names:
        value = getattr(imported, name)
        if home is not None:
            assert value is getattr(importlib.import_module(home), name), name


@pytest.mark.parametrize(
    "one, other",
    [
        ("perfect_nb.core.Task", "perfect_nb.Task"),
        ("perfect_nb.core.Flow", "perfect_nb.Flow"),
        ("perfect_nb.core.Parameter", "perfect_nb.Parameter"),
        ("perfect_nb.core.Edge", "perfect_nb.core.edge.Edge"),
        ("perfect_nb.engine.FlowRunner", "perfect_nb.FlowRunner"),
        ("perfect_nb.engine.TaskRunner", "perfect_nb.TaskRunner"),
        ("perfect_nb.utilities.edges.unmapped", "perfect_nb.unmapped"),
        ("perfect_nb.triggers.all_finished", "perfect_nb.engine.triggers.all_finished"),
        ("perfect_nb.exceptions.PrefectSignal", "perfect_nb.engine.signals.PrefectSignal"),
        ("perfect_nb.exceptions.ClientError", "perfect_nb.errors.ClientError"),
        ("perfect_nb.exceptions.ClientError", "perfect_nb.client.ClientError"),
        ("perfect_nb.exceptions.PrefectException", "perfect_nb.errors.PerfectError"),
        ("perfect_nb.utilities.tasks.as_task", "perfect_nb.core.task.as_task"),
        ("perfect_nb.apply_map", "perfect_nb.utilities.tasks.apply_map"),
        ("perfect_nb.tasks.core.function.FunctionTask", "perfect_nb.core.task.FunctionTask"),
    ],
)
def test_each_path_gives_the_same_object(one, other):
    def resolve(path):
        module, _, name = path.rpartition(".")
        return getattr(importlib.import_module(module), name)

    assert resolve(one) is resolve(other)


@pytest.mark.parametrize(
    "module",
    [
        "perfect_nb.core", "perfect_nb.engine", "perfect_nb.utilities.edges", "perfect_nb.triggers",
        "perfect_nb.engine.state", "perfect_nb.engine.signals", "perfect_nb.engine.triggers",
        "perfect_nb.core.task", "perfect_nb.core.flow", "perfect_nb.core.parameter", "perfect_nb.core.edge",
        "perfect_nb.core.context", "perfect_nb.errors", "perfect_nb.tasks.core.constants",
        "perfect_nb.tasks.core.operators", "perfect_nb.tasks.core.collections", "perfect_nb.executors",
        "perfect_nb.exceptions", "perfect_nb.utilities.debug", "perfect_nb.utilities.collections",
        "perfect_nb.utilities.tasks", "perfect_nb.tasks.shell", "perfect_nb.tasks.templates",
        "perfect_nb.tasks.database.sqlite", "perfect_nb.tasks.files", "perfect_nb.tasks.secrets",
        "perfect_nb.client.secrets", "perfect_nb.tasks.core.function", "perfect_nb.tasks.core.resource_manager",
        "perfect_nb.tasks.notifications", "perfect_nb.schedules.clocks", "perfect_nb.utilities.logging",
    ],
)
def test_module_all_is_sorted_and_resolves(module):
    imported = importlib.import_module(module)
    names = imported.__all__
    assert list(names) == sorted(names)
    for name in names:
        assert hasattr(imported, name), name


def test_triggers_module_reexports_every_trigger():
    from perfect_nb import triggers
    from perfect_nb.engine import triggers as engine_triggers

    assert triggers.__all__ == engine_triggers.__all__


def test_importing_and_running_a_flow_stays_clear_of_notebook_and_cluster_packages():
    script = textwrap.dedent(
        """
        import sys
        import perfect_nb
        from perfect_nb import Flow, Parameter, task

        @task
        def plus_one(x):
            return x + 1

        with Flow("boundary") as flow:
            result = plus_one(Parameter("x", default=1))
        state = flow.run()
        assert state.result[result].result == 2, state
        loaded = [m for m in ("IPython", "ipywidgets", "graphviz", "distributed") if m in sys.modules]
        print("LOADED", loaded)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stdout, done.stdout


def test_prefect1_submodules_and_client_are_attributes_of_the_package():
    """After `import prefect`, 1.4.1 has prefect.schedules, prefect.executors, prefect.exceptions,
    prefect.utilities and prefect.Client; here they are reached on first use, and only Client
    (which needs httpx) loads httpx."""
    script = textwrap.dedent(
        """
        import sys
        import perfect_nb
        assert perfect_nb.schedules.IntervalSchedule and perfect_nb.executors.LocalExecutor
        assert perfect_nb.exceptions.PrefectException and perfect_nb.utilities.logging.get_logger
        print("HTTPX", "httpx" in sys.modules)
        from perfect_nb.client import Client
        assert perfect_nb.Client is Client
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "HTTPX False" in done.stdout
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        perfect_nb.nope  # noqa: B018
