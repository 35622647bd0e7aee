"""``%perfect_backend``: which backend records this notebook's runs, and whether it answers.

::

    %perfect_backend                      # show it
    %perfect_backend server --api URL     # record runs in the server at URL (as `perfect backend server`)
    %perfect_backend none                 # stop recording

Switching writes the user's config file, as the command line does, so scripts and
other notebooks see the same choice.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

__all__ = ["BackendMagics", "describe_backend"]


def describe_backend() -> str:
    """One line: the configured backend and whether its server answers."""
    from perfect_nb.configuration import get_value

    if get_value("backend", "kind") != "server":
        return "Backend: none; runs are not recorded. Record them with `%perfect_backend server` (a server must be running: `perfect server start`)."
    from perfect_nb.client import Client, ClientError

    with Client(timeout=3.0) as client:
        try:
            health = client.health()
        except ClientError as exc:
            return f"Backend: server at {client.api}, which does not answer: {exc}"
    return (f"Backend: server at {client.api} (perfect_nb {health['version']}, database {health['database']}); "
            "every flow.run() and %%perfect_flow run is recorded there.")


@magics_class
class BackendMagics(Magics):
    @line_magic
    @magic_arguments()
    @argument("kind", nargs="?", choices=["server", "none"], help="record runs in a server, or not; without it, show the current choice")
    @argument("--api", help="the server's address (default http://127.0.0.1:4200)")
    def perfect_backend(self, line: str) -> None:
        """Show or switch the backend that records this notebook's runs."""
        try:
            args = parse_argstring(self.perfect_backend, line)
        except Exception as exc:  # argparse's own SystemExit/UsageError
            raise UsageError(f"%perfect_backend: {exc}") from None
        if args.api and args.kind != "server":
            raise UsageError("%perfect_backend: --api goes with `server`, e.g. %perfect_backend server --api http://127.0.0.1:4200")
        if args.kind:
            from perfect_nb.configuration import set_user_config

            set_user_config("backend", "kind", args.kind)
            if args.api:
                set_user_config("backend", "api", args.api.rstrip("/"))
        print(describe_backend())


def load(ipython: Any) -> None:
    ipython.register_magics(BackendMagics)
