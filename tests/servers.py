"""Real local servers for tests and tutorials: a JSON webhook and an SMTP server.

Both listen on 127.0.0.1 on a free port, run in a background thread, record
what they receive and stop when the ``with`` block ends.

>>> import json, urllib.request
>>> with webhook_server() as hook:
...     req = urllib.request.Request(hook.url, data=b'{"text": "hi"}', method="POST")
...     urllib.request.urlopen(req, timeout=5).status
...     hook.received
200
[{'text': 'hi'}]

>>> import smtplib
>>> with smtp_server() as mail:
...     with smtplib.SMTP(mail.host, mail.port, timeout=5) as client:
...         _ = client.sendmail("a@example.com", ["b@example.com"], "Subject: hi\\n\\nbody")
...     mail.messages[0]["Subject"]
'hi'
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import http.server
import json
import socket
import threading
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

__all__ = ["free_port", "smtp_server", "webhook_server"]

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the moment of asking)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------
# webhook
# --------------------------------------------------------------------------
@dataclass
class WebhookServer:
    """What :func:`webhook_server` yields.

    ``received`` holds each POSTed JSON body (or the raw text when it is not
    JSON); ``requests`` holds ``(path, headers)`` pairs; ``status`` is the HTTP
    status the server answers with (set it to 500 to test failures).
    """

    url: str
    status: int = 200
    received: list = field(default_factory=list)
    requests: list = field(default_factory=list)


def _webhook_handler(state: WebhookServer):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server naming)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8", "replace")
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = raw
            state.requests.append((self.path, dict(self.headers)))
            state.received.append(body)  # recorded before answering: no race with the client
            reply = b"ok" if state.status < 400 else b"error"
            self.send_response(state.status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

    return Handler


@contextlib.contextmanager
def webhook_server(status: int = 200, path: str = "/hook") -> Iterator[WebhookServer]:
    """Run an HTTP server that records JSON POST bodies; yields a :class:`WebhookServer`."""
    state = WebhookServer(url="", status=status)
    server = http.server.ThreadingHTTPServer((HOST, 0), _webhook_handler(state))
    server.daemon_threads = True
    state.url = f"http://{HOST}:{server.server_address[1]}{path}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="webhook-server", daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --------------------------------------------------------------------------
# SMTP
# --------------------------------------------------------------------------
@dataclass
class SMTPServer:
    """What :func:`smtp_server` yields.

    ``messages`` holds parsed :class:`email.message.EmailMessage` objects,
    ``envelopes`` the ``(mail_from, rcpt_tos)`` of each, and ``logins`` the
    usernames that authenticated.
    """

    host: str
    port: int
    messages: list = field(default_factory=list)
    envelopes: list = field(default_factory=list)
    logins: list = field(default_factory=list)


class _Recorder:
    def __init__(self, state: SMTPServer) -> None:
        self.state = state

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd hook)
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.state.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.state.messages.append(message)
        return "250 Message accepted"


@contextlib.contextmanager
def smtp_server(credentials: Optional[tuple[str, str]] = None) -> Iterator[SMTPServer]:
    """Run a plain (no TLS) SMTP server that records messages; yields an :class:`SMTPServer`.

    With ``credentials=(username, password)`` it offers AUTH over the plain
    connection and refuses other logins; without, it accepts mail from anyone.
    Use ``smtp_type="INSECURE"`` to talk to it.
    """
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    state = SMTPServer(host=HOST, port=free_port())
    options: dict = {}
    if credentials is not None:
        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                getattr(auth_data, "login", None) == credentials[0].encode()
                and getattr(auth_data, "password", None) == credentials[1].encode()
            )
            if ok:
                state.logins.append(credentials[0])
            return AuthResult(success=ok, handled=False)

        options = {"authenticator": authenticator, "auth_require_tls": False}
    controller = Controller(_Recorder(state), hostname=HOST, port=state.port, **options)
    controller.start()
    try:
        yield state
    finally:
        controller.stop()
