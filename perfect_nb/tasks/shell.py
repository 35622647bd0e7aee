"""Prefect 1's ``ShellTask``: run a shell command in a subprocess, return its last line.

>>> from perfect_nb import Flow
>>> with Flow("shell") as flow:
...     out = ShellTask(return_all=True)(command="echo one; echo two")
>>> flow.run().result[out].result
['one', 'two']
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
from typing import Any

from perfect_nb.core.task import Task
from perfect_nb.engine import signals
from perfect_nb.utilities.tasks import defaults_from_attrs

__all__ = ["ShellTask"]


def _level(stream_output: bool | int | str) -> int | None:
    if stream_output is True:
        return logging.INFO
    if stream_output is False or stream_output is None:
        return None
    if isinstance(stream_output, str):
        level = logging.getLevelName(stream_output.upper())
        if not isinstance(level, int):
            raise ValueError(f"stream_output={stream_output!r} is not a logging level name (try 'INFO' or 'DEBUG').")
        return level
    return int(stream_output)


class ShellTask(Task):
    """Run ``command`` with ``shell`` (bash by default) in a subprocess.

    ``helper_script`` runs first in the same shell (functions, ``cd``); ``env`` adds
    environment variables to the current ones. stderr is merged into stdout. The result
    is the last line of output (``None`` if there was none), or every line when
    ``return_all=True``. A non-zero exit ends the task Failed with the message
    ``Command failed with exit code N`` and the output as its result; ``log_stderr``
    also logs that output at ERROR, and ``stream_output`` (True, a level or a level
    name) logs each line as it arrives.
    """

    def __init__(self, command: str | None = None, env: dict | None = None, helper_script: str | None = None,
                 shell: str = "bash", return_all: bool = False, log_stderr: bool = False,
                 stream_output: bool | int | str = False, **kwargs: Any) -> None:
        self.command = command
        self.env = env
        self.helper_script = helper_script
        self.shell = shell
        self.return_all = return_all
        self.log_stderr = log_stderr
        self.stream_output = _level(stream_output)
        super().__init__(**kwargs)

    @defaults_from_attrs("command", "env", "helper_script")
    def run(self, command: str | None = None, env: dict | None = None, helper_script: str | None = None) -> Any:
        if command is None:
            raise TypeError("run() missing required argument: 'command'")
        full_env = {**os.environ, **(env or {})}
        script = (helper_script + "\n" if helper_script else "") + command
        with tempfile.NamedTemporaryFile("w", prefix="perfect_nb-", suffix=".sh") as file:
            file.write(script)
            file.flush()
            lines: list[str] = []
            last = None
            with subprocess.Popen([self.shell, file.name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  env=full_env) as proc:
                for raw in proc.stdout:
                    last = raw.decode("utf-8", errors="replace").rstrip()
                    if self.return_all:
                        lines.append(last)
                    if self.stream_output is not None:
                        self.logger.log(self.stream_output, last)
            output = lines if self.return_all else last
            if proc.returncode:
                message = f"Command failed with exit code {proc.returncode}"
                self.logger.error(message)
                if self.log_stderr and self.stream_output is None:
                    self.logger.error("\n".join(lines) if self.return_all else last)
                raise signals.FAIL(message, result=output)
        return output
