"""Talking to a perfect_nb server: :class:`Client`, registration and run reporting.

Nothing here is imported by ``import perfect_nb`` or by a flow run without a
backend; the engine knows none of it.
"""

from perfect_nb.client.client import Client, ClientError

__all__ = ["Client", "ClientError"]
