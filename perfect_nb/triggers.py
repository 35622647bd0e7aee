"""Prefect-1 import path for the triggers: ``from perfect_nb import triggers``."""

from perfect_nb.engine.triggers import *  # noqa: F401,F403
from perfect_nb.engine.triggers import __all__  # noqa: F401
