"""The server's guard: one ASGI middleware in front of every route.

- **Token.** When the server has a token (always, when it is bound to anything
  but a loopback address), a request needs ``Authorization: Bearer TOKEN``
  (or the ``perfect_nb_token`` cookie the UI sets); else 401, except that the
  sign-in page and the UI's static files are open, and a browser asking for a
  page (``GET`` accepting ``text/html``) is sent to the sign-in page.
- **Host and Origin.** A request must name one of the server's own hosts (no
  DNS rebinding); a request from a browser page (``Origin``) must come from the
  server's own origin; else 403.
- **Size.** A request body over ``max_body`` bytes is refused with 413, whether
  or not it declared its length.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from typing import Any, Awaitable, Callable
from urllib.parse import quote

__all__ = ["Guard", "is_loopback"]

Scope = dict[str, Any]


def is_loopback(host: str) -> bool:
    """Is ``host`` a loopback name or address?

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def _refuse(send: Callable, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


OPEN_PREFIXES = ("/ui/static/",)  # what the sign-in page itself needs


async def _redirect(send: Callable, location: str) -> None:
    await send({"type": "http.response.start", "status": 303, "headers": [(b"location", location.encode("latin-1")), (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


class Guard:
    """Wraps an ASGI app; see the module docstring for what it checks."""

    def __init__(self, app: Callable, token: str | None, bind_host: str, max_body: int) -> None:
        self.app, self.token, self.max_body = app, token or None, max_body
        self.any_host = bind_host in ("0.0.0.0", "::", "")
        self.hosts = {bind_host.lower(), "localhost", "127.0.0.1", "[::1]"}

    def _headers(self, scope: Scope) -> dict[str, str]:
        return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}

    def _host_ok(self, headers: dict[str, str]) -> bool:
        host = headers.get("host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return self.any_host or name.lower() in self.hosts

    def _token_ok(self, headers: dict[str, str]) -> bool:
        if self.token is None:
            return True
        auth = headers.get("authorization", "")
        given = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not given:
            for part in headers.get("cookie", "").split(";"):
                key, _, value = part.strip().partition("=")
                if key == "perfect_nb_token":
                    given = value
        return hmac.compare_digest(given.encode(), self.token.encode())

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[dict]], send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = self._headers(scope)
        if not self._host_ok(headers):
            return await _refuse(send, 403, f"Host {headers.get('host', '')!r} is not this server's; use its address.")
        origin = headers.get("origin")
        if origin and origin.split("://", 1)[-1] != headers.get("host") and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            return await _refuse(send, 403, f"Cross-origin request from {origin!r} refused.")
        if not self._token_ok(headers):
            path = scope.get("path", "")
            if scope["method"] in ("GET", "HEAD") and (path == "/login" or path.startswith(OPEN_PREFIXES)):
                return await self.app(scope, receive, send)
            if scope["method"] == "GET" and "text/html" in headers.get("accept", "") and not path.startswith("/api/"):
                return await _redirect(send, "/login?next=" + quote(path + ("?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else ""), safe=""))
            return await _refuse(send, 401, "This server needs a token: send 'Authorization: Bearer TOKEN' (see `perfect server start`'s output or the [server] token in config.toml).")
        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body:
            return await _refuse(send, 413, f"Request body of {declared} bytes is over this server's limit of {self.max_body}.")
        seen = 0
        state = {"started": False, "refused": False}

        async def counted_receive() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body and not state["refused"]:
                    state["refused"] = True
                    if not state["started"]:
                        await _refuse(send, 413, f"Request body is over this server's limit of {self.max_body} bytes.")
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message: dict) -> None:
            if state["refused"]:
                return  # the 413 is the answer
            state["started"] = state["started"] or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted_receive, tracked_send)
