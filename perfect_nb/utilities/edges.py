"""Prefect-1 import path for argument annotations: ``from perfect_nb.utilities.edges import unmapped, flatten``."""

from perfect_nb.core.edge import flatten, mapped, unmapped

__all__ = ["flatten", "mapped", "unmapped"]
