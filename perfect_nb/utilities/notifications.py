"""State handlers that tell a person when a task or flow changes state.

A *state handler* is any callable ``handler(obj, old_state, new_state)`` that
returns the state to continue with (or ``None`` to keep ``new_state``); ``obj``
is the Task or Flow whose state changed. Attach handlers with
``@task(state_handlers=[...])`` or ``Flow(..., state_handlers=[...])``.

The notifiers here are curried as in Prefect 1: call one with keyword
arguments only and it returns a handler with those settings bound; call it with
``(obj, old_state, new_state)`` and it acts at once.

======================  =====================================================
``callback_factory``    build a handler from ``fn(obj, state)`` and a check
``slack_notifier``      post to a Slack incoming webhook (``urllib``)
``email_notifier``      send an e-mail over SMTP (``smtplib``)
``gmail_notifier``      ``email_notifier`` preset for smtp.gmail.com:465 (SSL)
======================  =====================================================

A notifier never fails the run, nor holds it: the handler returns at once and
the message is sent by a background thread, with one total deadline
(``timeout``, for connecting, sending and reading the answer together, however
slowly the server drips bytes). When the server cannot be reached, misses the
deadline or answers with an error, a warning goes to the
``perfect_nb.notifications`` logger. ``flow.run()`` waits, at its end, for the
notifications still being sent (:func:`flush`): the notifications of a run are
sent in parallel, so a server that never answers costs the run about one
deadline, not one per message. Missing configuration (no webhook
URL, no SMTP host) is a mistake in the flow, so it raises ``ValueError`` when
the handler is created.

>>> from types import SimpleNamespace
>>> from perfect_nb.engine.state import Failed, Success
>>> handler = slack_notifier(only_states=[Failed],
...                          webhook_url="https://hooks.example.com/T0/B0/x")
>>> load, done = SimpleNamespace(name="load"), Success()
>>> handler(load, None, done) is done      # not a failure: nothing is sent
True
"""

from __future__ import annotations

import abc
import atexit
import collections
import html
import itertools
import json
import logging
import os
import smtplib
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
from email.message import EmailMessage
from typing import Any, Callable, Iterable, Optional, Sequence, Union

from perfect_nb.engine.state import State

__all__ = [
    "DEFAULT_TIMEOUT",
    "callback_factory",
    "email_message",
    "email_notifier",
    "flush",
    "gmail_notifier",
    "post_json",
    "send_now",
    "slack_message",
    "slack_notifier",
    "smtp_send",
    "state_color",
]

logger = logging.getLogger("perfect_nb.notifications")

#: Seconds a notification may take in all (connect, send, answer) before it is given up with a warning.
DEFAULT_TIMEOUT = 10.0

SLACK_URL_ENV = "SLACK_WEBHOOK_URL"
SMTP_HOST_ENV = "PERFECT_NB_SMTP_HOST"
SMTP_PORT_ENV = "PERFECT_NB_SMTP_PORT"
USERNAME_ENV = "PERFECT_NB_EMAIL_USERNAME"
PASSWORD_ENV = "PERFECT_NB_EMAIL_PASSWORD"

_SMTP_DEFAULT_PORTS = {"SSL": 465, "STARTTLS": 587, "INSECURE": 25}

StateHandler = Callable[[Any, Optional[State], State], Optional[State]]
StateClasses = Optional[Union[type, Iterable[type]]]


# --------------------------------------------------------------------------
# callback_factory
# --------------------------------------------------------------------------
def callback_factory(
    fn: Callable[[Any, State], Any], check: Callable[[State], bool]
) -> StateHandler:
    """Make a state handler that calls ``fn(obj, new_state)`` when ``check(new_state)``.

    The handler always returns ``new_state``; what ``fn`` returns is ignored
    and what it raises is not caught (it is your code).

    >>> from types import SimpleNamespace
    >>> from perfect_nb.engine.state import Running, Success
    >>> seen = []
    >>> handler = callback_factory(lambda obj, s: seen.append(obj.name),
    ...                            lambda s: s.is_successful())
    >>> job = SimpleNamespace(name="job")
    >>> handler(job, None, Running()) and handler(job, Running(), Success())
    <Success>
    >>> seen
    ['job']
    """

    def state_handler(obj: Any, old_state: Optional[State], new_state: State) -> State:
        if check(new_state):
            fn(obj, new_state)
        return new_state

    state_handler.__qualname__ = f"callback_factory.<{getattr(fn, '__name__', 'fn')}>"
    return state_handler


