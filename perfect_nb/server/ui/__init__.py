"""The web UI served by ``perfect server start`` (see :mod:`perfect_nb.server.ui.routes`)."""

from perfect_nb.server.ui.routes import router

__all__ = ["router"]
