"""Browser tests: JupyterLab on 127.0.0.1 driven by Playwright in Debian's Chromium.

Each test module starts with ``skip_without_browser()``: the whole suite is skipped, with
the reason, when /usr/bin/chromium is not installed (``.ci/run`` installs it).
Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from . import fixture_notebooks
from .jlab import CHROMIUM, CHROMIUM_ARGS, LabServer, NotebookPage, copy_notebooks

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="package")
def lab_server(tmp_path_factory):
    """JupyterLab serving a temporary copy of notebooks/ plus the tests' own notebooks."""
    base = tmp_path_factory.mktemp("lab")
    root = base / "notebooks"
    copy_notebooks(REPO / "notebooks", root)
    fixture_notebooks.write_all(root)
    server = LabServer(root, base / "home").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="package")
def context(browser):
    """One browser context for the run, so JupyterLab's scripts come from its cache after the first page."""
    docs = bool(os.environ.get("PERFECT_NB_DOCS_SCREENSHOT"))  # a sharper picture for the README
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, device_scale_factor=2 if docs else 1)
    context.set_default_timeout(30_000)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory):
    """Where the tests save their screenshots."""
    return tmp_path_factory.mktemp("screenshots")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """When a browser test fails, save the whole window and name it (and the server log) in the report."""
    report = yield
    page = item.funcargs.get("nb") if call.when == "call" and report.failed else None
    if page is not None:
        try:
            shot = page.screenshot(f"FAILED-{item.name}")
        except Exception as exc:  # the page may be what broke
            shot = f"(no screenshot: {exc})"
        report.sections.append(("browser", f"window: {shot}\nJupyterLab log: {page.server.log}"))
    return report


@pytest.fixture
def nb(context, lab_server, screenshots):
    """A fresh JupyterLab page; afterwards it is closed and every kernel session deleted."""
    page = NotebookPage(context, lab_server, screenshots)
    try:
        yield page
    finally:
        page.page.close()  # first, so that no page talks to a kernel being shut down
        lab_server.delete_sessions()
