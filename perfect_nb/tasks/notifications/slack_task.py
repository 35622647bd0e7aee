"""``SlackTask``: post a message to a Slack incoming webhook.

>>> task = SlackTask(message="nightly load done")
>>> task.webhook_secret, task.message
('SLACK_WEBHOOK_URL', 'nightly load done')
"""

from __future__ import annotations

import urllib.error
from typing import Any

from perfect_nb.client.secrets import Secret
from perfect_nb.core.task import Task
from perfect_nb.utilities import notifications
from perfect_nb.utilities.tasks import defaults_from_attrs

__all__ = ["SlackTask"]


class SlackTask(Task):
    """Send ``message`` to Slack: a string is sent as ``{"text": message}``, a dict as it is
    (blocks, attachments).

    Parameters
    ----------
    message : str or dict, optional
        Can also be given when the task is called.
    webhook_secret : str
        The name of the secret holding the webhook URL (default ``"SLACK_WEBHOOK_URL"``),
        read with :class:`perfect_nb.client.secrets.Secret` when the task runs.
    send_timeout : float
        Seconds for connecting, sending and reading the answer together.
    **kwargs
        Task options.

    The run also takes ``webhook_url=`` (for instance from an upstream ``PrefectSecret``),
    which wins over the secret. An error answer (4xx/5xx), an unreachable server or the
    deadline fails the task.
    """

    def __init__(self, message: Any = None, webhook_secret: str = "SLACK_WEBHOOK_URL",
                 send_timeout: float = notifications.DEFAULT_TIMEOUT, **kwargs: Any) -> None:
        self.message = message
        self.webhook_secret = webhook_secret
        self.send_timeout = float(send_timeout)
        super().__init__(**kwargs)

    @defaults_from_attrs("message", "webhook_secret")
    def run(self, message: Any = None, webhook_secret: str | None = None, webhook_url: str | None = None) -> None:
        url = webhook_url or Secret(webhook_secret).get()
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"The Slack webhook URL from secret {webhook_secret!r} must be an http(s) URL.")
        payload = message if isinstance(message, dict) else {"text": message}
        target = f"Slack webhook {notifications._redact(url)}"  # its path is the secret: never shown
        try:
            notifications.send_now(lambda deadline: notifications.post_json(url, payload, deadline), self.send_timeout, target)
        except urllib.error.HTTPError as exc:
            raise OSError(f"{target} answered HTTP {exc.code} {exc.reason}; the message was not posted.") from None