# --------------------------------------------------------------------------
# message content, shared by every channel
# --------------------------------------------------------------------------
def _kind(obj: Any) -> str:
    """'Flow' for flows; anything else a handler is attached to is a task."""
    return "Flow" if any(k.__name__ == "Flow" for k in type(obj).__mro__) else "Task"


def _describe(obj: Any, state: State) -> tuple[str, str, str, str]:
    """Return (kind, name, state name, message) for ``obj`` entering ``state``."""
    name = str(getattr(obj, "name", None) or obj)
    message = state.message if state.message else "(no message)"
    return _kind(obj), name, type(state).__name__, str(message)


def state_color(state: State) -> str:
    """Hex colour used for ``state`` in messages: the state's ``color``, as Prefect 1's
    notifiers use (the one colour table, which the DAG drawing reads too).

    >>> from perfect_nb.engine.state import Failed, Success
    >>> state_color(Failed()), state_color(Success())
    ('#eb0000', '#28a745')
    """
    return state.color


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(obj: Any, state: State, old_state: Optional[State] = None) -> dict:
    """The JSON body posted to a Slack incoming webhook.

    >>> from types import SimpleNamespace
    >>> from perfect_nb.engine.state import Failed
    >>> body = slack_message(SimpleNamespace(name="load"), Failed("disk full"))
    >>> body["text"]
    "Task 'load' is now Failed: disk full"
    >>> [f["value"] for f in body["attachments"][0]["fields"]]
    ['Failed', 'disk full']
    """
    kind, name, state_name, message = (_slack_escape(s) for s in _describe(obj, state))
    text = f"{kind} '{name}' is now {state_name}: {message}"
    fields = [
        {"title": "State", "value": state_name, "short": True},
        {"title": "Message", "value": message, "short": False},
    ]
    if old_state is not None:
        fields.insert(1, {"title": "Previous state", "value": type(old_state).__name__, "short": True})
    return {
        "text": text,
        "attachments": [
            {
                "fallback": text,
                "color": state_color(state),
                "title": f"{kind}: {name}",
                "fields": fields,
                "footer": "perfect_nb",
                "ts": int(time.time()),
            }
        ],
    }


def email_message(
    obj: Any,
    state: State,
    to: Union[str, Sequence[str]],
    from_addr: str,
    old_state: Optional[State] = None,
) -> EmailMessage:
    """The e-mail sent for ``obj`` entering ``state``: a plain-text and an HTML part.

    >>> from types import SimpleNamespace
    >>> from perfect_nb.engine.state import Failed
    >>> msg = email_message(SimpleNamespace(name="load"), Failed("disk full"),
    ...                     to="me@example.com", from_addr="bot@example.com")
    >>> msg["Subject"]
    "[perfect_nb] Task 'load' is now Failed"
    >>> msg.get_body(("plain",)).get_content().splitlines()[0]
    "Task 'load' is now Failed: disk full"
    """
    kind, name, state_name, message = _describe(obj, state)
    previous = type(old_state).__name__ if old_state is not None else None
    plain = [f"{kind} '{name}' is now {state_name}: {message}", ""]
    plain.append(f"State: {state_name}")
    if previous:
        plain.append(f"Previous state: {previous}")
    plain.append(f"Message: {message}")

    e = html.escape
    rows = [("State", state_name)] + ([("Previous state", previous)] if previous else [])
    rows.append(("Message", message))
    table = "".join(f"<tr><th align='left'>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    body_html = (
        f"<html><body><h3 style='border-left:6px solid {state_color(state)};padding-left:8px'>"
        f"{e(kind)} <code>{e(name)}</code> is now {e(state_name)}</h3>"
        f"<table>{table}</table><p style='color:#888'>perfect_nb</p></body></html>"
    )

    msg = EmailMessage()
    msg["Subject"] = " ".join(f"[perfect_nb] {kind} '{name}' is now {state_name}".split())
    msg["From"] = from_addr
    msg["To"] = to if isinstance(to, str) else ", ".join(to)
    msg.set_content("\n".join(plain) + "\n")
    msg.add_alternative(body_html, subtype="html")
    return msg


