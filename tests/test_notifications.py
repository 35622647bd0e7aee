"""perfect_nb.utilities.notifications against real local servers (tests/servers.py)."""

from __future__ import annotations

import doctest
import logging
import pickle
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from servers import free_port, smtp_server, webhook_server  # noqa: E402

from perfect_nb.engine.state import (  # noqa: E402
    Failed, Pending, Retrying, Running, Success, TimedOut, TriggerFailed,
)
from perfect_nb.utilities import notifications  # noqa: E402
from perfect_nb.utilities.notifications import (  # noqa: E402
    callback_factory, email_notifier, gmail_notifier, slack_notifier,
)

LOGGER = "perfect_nb.notifications"
ENV_VARS = [
    "SLACK_WEBHOOK_URL", "PERFECT_NB_SMTP_HOST", "PERFECT_NB_SMTP_PORT",
    "PERFECT_NB_EMAIL_USERNAME", "PERFECT_NB_EMAIL_PASSWORD",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def load():
    """A stand-in for a Task: handlers only need ``.name``."""
    return SimpleNamespace(name="load_data")


def test_public_names():
    assert notifications.__all__ == sorted(notifications.__all__)
    assert {"callback_factory", "slack_notifier", "email_notifier", "gmail_notifier"} <= set(
        notifications.__all__
    )


def test_docstring_examples():
    for module in (notifications, sys.modules["servers"]):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, f"doctest failures in {module.__name__}"


# --------------------------------------------------------------------------
# callback_factory
# --------------------------------------------------------------------------
def test_callback_factory_calls_fn_when_check_passes(load):
    calls = []
    handler = callback_factory(lambda obj, state: calls.append((obj, state)), lambda s: s.is_failed())
    running, failed = Running(), Failed("boom")
    assert handler(load, Pending(), running) is running
    assert handler(load, running, failed) is failed
    assert calls == [(load, failed)]


def test_callback_factory_ignores_fn_return_value(load):
    handler = callback_factory(lambda obj, state: Success("replaced"), lambda s: True)
    new = Failed("boom")
    assert handler(load, Running(), new) is new


# --------------------------------------------------------------------------
# Slack
# --------------------------------------------------------------------------
def test_slack_message_names_task_state_and_message(load):
    with webhook_server() as hook:
        new = Failed("disk full")
        handler = slack_notifier(webhook_url=hook.url)
        assert handler(load, Running(), new) is new
        notifications.flush()  # sent by a background thread: wait for it
    assert len(hook.received) == 1
    body = hook.received[0]
    assert "load_data" in body["text"] and "Failed" in body["text"] and "disk full" in body["text"]
    attachment = body["attachments"][0]
    assert "load_data" in attachment["title"]
    fields = {f["title"]: f["value"] for f in attachment["fields"]}
    assert fields == {"State": "Failed", "Previous state": "Running", "Message": "disk full"}
    assert attachment["color"] == notifications.state_color(Failed())
    assert attachment["color"] != notifications.state_color(Success())
    path, headers = hook.requests[0]
    assert path == "/hook" and headers["Content-Type"].startswith("application/json")


def test_message_colours_are_the_states_own():
    """1.4.1's slack_message_formatter sends ``"color": state.color`` (Failed "#eb0000", Success
    "#28a745"), the colour the DAG draws too: one table, the State classes' ``color``."""
    from perfect_nb.viz.colors import color_for

    for state in (Failed(), Success(), Running(), TriggerFailed(), TimedOut()):
        assert notifications.state_color(state) == type(state).color
        assert notifications.state_color(state).lower() == color_for(state)
    assert notifications.state_color(Failed()) == "#eb0000"
    body = notifications.slack_message(SimpleNamespace(name="load"), Failed("disk full"))
    assert body["attachments"][0]["color"] == "#eb0000"


def test_slack_names_a_flow_as_flow():
    class Flow:  # the notifier recognises flows by class name, without importing the engine
        name = "etl"

    with webhook_server() as hook:
        slack_notifier(Flow(), Running(), Success("All reference tasks succeeded."), webhook_url=hook.url)
        notifications.flush()
    assert hook.received[0]["text"].startswith("Flow 'etl' is now Success")


def test_slack_escapes_markup(load):
    with webhook_server() as hook:
        slack_notifier(load, Running(), Failed("a < b & c"), webhook_url=hook.url)
        notifications.flush()
    assert "a &lt; b &amp; c" in hook.received[0]["text"]


def test_slack_url_from_environment(monkeypatch, load):
    with webhook_server() as hook:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", hook.url)
        handler = slack_notifier()
        handler(load, Running(), Success())
        notifications.flush()
    assert len(hook.received) == 1


def test_slack_direct_call_acts_at_once(load):
    with webhook_server() as hook:
        new = Success("done")
        assert slack_notifier(load, Running(), new, webhook_url=hook.url) is new
        notifications.flush()
    assert len(hook.received) == 1


def test_only_states_filters_and_matches_subclasses(load):
    with webhook_server() as hook:
        handler = slack_notifier(only_states=[Failed], webhook_url=hook.url)
        success = Success()
        assert handler(load, Running(), success) is success
        assert hook.received == []  # a Success is not sent when only_states=[Failed]
        handler(load, Running(), Failed("x"))
        handler(load, Running(), TimedOut("y"))  # a subclass of Failed
        notifications.flush()  # one task's messages arrive in order
    assert [b["attachments"][0]["fields"][0]["value"] for b in hook.received] == ["Failed", "TimedOut"]


def test_ignore_states_filters_and_wins_over_only_states(load):
    with webhook_server() as hook:
        handler = slack_notifier(ignore_states=[Running, Pending], webhook_url=hook.url)
        for state in (Pending(), Running(), Retrying(), Success()):  # Retrying is a Pending
            handler(load, None, state)
        both = slack_notifier(only_states=[Failed], ignore_states=[TriggerFailed], webhook_url=hook.url)
        both(load, Pending(), TriggerFailed("upstream failed"))
        notifications.flush()
    assert [b["attachments"][0]["fields"][0]["value"] for b in hook.received] == ["Success"]


def test_state_filters_must_be_state_classes():
    with pytest.raises(TypeError, match="state classes"):
        slack_notifier(only_states=["Failed"], webhook_url="http://127.0.0.1:1/x")
    with pytest.raises(TypeError, match="state classes"):
        slack_notifier(ignore_states=[Failed()], webhook_url="http://127.0.0.1:1/x")


def test_missing_webhook_url_raises_at_creation():
    with pytest.raises(ValueError, match="SLACK_WEBHOOK_URL"):
        slack_notifier(only_states=[Failed])
    with pytest.raises(ValueError, match="webhook_url"):
        slack_notifier()


def test_non_http_webhook_url_is_refused():
    with pytest.raises(ValueError, match="http"):
        slack_notifier(webhook_url="file:///etc/passwd")


def test_partial_positional_call_is_a_type_error(load):
    with pytest.raises(TypeError, match="keyword"):
        slack_notifier(load, webhook_url="http://127.0.0.1:1/x")


def test_unreachable_webhook_logs_warning_and_keeps_state(load, caplog):
    url = f"http://127.0.0.1:{free_port()}/T000/B000/secret-token"
    handler = slack_notifier(webhook_url=url, timeout=2)
    new = Failed("boom", result=ValueError("boom"))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert handler(load, Running(), new) is new
        notifications.flush()
    assert new.message == "boom" and isinstance(new, Failed)
    [record] = [r for r in caplog.records if r.name == LOGGER]
    assert record.levelno == logging.WARNING
    assert "Slack" in record.getMessage() and "load_data" in record.getMessage()
    assert "secret-token" not in record.getMessage()  # the webhook path is a secret


def test_http_error_logs_warning_and_keeps_state(load, caplog):
    with webhook_server(status=500) as hook, caplog.at_level(logging.WARNING, logger=LOGGER):
        new = Failed("boom")
        assert slack_notifier(load, Running(), new, webhook_url=hook.url) is new
        notifications.flush()
    assert len(hook.received) == 1
    assert any("500" in r.getMessage() for r in caplog.records if r.name == LOGGER)


def test_timeout_is_short_and_configurable(load, caplog):
    import socket

    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
        start = time.monotonic()
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            slack_notifier(load, Running(), Failed(), webhook_url=url, timeout=0.5)
            notifications.flush()
        assert time.monotonic() - start < 5
    assert any(r.name == LOGGER for r in caplog.records)
    assert notifications.DEFAULT_TIMEOUT == 10.0
    with pytest.raises(ValueError, match="timeout"):
        slack_notifier(webhook_url=url, timeout=0)


def test_handler_is_picklable_and_readable():
    handler = slack_notifier(only_states=[Failed], webhook_url="https://hooks.example.com/T/B/secret")
    clone = pickle.loads(pickle.dumps(handler))
    assert clone.only_states == (Failed,) and clone.webhook_url == handler.webhook_url
    assert "secret" not in repr(handler) and "only_states=[Failed]" in repr(handler)


# --------------------------------------------------------------------------
# e-mail
# --------------------------------------------------------------------------
def test_email_arrives_with_subject_and_bodies(load):
    with smtp_server() as mail:
        handler = email_notifier(
            to="ops@example.com", smtp_host=mail.host, smtp_port=mail.port, smtp_type="INSECURE",
            only_states=[Failed],
        )
        handler(load, Running(), Success())  # filtered out
        new = Failed("disk full")
        assert handler(load, Running(), new) is new
        notifications.flush()
    assert len(mail.messages) == 1
    msg = mail.messages[0]
    assert msg["Subject"] == "[perfect_nb] Task 'load_data' is now Failed"
    assert msg["To"] == "ops@example.com" and msg["From"] == "perfect_nb@localhost"
    plain = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "load_data" in plain and "Failed" in plain and "disk full" in plain
    assert "load_data" in html and "Failed" in html and "disk full" in html
    assert mail.envelopes == [("perfect_nb@localhost", ["ops@example.com"])]
    assert mail.logins == []


def test_email_html_is_escaped(load):
    with smtp_server() as mail:
        email_notifier(load, Running(), Failed("<script>x</script>"), to="a@example.com",
                       smtp_host=mail.host, smtp_port=mail.port, smtp_type="INSECURE")
        notifications.flush()
    assert "&lt;script&gt;" in mail.messages[0].get_body(("html",)).get_content()


def test_email_settings_from_environment_and_login(monkeypatch, load):
    with smtp_server(credentials=("bot@example.com", "s3cret")) as mail:
        monkeypatch.setenv("PERFECT_NB_SMTP_HOST", mail.host)
        monkeypatch.setenv("PERFECT_NB_SMTP_PORT", str(mail.port))
        monkeypatch.setenv("PERFECT_NB_EMAIL_USERNAME", "bot@example.com")
        monkeypatch.setenv("PERFECT_NB_EMAIL_PASSWORD", "s3cret")
        handler = email_notifier(smtp_type="INSECURE")
        assert "s3cret" not in repr(handler)
        handler(load, Running(), Success("ok"))
        notifications.flush()
    assert mail.logins == ["bot@example.com"]
    assert mail.envelopes == [("bot@example.com", ["bot@example.com"])]  # mails yourself
    assert "s3cret" not in pickle.dumps(handler).decode("latin-1")


def test_email_wrong_password_logs_warning(monkeypatch, load, caplog):
    with smtp_server(credentials=("bot@example.com", "right")) as mail:
        monkeypatch.setenv("PERFECT_NB_EMAIL_USERNAME", "bot@example.com")
        monkeypatch.setenv("PERFECT_NB_EMAIL_PASSWORD", "wrong")
        new = Failed()
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            assert email_notifier(load, Running(), new, smtp_host=mail.host, smtp_port=mail.port,
                                  smtp_type="INSECURE") is new
            notifications.flush()
    assert mail.messages == []
    assert any("e-mail" in r.getMessage() for r in caplog.records if r.name == LOGGER)


def test_unreachable_smtp_logs_warning_and_keeps_state(load, caplog):
    handler = email_notifier(to="a@example.com", smtp_host="127.0.0.1", smtp_port=free_port(),
                             smtp_type="INSECURE", timeout=2)
    new = Failed("boom")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert handler(load, Running(), new) is new
        notifications.flush()
    assert any(r.levelno == logging.WARNING and "load_data" in r.getMessage()
               for r in caplog.records if r.name == LOGGER)


@pytest.mark.parametrize("smtp_type", ["STARTTLS", "SSL"])
def test_tls_against_plain_server_logs_warning(load, caplog, smtp_type):
    with smtp_server() as mail, caplog.at_level(logging.WARNING, logger=LOGGER):
        new = Failed()
        assert email_notifier(load, Running(), new, to="a@example.com", smtp_host=mail.host,
                              smtp_port=mail.port, smtp_type=smtp_type, timeout=2) is new
        notifications.flush()
    assert mail.messages == []
    assert any(r.name == LOGGER for r in caplog.records)


def test_email_configuration_errors(monkeypatch):
    with pytest.raises(ValueError, match="PERFECT_NB_SMTP_HOST"):
        email_notifier(to="a@example.com")
    with pytest.raises(ValueError, match="to="):
        email_notifier(smtp_host="localhost")
    with pytest.raises(ValueError, match="smtp_type"):
        email_notifier(to="a@example.com", smtp_host="localhost", smtp_type="TLS")
    monkeypatch.setenv("PERFECT_NB_SMTP_PORT", "twenty-five")
    with pytest.raises(ValueError, match="PERFECT_NB_SMTP_PORT"):
        email_notifier(to="a@example.com", smtp_host="localhost")


def test_email_default_ports():
    ports = {t: email_notifier(to="a@b.c", smtp_host="h", smtp_type=t).smtp_port
             for t in ("STARTTLS", "SSL", "insecure")}
    assert ports == {"STARTTLS": 587, "SSL": 465, "insecure": 25}


def test_gmail_notifier_preset(monkeypatch):
    with pytest.raises(ValueError, match="PERFECT_NB_EMAIL_PASSWORD"):
        gmail_notifier(only_states=[Failed])
    monkeypatch.setenv("PERFECT_NB_EMAIL_USERNAME", "me@gmail.com")
    monkeypatch.setenv("PERFECT_NB_EMAIL_PASSWORD", "app-password")
    handler = gmail_notifier(only_states=[Failed])
    assert (handler.smtp_host, handler.smtp_port, handler.smtp_type) == ("smtp.gmail.com", 465, "SSL")
    assert handler.to == ["me@gmail.com"] and handler.only_states == (Failed,)


# --------------------------------------------------------------------------
# end to end, with the engine
# --------------------------------------------------------------------------
def test_slack_notifier_on_a_failing_task_in_a_flow_run():
    from perfect_nb import Flow, task

    with webhook_server() as hook:

        @task(state_handlers=[slack_notifier(only_states=[Failed], webhook_url=hook.url)])
        def explode():
            raise RuntimeError("kaboom")

        with Flow("notify-e2e") as flow:
            explode()

        state = flow.run()
    assert state.is_failed()
    assert len(hook.received) == 1
    text = hook.received[0]["text"]
    assert "explode" in text and "Failed" in text


def test_notifier_on_a_flow_names_the_flow():
    from perfect_nb import Flow, task

    with webhook_server() as hook:

        @task
        def explode():
            raise RuntimeError("kaboom")

        notify = slack_notifier(only_states=[Failed], webhook_url=hook.url)
        with Flow("notify-flow", state_handlers=[notify]) as flow:
            explode()

        flow.run()
    assert [b["text"].split(":")[0] for b in hook.received] == ["Flow 'notify-flow' is now Failed"]


# --------------------------------------------------------------------------
# servers that hang or drip: one total deadline per notification, off the task's path
# --------------------------------------------------------------------------
class SlowServer:
    """A TCP server on 127.0.0.1 that accepts and then never answers (``drip=None``) or
    sends ``drip`` one byte every 50 ms, forever; it counts connections still open."""

    def __init__(self, drip: bytes | None = None) -> None:
        import socket
        import threading

        self.drip = drip
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.accepted = 0
        self.open = 0
        self.stop = threading.Event()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import threading

        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                self.open += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn) -> None:
        with conn:
            data = self.drip * 10_000 if self.drip else b""
            i = 0
            while not self.stop.wait(0.05):
                if data:
                    try:
                        conn.sendall(data[i:i + 1])
                    except OSError:
                        break
                    i += 1
                else:
                    try:
                        conn.setblocking(False)
                        if conn.recv(65536) == b"":  # the client hung up
                            break
                    except BlockingIOError:
                        pass
                    except OSError:
                        break
        with self._lock:
            self.open -= 1

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture
def slow_server():
    servers = []

    def make(drip=None):
        servers.append(SlowServer(drip))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def _three_notifying_tasks(make_handler, shared=True):
    """A chain of three tasks, each notifying on Success through one shared handler
    (the usual way: one lane, in order) or through a handler each (three lanes)."""
    from perfect_nb import Flow, task

    one_handler = make_handler()
    handlers = [one_handler if shared else make_handler() for _ in range(3)]

    @task(state_handlers=[handlers[0]])
    def one():
        return 1

    @task(state_handlers=[handlers[1]])
    def two(x):
        return x + 1

    @task(state_handlers=[handlers[2]])
    def three(x):
        return x + 1

    with Flow("notify-slow") as flow:
        three(two(one()))
    return flow


