"""File tasks from Prefect 1's ``prefect.tasks.files``: Copy, Move, Remove, Glob, Zip, Unzip."""

from perfect_nb.tasks.files.compression import Unzip, Zip
from perfect_nb.tasks.files.operations import Copy, Glob, Move, Remove

__all__ = ["Copy", "Glob", "Move", "Remove", "Unzip", "Zip"]
