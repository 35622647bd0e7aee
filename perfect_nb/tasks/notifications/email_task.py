"""``EmailTask``: send an e-mail (HTML and/or plain text, cc, bcc, attachments) over SMTP.

>>> task = EmailTask(subject="report", msg="<b>done</b>", email_to="team@example.com")
>>> task.smtp_server, task.smtp_port, task.smtp_type
('smtp.gmail.com', 465, 'SSL')
"""

from __future__ import annotations

import os
from email import encoders
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any

from perfect_nb.client.secrets import Secret
from perfect_nb.core.task import Task
from perfect_nb.utilities import notifications
from perfect_nb.utilities.tasks import defaults_from_attrs

__all__ = ["EmailTask"]

_TYPES = ("SSL", "STARTTLS", "INSECURE")


class EmailTask(Task):
    """Send an e-mail. Every argument can be given here or when the task is called.

    Parameters
    ----------
    subject, msg, msg_plain : str, optional
        ``msg`` is sent as HTML, ``msg_plain`` as plain text (either or both).
    email_to, email_to_cc, email_to_bcc : str, optional
        Addresses, comma-separated for several.
    email_from : str, optional
        The sender; default: the ``EMAIL_USERNAME`` secret when it is set, else
        ``perfect_nb@localhost`` (Prefect 1 defaulted to an address of its own).
    smtp_server, smtp_port, smtp_type : optional
        Default ``smtp.gmail.com``, 465, ``"SSL"``; ``"STARTTLS"`` and ``"INSECURE"`` (no
        TLS, no login: an internal relay) are the other types.
    attachments : list of str, optional
        Paths of files to attach.
    send_timeout : float
        Seconds for the whole SMTP conversation.

    With SSL or STARTTLS the task logs in with the ``EMAIL_USERNAME`` and
    ``EMAIL_PASSWORD`` secrets (read when it runs; a missing one fails the task).
    """

    def __init__(self, subject: str | None = None, msg: str | None = None, email_to: str | None = None,
                 email_from: str | None = None, smtp_server: str = "smtp.gmail.com", smtp_port: int = 465,
                 smtp_type: str = "SSL", msg_plain: str | None = None, email_to_cc: str | None = None,
                 email_to_bcc: str | None = None, attachments: list | None = None,
                 send_timeout: float = notifications.DEFAULT_TIMEOUT, **kwargs: Any) -> None:
        self.subject, self.msg, self.msg_plain = subject, msg, msg_plain
        self.email_to, self.email_from = email_to, email_from
        self.email_to_cc, self.email_to_bcc = email_to_cc, email_to_bcc
        self.smtp_server, self.smtp_port, self.smtp_type = smtp_server, smtp_port, smtp_type
        self.attachments = attachments
        self.send_timeout = float(send_timeout)
        super().__init__(**kwargs)

    @defaults_from_attrs("subject", "msg", "email_to", "email_from", "smtp_server", "smtp_port", "smtp_type",
                         "msg_plain", "email_to_cc", "email_to_bcc", "attachments")
    def run(self, subject: str | None = None, msg: str | None = None, email_to: str | None = None,
            email_from: str | None = None, smtp_server: str | None = None, smtp_port: int | None = None,
            smtp_type: str | None = None, msg_plain: str | None = None, email_to_cc: str | None = None,
            email_to_bcc: str | None = None, attachments: list | None = None) -> None:
        smtp_type = str(smtp_type).upper()
        if smtp_type not in _TYPES:
            raise ValueError(f"{smtp_type} is an unsupported value for smtp_type; use 'SSL', 'STARTTLS' or 'INSECURE'.")
        username = password = None
        if smtp_type != "INSECURE":
            username, password = Secret("EMAIL_USERNAME").get(), Secret("EMAIL_PASSWORD").get()
        if not email_to:
            raise ValueError("EmailTask needs email_to (give it to the task or when calling it).")
        if email_from is None:
            sender = Secret("EMAIL_USERNAME")
            email_from = sender.get() if sender.exists() else "perfect_nb@localhost"
        message = _message(subject, msg, msg_plain, email_to, email_from, email_to_cc, email_to_bcc, attachments or [])
        notifications.send_now(
            lambda deadline: notifications.smtp_send(message, smtp_server, int(smtp_port), smtp_type, username, password, deadline),
            self.send_timeout, f"SMTP server {smtp_server}:{smtp_port}",
        )


def _message(subject, html, plain, to, sender, cc, bcc, attachments) -> MIMEMultipart:
    """The plain part first, then the HTML one (mail clients show the last part they can)."""
    message = MIMEMultipart()
    message["Subject"] = subject or ""
    message["From"] = sender
    message["To"] = to
    if cc:
        message["Cc"] = cc
    if bcc:
        message["Bcc"] = bcc
    if plain:
        message.attach(MIMEText(plain, "plain"))
    if html:
        message.attach(MIMEText(html, "html"))
    for path in attachments:
        part = MIMEBase("application", "octet-stream")
        with open(path, "rb") as handle:
            part.set_payload(handle.read())
        encoders.encode_base64(part)
        part.add_header("Content-Disposition", "attachment", filename=os.path.basename(path))
        message.attach(part)
    return message
