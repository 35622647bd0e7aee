"""``tasks.notifications`` (Prefect 1's SlackTask and EmailTask) against real local servers:
the webhook and SMTP servers of tests/servers.py on 127.0.0.1 (issue 14, section 2).

The same flow (a script kept outside the repository, see the issue 14 note) ran on Prefect 1.4.1 against the
same servers; the docstrings quote what 1.4.1 gave.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from perfect_nb import Flow, context
from perfect_nb.tasks.notifications import EmailTask, SlackTask

sys.path.insert(0, str(Path(__file__).parent))
from servers import smtp_server, webhook_server  # noqa: E402


def run_one(task_call):
    with Flow("notify") as flow:
        t = task_call()
    state = flow.run()
    return state.result[t]


def test_slack_task_posts_text_or_a_dict_from_the_secret(monkeypatch):
    """1.4.1, with the webhook URL in PREFECT__CONTEXT__SECRETS__SLACK_WEBHOOK_URL:
    SlackTask(message="hello")() and SlackTask()(message={"blocks": [...]}) both Success with
    result None; the server received {'text': 'hello'} then the dict as it was, as JSON."""
    with webhook_server() as hook:
        monkeypatch.setenv("PREFECT__CONTEXT__SECRETS__SLACK_WEBHOOK_URL", hook.url)
        with Flow("slack") as flow:
            a = SlackTask(message="hello")()
            b = SlackTask()(message={"blocks": [{"type": "section"}]})
        state = flow.run()
        assert state.is_successful() and state.result[a].result is None and state.result[b].result is None
        assert hook.received == [{"text": "hello"}, {"blocks": [{"type": "section"}]}]
        assert all(h["Content-Type"].startswith("application/json") for _, h in hook.requests)


def test_slack_task_failures_fail_the_task_without_showing_the_webhook_path():
    """1.4.1: a webhook answering 500 made the task Failed ("HTTPError('500 Server Error:
    Internal Server Error for url: <the full webhook URL>')"), a refused connection Failed with
    ConnectionError, and a missing secret Failed with 'Local Secret "SLACK_WEBHOOK_URL" was not
    found.'. Here the same states; the message names the host but not the webhook's secret path."""
    with webhook_server(status=500, path="/services/T0/B0/secret") as bad:
        failed = run_one(lambda: SlackTask(message="x")(webhook_url=bad.url))
        assert bad.received == [{"text": "x"}]
    assert failed.is_failed() and "HTTP 500" in failed.message and "secret" not in failed.message
    refused = run_one(lambda: SlackTask(message="nobody")(webhook_url="http://127.0.0.1:9/x"))
    assert refused.is_failed() and "Connection refused" in refused.message
    with context(secrets={}):
        missing = run_one(lambda: SlackTask(message="m", webhook_secret="NO_SUCH_HOOK")())
    assert missing.is_failed() and 'Local Secret "NO_SUCH_HOOK" was not found.' in missing.message


def test_email_task_sends_html_plain_cc_bcc_and_attachments(tmp_path):
    """1.4.1 with smtp_type="INSECURE" on a local SMTP server: Success; the envelope went from
    me@example.com to ['to@example.com', 'bcc@example.com', 'cc@example.com']; the message had
    Subject S, To, Cc and no Bcc header, and parts text/plain, text/html, then the attachment
    (application/octet-stream with its file name)."""
    attachment = tmp_path / "report.txt"
    attachment.write_text("attached!")
    with smtp_server() as mail:
        state = run_one(lambda: EmailTask(
            subject="S", msg="<b>hi</b>", msg_plain="hi", email_to="to@example.com", email_to_cc="cc@example.com",
            email_to_bcc="bcc@example.com", email_from="me@example.com", smtp_server=mail.host,
            smtp_port=mail.port, smtp_type="INSECURE", attachments=[str(attachment)])())
        assert state.is_successful() and state.result is None
        assert mail.envelopes == [("me@example.com", ["to@example.com", "bcc@example.com", "cc@example.com"])]
        message = mail.messages[0]
        assert (message["Subject"], message["To"], message["Cc"], message["Bcc"]) == ("S", "to@example.com", "cc@example.com", None)
        parts = list(message.iter_parts())
        assert [(p.get_content_type(), p.get_filename()) for p in parts] == [
            ("text/plain", None), ("text/html", None), ("application/octet-stream", "report.txt")]
        assert parts[2].get_content() == b"attached!" and "<b>hi</b>" in parts[1].get_content()


def test_email_task_arguments_at_call_time_and_secrets(monkeypatch):
    """1.4.1: every EmailTask argument can be given when calling it (defaults_from_attrs); with
    SSL (the default, smtp.gmail.com:465) or STARTTLS the task first reads the EMAIL_USERNAME and
    EMAIL_PASSWORD secrets, so without them it is Failed 'Local Secret "EMAIL_USERNAME" was not
    found.' before connecting; an unknown smtp_type is a ValueError."""
    with smtp_server() as mail:
        state = run_one(lambda: EmailTask(smtp_type="INSECURE")(
            subject="late", msg="m", email_to="t@example.com", email_from="f@example.com",
            smtp_server=mail.host, smtp_port=mail.port))
        assert state.is_successful() and mail.messages[0]["Subject"] == "late"
    task = EmailTask(subject="S", msg="m", email_to="t@example.com")
    assert (task.smtp_server, task.smtp_port, task.smtp_type) == ("smtp.gmail.com", 465, "SSL")
    with context(secrets={}):
        for kind in ("SSL", "STARTTLS"):
            failed = run_one(lambda: EmailTask(subject="S", msg="m", email_to="t@example.com", smtp_type=kind,
                                               smtp_server="127.0.0.1", smtp_port=9)())
            assert failed.is_failed() and 'Local Secret "EMAIL_USERNAME" was not found.' in failed.message
    with pytest.raises(ValueError, match="smtp_type"):
        EmailTask(smtp_type="CARRIER-PIGEON", email_to="t@example.com").run()


def test_a_server_that_never_answers_fails_the_task_at_its_deadline():
    """Ours (1.4.1 has no deadline: requests and smtplib wait without one): an SMTP server that
    accepts the connection and never speaks fails the task after send_timeout seconds with a
    TimeoutError naming the server, instead of holding the flow."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    started = time.monotonic()
    try:
        state = run_one(lambda: EmailTask(subject="S", msg="m", email_to="t@example.com", smtp_server="127.0.0.1",
                                          smtp_port=port, smtp_type="INSECURE", send_timeout=0.5)())
    finally:
        listener.close()
        for conn, _ in accepted:
            conn.close()
    assert state.is_failed() and "TimeoutError" in state.message and f"127.0.0.1:{port}" in state.message
    assert time.monotonic() - started < 5


def test_send_timeout_is_not_the_task_timeout():
    """Task options pass through **kwargs as in 1.4.1 (SlackTask(timeout=60) is the task's
    timeout); the send deadline has its own name."""
    task = SlackTask(message="m", timeout=60, send_timeout=2, max_retries=1, retry_delay=0)
    assert (task.timeout, task.send_timeout, task.max_retries) == (60.0, 2.0, 1)
