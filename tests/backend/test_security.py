"""Safe by default: loopback needs no token, any other address gets one; bodies are bounded."""

from __future__ import annotations

import httpx
import pytest

from tests.backend.conftest import ServerProcess


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path):  # these checks do not depend on the database
    return f"sqlite:///{tmp_path / 'server.db'}"


def test_token_is_required_when_the_server_has_one(database_url, home):
    proc = ServerProcess(database_url, home, env={"PERFECT_NB__SERVER__TOKEN": "s3cret"}).start()
    try:
        bare = httpx.get(f"{proc.api}/api/projects")
        assert bare.status_code == 401 and "token" in bare.json()["detail"]
        assert httpx.get(f"{proc.api}/api/projects", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(f"{proc.api}/api/projects", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        from perfect_nb.client import Client

        with Client(api=proc.api, token="s3cret") as client:
            client.create_project("ok")
    finally:
        proc.stop()


def test_non_loopback_address_gets_a_token_saved_once(home):
    from perfect_nb.configuration import load_config
    from perfect_nb.server.main import server_token

    assert server_token("127.0.0.1") == (None, False)
    token, new = server_token("0.0.0.0")
    assert new and len(token) >= 32 and load_config().server.token == token
    assert server_token("0.0.0.0") == (token, False)
    assert (home / "config.toml").stat().st_mode & 0o077 == 0


def test_over_large_body_is_413(database_url, home):
    proc = ServerProcess(database_url, home, env={"PERFECT_NB__SERVER__MAX_BODY": "2000"}).start()
    try:
        big = httpx.post(f"{proc.api}/api/projects", json={"name": "x" * 5000})
        assert big.status_code == 413 and "2000" in big.json()["detail"]

        def chunks():  # no Content-Length: counted as it arrives
            for _ in range(10):
                yield b"x" * 1000

        streamed = httpx.post(f"{proc.api}/api/events", content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413
        assert httpx.post(f"{proc.api}/api/projects", json={"name": "small"}).status_code == 201
    finally:
        proc.stop()


def test_a_browser_without_the_token_is_sent_to_sign_in_and_signs_in_once(database_url, home):
    proc = ServerProcess(database_url, home, env={"PERFECT_NB__SERVER__TOKEN": "s3cret"}).start()
    html = {"Accept": "text/html,application/xhtml+xml"}
    try:
        page = httpx.get(f"{proc.api}/flows?search=a", headers=html)
        assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fflows%3Fsearch%3Da"
        assert httpx.get(f"{proc.api}/api/projects", headers=html).status_code == 401, "the API never redirects"
        sign_in = httpx.get(f"{proc.api}/login", headers=html)
        assert sign_in.status_code == 200 and "<form" in sign_in.text
        css = next(part.split('"')[0] for part in sign_in.text.split('href="')[1:] if part.startswith("/ui/static/"))
        assert httpx.get(f"{proc.api}{css}").status_code == 200, "the sign-in page's own files load without the token"
        assert httpx.post(f"{proc.api}/login", headers={"Authorization": "Bearer wrong", "Origin": proc.api}).status_code == 401
        good = httpx.post(f"{proc.api}/login", headers={"Authorization": "Bearer s3cret", "Origin": proc.api})
        cookie = good.headers["set-cookie"]
        assert good.status_code == 200 and "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        with httpx.Client(base_url=proc.api, cookies=good.cookies) as browser:
            assert browser.get("/", headers=html).status_code == 200
            assert browser.get("/api/projects").status_code == 200
    finally:
        proc.stop()
