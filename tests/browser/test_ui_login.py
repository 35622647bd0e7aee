"""Signing in to a server that needs a token, in Chromium: sent to /login, the token typed once, back where you were."""

from __future__ import annotations

import pytest

from .jlab import skip_without_browser

skip_without_browser()

from tests.backend.conftest import ServerProcess  # noqa: E402


@pytest.fixture
def token_server(tmp_path):
    proc = ServerProcess(f"sqlite:///{tmp_path / 'server.db'}", tmp_path, env={"PERFECT_NB__SERVER__TOKEN": "s3cret"}).start()
    yield proc
    proc.stop()


def test_a_browser_signs_in_once_and_lands_on_the_page_it_asked_for(browser, token_server, screenshots):
    context = browser.new_context()
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(token_server.api + "/flows")
        assert "/login?next=%2Fflows" in page.url
        page.locator("input[type=password], input[name=token]").first.fill("wrong")
        page.locator("form button").first.click()
        page.wait_for_timeout(500)
        assert "/login" in page.url, "a wrong token does not get in"
        page.locator("input[type=password], input[name=token]").first.fill("s3cret")
        page.locator("form button").first.click()
        page.wait_for_url("**/flows", timeout=10_000)
        page.screenshot(path=str(screenshots / "ui-signed-in.png"))
        page.goto(token_server.api + "/agents")
        assert page.url.endswith("/agents"), "the cookie keeps the browser signed in"
        assert [e for e in errors if "401" not in e] == []
    finally:
        context.close()