@pytest.mark.parametrize("shared", [True, False], ids=["one-notifier", "a-notifier-each"])
@pytest.mark.parametrize("drip", [None, b"HTTP/1.1 200 OK\r\nX-Slow: "], ids=["never-answers", "drips-bytes"])
def test_three_notifying_tasks_against_a_slow_webhook_finish_within_about_one_deadline(slow_server, drip, shared, perfect_nb_log):
    server = slow_server(drip)
    flow = _three_notifying_tasks(lambda: slack_notifier(only_states=[Success], webhook_url=server.url, timeout=1), shared)
    start = time.monotonic()
    state = flow.run()
    elapsed = time.monotonic() - start
    assert state.is_successful()
    # one notifier: the messages queued behind the first are given up with it; one each: all tried at once
    assert server.accepted == (1 if shared else 3)
    assert elapsed < 2.8, f"took {elapsed:.1f} s for three notifications with timeout=1"
    warnings = [r.getMessage() for r in perfect_nb_log.records if r.name == LOGGER]
    assert len(warnings) == 3 and all("within 1 s" in w for w in warnings), warnings
    assert [w.split("'")[1] for w in warnings] == ["one", "two", "three"]  # in the order of the state changes


def test_a_dripping_smtp_server_is_given_up_after_one_deadline(slow_server, perfect_nb_log):
    server = slow_server(b"220-still thinking ")
    handler = email_notifier(to="a@example.com", smtp_host="127.0.0.1", smtp_port=server.port,
                             smtp_type="INSECURE", only_states=[Success], timeout=1)
    start = time.monotonic()
    assert _three_notifying_tasks(lambda: handler).run().is_successful()
    assert time.monotonic() - start < 2.8
    warnings = [r.getMessage() for r in perfect_nb_log.records if r.name == LOGGER]
    assert len(warnings) == 3 and all("e-mail" in w and "within 1 s" in w for w in warnings), warnings


def test_a_notification_is_sent_off_the_tasks_path(slow_server, perfect_nb_log):
    from perfect_nb import Flow, task

    server = slow_server()
    seen = {}

    def warnings():
        return [r for r in perfect_nb_log.records if r.name == LOGGER]

    @task(state_handlers=[slack_notifier(only_states=[Success], webhook_url=server.url, timeout=1)])
    def first():
        return 1

    @task
    def second(x):
        seen["warned before second ran"] = len(warnings())  # first's notification is still waiting
        return x + 1

    with Flow("off-path") as flow:
        second(first())
    assert flow.run().is_successful()
    assert seen["warned before second ran"] == 0
    assert len(warnings()) == 1  # flow.run() waited for it, at its end
