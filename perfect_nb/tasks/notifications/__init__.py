"""Notification tasks (Prefect 1's ``tasks.notifications``): ``SlackTask`` posts a message to
a Slack webhook, ``EmailTask`` sends an e-mail over SMTP.

Unlike the notifier *state handlers* of :mod:`perfect_nb.utilities.notifications` (which
never fail a run), these are tasks: a message that cannot be sent fails the task, as in
Prefect 1. They share the notifiers' sending code and its one total deadline (``send_timeout``).
"""

from perfect_nb.tasks.notifications.email_task import EmailTask
from perfect_nb.tasks.notifications.slack_task import SlackTask

__all__ = ["EmailTask", "SlackTask"]
