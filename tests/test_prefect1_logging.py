"""``utilities.logging.get_logger`` and the names task loggers have, as in Prefect 1.4.1
(issue 14, section 2). The same script ran on 1.4.1 and here; docstrings quote 1.4.1.
"""

from __future__ import annotations

import logging

import pytest

from perfect_nb import Flow, Task, context, task
from perfect_nb.executors import LocalDaskExecutor
from perfect_nb.utilities.logging import get_logger, task_logger


class Keep(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.seen = []

    def emit(self, record):
        self.seen.append((record.name, record.levelname, record.getMessage()))


@pytest.fixture
def attach():
    added = []

    def add(logger):
        handler = Keep()
        logger.addHandler(handler)
        added.append((logger, handler))
        return handler

    yield add
    for logger, handler in added:
        logger.removeHandler(handler)


def test_get_logger_names_as_prefect1():
    """1.4.1: get_logger().name 'prefect', get_logger("Task B").name 'prefect.Task B' (level
    NOTSET, so the parent's INFO applies); a task's self.logger is get_logger(task.name)."""
    assert get_logger().name == "perfect_nb" and get_logger("Task B").name == "perfect_nb.Task B"
    assert get_logger("Task B").level == logging.NOTSET
    named = task(lambda: 1, name="Task B")
    assert named.logger is get_logger("Task B") is task_logger("Task B")


@pytest.mark.parametrize("executor", [None, "threads"])
def test_a_tasks_records_reach_get_logger_handlers(attach, executor):
    """1.4.1: with a handler on get_logger("Task B"), one on get_logger("C") and one on
    get_logger(), a run of task "Task B" (context.get("logger").info) and a Task subclass C
    (self.logger.warning) gave ('prefect.Task B', 'INFO', 'from context logger') and
    ('prefect.C', 'WARNING', 'from self.logger'), each seen by the task's handler and again by
    the package logger's handler. (1.4.1 also logged its runner lines to prefect.TaskRunner
    at INFO; ours stay quiet at INFO, a kept difference.)"""

    @task(name="Task B")
    def b():
        context.get("logger").info("from context logger")
        return 1

    class C(Task):
        def run(self):
            self.logger.warning("from self.logger")

    on_b, on_c, on_root = attach(get_logger("Task B")), attach(get_logger("C")), attach(get_logger())
    with Flow("logs") as flow:
        b()
        C()()
    kwargs = {"executor": LocalDaskExecutor(scheduler="threads", num_workers=2)} if executor else {}
    assert flow.run(**kwargs).is_successful()
    assert on_b.seen == [("perfect_nb.Task B", "INFO", "from context logger")]
    assert on_c.seen == [("perfect_nb.C", "WARNING", "from self.logger")]
    assert set(on_root.seen) >= set(on_b.seen + on_c.seen)


def test_set_level_on_one_task_logger(attach):
    """As in 1.4.1 (the logger is the task's own): get_logger("chatty").setLevel(DEBUG) lets that
    task's debug lines through while the package stays at INFO."""

    @task
    def chatty():
        chatty.logger.debug("detail")

    @task
    def quiet():
        quiet.logger.debug("hidden")

    seen = attach(get_logger())
    get_logger("chatty").setLevel(logging.DEBUG)
    try:
        with Flow("levels") as flow:
            chatty()
            quiet()
        flow.run()
    finally:
        get_logger("chatty").setLevel(logging.NOTSET)
    assert [m for _, _, m in seen.seen if m in ("detail", "hidden")] == ["detail"]


def test_temporary_logger_config_sets_level_and_console_format_for_a_block():
    """1.4.1: inside temporary_logger_config(level="DEBUG", stream_fmt="%(levelname)s|%(name)s|
    %(message)s") the yielded logger is 'prefect' at level 10 and a debug line printed
    'DEBUG|prefect.x|inside'; after the block the level was 20 again, the debug line hidden and
    the usual format back."""
    import io

    from perfect_nb.utilities.logging import configure_logging, temporary_logger_config

    console = next(h for h in configure_logging().handlers if getattr(h, "_perfect_nb", False))
    printed = io.StringIO()
    before = console.setStream(printed)
    try:
        level = get_logger().level
        with temporary_logger_config(level="DEBUG", stream_fmt="%(levelname)s|%(name)s|%(message)s") as logger:
            assert (logger.name, logger.level) == ("perfect_nb", logging.DEBUG)
            get_logger("x").debug("inside")
        get_logger("x").debug("outside")
        get_logger("x").warning("after")
    finally:
        console.setStream(before)
    lines = printed.getvalue().splitlines()
    assert lines[0] == "DEBUG|perfect_nb.x|inside" and len(lines) == 2
    assert lines[1].endswith("WARNING - perfect_nb.x | after") and get_logger().level == level
