"""Shared fixtures: an IPython shell with the extension loaded, and a clean notebook state."""

import pytest


@pytest.fixture
def ip():
    """The test IPython shell with perfect_nb loaded; views and caches emptied before and after."""
    from IPython.testing.globalipapp import get_ipython

    from perfect_nb.notebook import caches, views

    shell = get_ipython()
    shell.run_line_magic("load_ext", "perfect_nb")
    views.clear()
    caches.clear()
    yield shell
    views.clear()
    caches.clear()


@pytest.fixture
def run_cell(ip):
    """Run a cell and fail the test with the cell's own error if it raised."""

    def run(code: str):
        result = ip.run_cell(code)
        if result.error_before_exec or result.error_in_exec:
            raise result.error_before_exec or result.error_in_exec
        return result.result

    return run


@pytest.fixture
def perfect_nb_log(caplog):
    """caplog attached to the perfect_nb logger (which does not propagate), at INFO."""
    import logging

    logger = logging.getLogger("perfect_nb")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="perfect_nb")
    try:
        yield caplog
    finally:
        logger.removeHandler(caplog.handler)


@pytest.fixture
def fresh_cache_for_caches():
    """Forget every Prefect-1 style ``cache_for`` result before and after the test."""
    from perfect_nb.engine.persistence import clear_caches

    clear_caches()
    yield
    clear_caches()