# --------------------------------------------------------------------------
# sending: off the task's path, one total deadline per notification
# --------------------------------------------------------------------------
class _Deadline:
    """One total deadline for one notification.

    A socket timeout bounds each read, so a server that drips one byte at a time
    could hold a send forever. Here a watchdog thread waits until the deadline and
    then shuts down every watched connection (again every 50 ms, for a socket opened
    late), which ends whatever read or write is blocked on it.
    """

    def __init__(self, seconds: float, end: Optional[float] = None) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds if end is None else end
        self.expired = False
        self._sockets: list[Callable[[], Any]] = []
        self._done = threading.Event()

    def left(self) -> float:
        """Seconds until the deadline (at least a millisecond: a socket timeout of 0 means non-blocking)."""
        return max(0.001, self.end - time.monotonic())

    def watch(self, get_socket: Callable[[], Any]) -> None:
        """Shut down ``get_socket()`` (the connection's current socket, or None) at the deadline."""
        self._sockets.append(get_socket)

    def __enter__(self) -> "_Deadline":
        threading.Thread(target=self._watchdog, name="perfect_nb-notify-deadline", daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._done.set()

    def _watchdog(self) -> None:
        if self._done.wait(max(0.0, self.end - time.monotonic())):
            return
        self.expired = True
        while True:
            for get_socket in list(self._sockets):
                sock = get_socket()
                if sock is not None:
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except (OSError, ValueError):
                        pass
            if self._done.wait(0.05):
                return


def _watched(connection_class: type, deadline: _Deadline) -> type:
    """``connection_class`` (http.client) whose socket ``deadline`` watches."""

    class Watched(connection_class):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            deadline.watch(lambda: self.sock)

    return Watched


def _opener(deadline: _Deadline) -> urllib.request.OpenerDirector:
    """A urllib opener (proxies from the environment, as ``urlopen``) whose connections ``deadline`` watches."""
    import http.client

    class HTTP(urllib.request.HTTPHandler):
        def http_open(self, req: Any) -> Any:
            return self.do_open(_watched(http.client.HTTPConnection, deadline), req)

    class HTTPS(urllib.request.HTTPSHandler):
        def https_open(self, req: Any) -> Any:
            return self.do_open(_watched(http.client.HTTPSConnection, deadline), req, context=ssl.create_default_context())

    return urllib.request.build_opener(HTTP, HTTPS)


def post_json(url: str, payload: Any, deadline: _Deadline) -> bytes:
    """POST ``payload`` as JSON to ``url``, the connection watched by ``deadline``; return the
    answer's body. Raises ``urllib.error.HTTPError`` for a 4xx/5xx answer, ``OSError`` when the
    server cannot be reached (what the notifiers log and the notification tasks raise)."""
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode("utf-8"), method="POST",
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    with _opener(deadline).open(request, timeout=deadline.left()) as response:
        return response.read()


def smtp_send(msg: Any, host: str, port: int, smtp_type: str, username: Optional[str], password: Optional[str],
              deadline: _Deadline) -> None:
    """Send ``msg`` (an ``email.message`` object) over SMTP: ``smtp_type`` SSL, STARTTLS or
    INSECURE; log in when both ``username`` and ``password`` are given."""
    if smtp_type == "SSL":
        server = smtplib.SMTP_SSL(timeout=deadline.left(), context=ssl.create_default_context())
    else:
        server = smtplib.SMTP(timeout=deadline.left())
    deadline.watch(lambda: server.sock)  # set by connect, replaced by starttls
    with server:
        server.connect(host, port)
        if smtp_type == "STARTTLS":
            server.starttls(context=ssl.create_default_context())
        if username and password:
            server.login(username, password)
        server.send_message(msg)


def send_now(send: Callable[[_Deadline], Any], seconds: float, what: str) -> Any:
    """Run ``send(deadline)`` in this thread within one total deadline of ``seconds`` and
    return its value; raise ``TimeoutError`` naming ``what`` when the deadline passes (the
    notification *tasks* send this way: a failure fails the task, as in Prefect 1)."""
    deadline = _Deadline(seconds)
    try:
        with deadline:
            value = send(deadline)
    except Exception:
        if not (deadline.expired or time.monotonic() >= deadline.end - 0.05):
            raise
        deadline.expired = True
    if deadline.expired:
        raise TimeoutError(f"{what}: no complete answer within {seconds:g} s; the server is too slow or does not answer.")
    return value


class _Outbox:
    """Notifications being sent, off the caller's thread.

    Each notifier has one lane (a daemon thread) that sends its messages in the
    order of the state changes; lanes of different notifiers run in parallel. Each
    message has one total deadline (its notifier's ``timeout``). Once a message
    misses it, the lane's server is taken as not answering: the messages that were
    queued behind it are given up with it, without a try, and later ones count their
    deadline from their state change, not from when their turn comes. A message sent
    in time ends that.
    Failures are logged by :func:`flush`, in the order of the state changes, in the
    thread that flushes (the one that ran the flow: its notebook cell shows them).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lanes: dict[int, collections.deque] = {}
        self._threads: dict[int, threading.Thread] = {}
        self._ends: dict[int, float] = {}  # lane -> the deadline of the message being sent
        self._stalled: dict[int, float] = {}  # lane -> when its messages began missing their deadline
        self._reports: list[tuple] = []  # (sequence number, warning) of failed messages
        self._count = itertools.count()

    def send(self, notifier: "_Notifier", *args: Any) -> None:
        key = id(notifier)
        with self._lock:
            lane = self._lanes.setdefault(key, collections.deque())
            lane.append((next(self._count), notifier, args, time.monotonic()))
            if key in self._threads:
                return
            thread = self._threads[key] = threading.Thread(target=self._drain, args=(key,), name="perfect_nb-notify", daemon=True)
        thread.start()

    def _drain(self, key: int) -> None:
        while True:
            with self._lock:
                lane = self._lanes[key]
                if not lane:
                    del self._lanes[key], self._threads[key]
                    self._ends.pop(key, None)
                    return
                number, notifier, args, queued = lane.popleft()
                stalled = self._stalled.get(key)
                if stalled is None:
                    end = time.monotonic() + notifier.timeout
                elif queued <= stalled:  # it waited behind the message that missed its deadline
                    end = queued
                else:
                    end = queued + notifier.timeout
                self._ends[key] = end
            try:
                report, missed = notifier._deliver(*args, end=end)
            except BaseException as exc:  # never lose the lane over one message
                report, missed = ("A %s notification could not be sent: %r", notifier.channel, exc), False
            with self._lock:
                if missed:
                    self._stalled.setdefault(key, time.monotonic())
                else:
                    self._stalled.pop(key, None)
                if report is not None:
                    self._reports.append((number, report))

    def flush(self, timeout: Optional[float] = None) -> bool:
        with self._lock:
            lanes = list(self._threads.items())
        limit = None if timeout is None else time.monotonic() + timeout
        for key, thread in lanes:
            while thread.is_alive():
                with self._lock:
                    end = self._ends.get(key, time.monotonic()) + _GRACE
                if limit is not None:
                    end = min(end, limit)
                if time.monotonic() >= end:
                    break
                thread.join(min(end - time.monotonic(), 0.1))
        with self._lock:
            reports, self._reports = sorted(self._reports), []
        for _, report in reports:
            logger.warning(*report)
        late = sum(thread.is_alive() for _, thread in lanes)
        if late:
            logger.warning("Gave up waiting for %d notifier(s) still sending past their deadline.", late)
        return not late


_GRACE = 0.5  # seconds past a deadline for the shut-down connection to end its send
_outbox = _Outbox()


def flush(timeout: Optional[float] = None) -> bool:
    """Wait for the notifications still being sent, each at most until its deadline
    (its notifier's ``timeout`` from when it was sent, plus half a second); with
    ``timeout``, wait no longer than that in all. Returns whether every one finished.

    ``flow.run()`` calls it at its end, and it runs when the interpreter exits, so a
    script's notifications are sent before it ends.

    >>> flush()
    True
    """
    return _outbox.flush(timeout)


atexit.register(flush)


# --------------------------------------------------------------------------
# notifiers
# --------------------------------------------------------------------------
def _state_classes(value: StateClasses, arg: str) -> tuple:
    if value is None:
        return ()
    items = [value] if isinstance(value, type) else list(value)
    for item in items:
        if not (isinstance(item, type) and issubclass(item, State)):
            raise TypeError(
                f"{arg} takes state classes such as [Failed, Retrying]; got {item!r}."
            )
    return tuple(items)


class _Notifier(abc.ABC):
    """A state handler with its settings bound. Subclasses implement ``_send``."""

    channel = "notification"

    def __init__(self, only_states: StateClasses, ignore_states: StateClasses, timeout: float):
        self.only_states = _state_classes(only_states, "only_states")
        self.ignore_states = _state_classes(ignore_states, "ignore_states")
        if not timeout or timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds; got {timeout!r}.")
        self.timeout = float(timeout)

    def wants(self, state: State) -> bool:
        """Whether a change into ``state`` is sent (``ignore_states`` wins over ``only_states``)."""
        if self.ignore_states and isinstance(state, self.ignore_states):
            return False
        return not self.only_states or isinstance(state, self.only_states)

    def __call__(self, tracked_obj: Any, old_state: Optional[State], new_state: State) -> State:
        if self.wants(new_state):
            _outbox.send(self, tracked_obj, old_state, new_state)
        return new_state

    def _deliver(self, tracked_obj: Any, old_state: Optional[State], new_state: State, end: Optional[float] = None) -> tuple:
        """Send one message by ``end`` (``time.monotonic()``; default: ``timeout`` from now).
        Returns ``(None, False)`` when sent, else ``(the warning to log, whether the deadline passed)``."""
        deadline = _Deadline(self.timeout, end)
        try:
            if deadline.end <= time.monotonic():  # queued behind a message that took the time
                deadline.expired = True
                raise TimeoutError("deadline")
            with deadline:
                self._send(tracked_obj, old_state, new_state, deadline)
            if deadline.expired:  # an answer cut short at the deadline may look complete
                raise TimeoutError("deadline")
        except Exception as exc:  # a notification must never fail a run
            timeout = self.timeout
            if time.monotonic() >= deadline.end - 0.05:  # a socket timeout (set to what was left) ended it
                deadline.expired = True
            if deadline.expired:
                why = (f"no complete answer within {timeout:g} s (timeout={timeout:g}); the server is too slow "
                       "or does not answer (messages queued behind this one are given up with it)")
            else:
                why = f"{type(exc).__name__}: {self._scrub(str(exc))}"
            report = (
                "Could not send %s notification about %r entering %s (via %s): %s",
                self.channel, getattr(tracked_obj, "name", tracked_obj), type(new_state).__name__,
                self._target(), why,
            )
            return report, deadline.expired
        return None, False

    @abc.abstractmethod
    def _send(self, tracked_obj: Any, old_state: Optional[State], new_state: State, deadline: "_Deadline") -> None:
        """Deliver the message, its connections watched by ``deadline``; raise on any failure (the caller logs it)."""

    @abc.abstractmethod
    def _target(self) -> str:
        """Where messages go, safe to show in a log line."""

    def _scrub(self, text: str) -> str:
        """Remove secrets from ``text`` before it is logged."""
        return text

    def _filters(self) -> str:
        parts = []
        if self.only_states:
            parts.append("only_states=[" + ", ".join(c.__name__ for c in self.only_states) + "]")
        if self.ignore_states:
            parts.append("ignore_states=[" + ", ".join(c.__name__ for c in self.ignore_states) + "]")
        return "".join(" " + p for p in parts)


class SlackNotifier(_Notifier):
    """Handler made by :func:`slack_notifier`; posts :func:`slack_message` as JSON."""

    channel = "Slack"

    def __init__(self, webhook_url=None, only_states=None, ignore_states=None, timeout=DEFAULT_TIMEOUT):
        super().__init__(only_states, ignore_states, timeout)
        url = webhook_url or os.environ.get(SLACK_URL_ENV)
        if not url:
            raise ValueError(
                "slack_notifier needs a webhook URL: pass webhook_url='https://hooks.slack.com/...' "
                f"or set the {SLACK_URL_ENV} environment variable."
            )
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"webhook_url must be an http(s) URL; got {_redact(url)!r}.")
        self.webhook_url = url

    def _send(self, tracked_obj, old_state, new_state, deadline) -> None:
        post_json(self.webhook_url, slack_message(tracked_obj, new_state, old_state), deadline)

    def _target(self) -> str:
        return _redact(self.webhook_url)

    def _scrub(self, text: str) -> str:
        path = urllib.parse.urlsplit(self.webhook_url).path
        text = text.replace(self.webhook_url, self._target())
        return text.replace(path, "/...") if len(path) > 1 else text

    def __repr__(self) -> str:
        return f"<slack_notifier {self._target()}{self._filters()}>"


def _redact(url: str) -> str:
    """Scheme and host of ``url`` only: a webhook path is a secret."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/..." if parts.netloc else "<url>"


class EmailNotifier(_Notifier):
    """Handler made by :func:`email_notifier`; sends :func:`email_message` over SMTP.

    Credentials are read from the environment when a message is sent, so they
    are never stored in (or pickled with) the flow.
    """

    channel = "e-mail"

    def __init__(
        self, to=None, smtp_host=None, smtp_port=None, smtp_type="STARTTLS", from_addr=None,
        only_states=None, ignore_states=None, timeout=DEFAULT_TIMEOUT, require_login=False,
        name="email_notifier",
    ):
        super().__init__(only_states, ignore_states, timeout)
        self.smtp_type = str(smtp_type).upper()
        if self.smtp_type not in _SMTP_DEFAULT_PORTS:
            raise ValueError(f"smtp_type must be 'STARTTLS', 'SSL' or 'INSECURE'; got {smtp_type!r}.")
        self.smtp_host = smtp_host or os.environ.get(SMTP_HOST_ENV)
        if not self.smtp_host:
            raise ValueError(
                f"{name} needs an SMTP server: pass smtp_host='smtp.example.com' "
                f"or set the {SMTP_HOST_ENV} environment variable."
            )
        self.smtp_port = _port(smtp_port, self.smtp_type)
        username = os.environ.get(USERNAME_ENV)
        if require_login and not (username and os.environ.get(PASSWORD_ENV)):
            raise ValueError(
                f"{name} logs in to {self.smtp_host}: set the {USERNAME_ENV} and {PASSWORD_ENV} "
                "environment variables (for Gmail, use an app password)."
            )
        recipients = to or username
        if not recipients:
            raise ValueError(
                f"{name} needs a recipient: pass to='you@example.com' "
                f"(or set {USERNAME_ENV} to send to yourself)."
            )
        self.to = [recipients] if isinstance(recipients, str) else list(recipients)
        self.from_addr = from_addr

    def _send(self, tracked_obj, old_state, new_state, deadline) -> None:
        username, password = os.environ.get(USERNAME_ENV), os.environ.get(PASSWORD_ENV)
        sender = self.from_addr or username or "perfect_nb@localhost"
        msg = email_message(tracked_obj, new_state, self.to, sender, old_state)
        smtp_send(msg, self.smtp_host, self.smtp_port, self.smtp_type, username, password, deadline)

    def _target(self) -> str:
        return f"smtp://{self.smtp_host}:{self.smtp_port} ({self.smtp_type})"

    def __repr__(self) -> str:
        return f"<email_notifier to {', '.join(self.to)} via {self._target()}{self._filters()}>"


def _port(smtp_port, smtp_type: str) -> int:
    value = smtp_port if smtp_port is not None else os.environ.get(SMTP_PORT_ENV)
    if value is None or value == "":
        return _SMTP_DEFAULT_PORTS[smtp_type]
    try:
        return int(value)
    except (TypeError, ValueError):
        source = "smtp_port" if smtp_port is not None else SMTP_PORT_ENV
        raise ValueError(f"{source} must be a port number; got {value!r}.") from None


def _curry(make: Callable[[], _Notifier], tracked_obj, old_state, new_state, fname: str):
    if tracked_obj is None and old_state is None and new_state is None:
        return make()
    if tracked_obj is None or new_state is None:
        raise TypeError(
            f"{fname} takes either (tracked_obj, old_state, new_state) or keyword "
            f"arguments only, e.g. {fname}(only_states=[Failed])."
        )
    return make()(tracked_obj, old_state, new_state)


# --------------------------------------------------------------------------
# public notifiers (curried)
# --------------------------------------------------------------------------
def slack_notifier(
    tracked_obj: Any = None,
    old_state: Optional[State] = None,
    new_state: Optional[State] = None,
    ignore_states: StateClasses = None,
    only_states: StateClasses = None,
    webhook_url: Optional[str] = None,
    timeout: float = DEFAULT_TIMEOUT,
):
    """Post state changes to a Slack incoming webhook.

    Parameters
    ----------
    tracked_obj, old_state, new_state
        Given together, act now; omitted, return a handler with the other
        arguments bound.
    ignore_states, only_states : list of State classes, optional
        Send only for states that are instances of ``only_states`` and not of
        ``ignore_states`` (subclasses match: ``Failed`` covers ``TimedOut``).
    webhook_url : str, optional
        Defaults to the ``SLACK_WEBHOOK_URL`` environment variable, read once,
        when the handler is created; ``ValueError`` if neither is set.
    timeout : float
        Seconds to wait for Slack before logging a warning instead.

    Returns
    -------
    A state handler, or ``new_state`` when called with the three states.

    Examples
    --------
    >>> from perfect_nb.engine.state import Failed
    >>> slack_notifier(only_states=[Failed], webhook_url="https://hooks.example.com/T/B/x")
    <slack_notifier https://hooks.example.com/... only_states=[Failed]>

    Attach it to a task (or flow)::

        @task(state_handlers=[slack_notifier(only_states=[Failed])])
        def load(): ...
    """
    return _curry(
        lambda: SlackNotifier(webhook_url, only_states, ignore_states, timeout),
        tracked_obj, old_state, new_state, "slack_notifier",
    )


def email_notifier(
    tracked_obj: Any = None,
    old_state: Optional[State] = None,
    new_state: Optional[State] = None,
    to: Optional[Union[str, Sequence[str]]] = None,
    smtp_host: Optional[str] = None,
    smtp_port: Optional[int] = None,
    smtp_type: str = "STARTTLS",
    ignore_states: StateClasses = None,
    only_states: StateClasses = None,
    from_addr: Optional[str] = None,
    timeout: float = DEFAULT_TIMEOUT,
):
    """E-mail state changes over SMTP (a subject plus plain-text and HTML bodies).

    Parameters
    ----------
    tracked_obj, old_state, new_state
        As in :func:`slack_notifier` (curried).
    to : str or list of str, optional
        Recipients; defaults to ``PERFECT_NB_EMAIL_USERNAME`` (mail yourself).
    smtp_host, smtp_port : optional
        Default to ``PERFECT_NB_SMTP_HOST`` / ``PERFECT_NB_SMTP_PORT``; the port
        then defaults by ``smtp_type``: 587 STARTTLS, 465 SSL, 25 INSECURE.
    smtp_type : {"STARTTLS", "SSL", "INSECURE"}
        How the connection is secured; ``INSECURE`` is plain SMTP.
    ignore_states, only_states : list of State classes, optional
        As in :func:`slack_notifier`.
    from_addr : str, optional
        Defaults to ``PERFECT_NB_EMAIL_USERNAME``, else ``perfect_nb@localhost``.
    timeout : float
        Seconds to wait for the server before logging a warning instead.

    The login uses ``PERFECT_NB_EMAIL_USERNAME`` / ``PERFECT_NB_EMAIL_PASSWORD``
    when both are set (read at send time); otherwise no login is attempted.
    With ``INSECURE`` the password, if any, crosses the network unencrypted.

    Examples
    --------
    >>> from perfect_nb.engine.state import Failed
    >>> email_notifier(to="ops@example.com", smtp_host="mail.example.com",
    ...                only_states=[Failed])
    <email_notifier to ops@example.com via smtp://mail.example.com:587 (STARTTLS) only_states=[Failed]>
    """
    return _curry(
        lambda: EmailNotifier(
            to, smtp_host, smtp_port, smtp_type, from_addr, only_states, ignore_states, timeout,
        ),
        tracked_obj, old_state, new_state, "email_notifier",
    )


def gmail_notifier(
    tracked_obj: Any = None,
    old_state: Optional[State] = None,
    new_state: Optional[State] = None,
    ignore_states: StateClasses = None,
    only_states: StateClasses = None,
    to: Optional[Union[str, Sequence[str]]] = None,
    timeout: float = DEFAULT_TIMEOUT,
):
    """:func:`email_notifier` through Gmail (smtp.gmail.com:465, SSL).

    Needs ``PERFECT_NB_EMAIL_USERNAME`` and ``PERFECT_NB_EMAIL_PASSWORD`` (an
    app password); mails that address unless ``to`` is given.

    Examples
    --------
    ::

        @task(state_handlers=[gmail_notifier(only_states=[Failed])])
        def load(): ...
    """
    return _curry(
        lambda: EmailNotifier(
            to, "smtp.gmail.com", 465, "SSL", None, only_states, ignore_states, timeout,
            require_login=True, name="gmail_notifier",
        ),
        tracked_obj, old_state, new_state, "gmail_notifier",
    )
