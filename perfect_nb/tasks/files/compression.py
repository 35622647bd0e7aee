"""``Zip`` and ``Unzip``: make and extract zip archives with the stdlib ``zipfile``."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

from perfect_nb.core.task import Task
from perfect_nb.utilities.tasks import defaults_from_attrs

__all__ = ["Unzip", "Zip"]

_METHODS = {"store": zipfile.ZIP_STORED, "deflate": zipfile.ZIP_DEFLATED,
            "bzip2": zipfile.ZIP_BZIP2, "lzma": zipfile.ZIP_LZMA}


class Unzip(Task):
    """Extract ``zip_path`` into ``extract_dir`` (the current folder if not given; a
    ``password`` for an encrypted archive); the result is the folder's path."""

    def __init__(self, zip_path: str | Path = "", extract_dir: str | Path = "", **kwargs: Any) -> None:
        self.zip_path = zip_path
        self.extract_dir = extract_dir
        super().__init__(**kwargs)

    @defaults_from_attrs("zip_path", "extract_dir")
    def run(self, zip_path: str | Path = "", extract_dir: str | Path = "", password: bytes | str | None = None) -> Path:
        if not zip_path:
            raise ValueError("No `zip_path` provided")
        archive = Path(zip_path)
        folder = Path(extract_dir or Path.cwd())
        if not archive.exists():
            raise ValueError(f"`zip_path` '{archive}' not found")
        if not zipfile.is_zipfile(archive):
            raise TypeError(f"`zip_path` '{archive}' is not a zip file")
        if isinstance(password, str):
            password = password.encode()
        self.logger.info("Extracting '%s' to '%s'", archive, folder)
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(folder, pwd=password)
        return folder


class Zip(Task):
    """Write ``source_path`` (a file, a folder, or a list of them) into the archive
    ``zip_path``; a file is stored under its name, a folder's files under paths that
    start with the folder's name. The result is None."""

    def __init__(self, source_path: Any = "", zip_path: str | Path = "", compression_method: str = "deflate",
                 compression_level: int | None = None, **kwargs: Any) -> None:
        if compression_method not in _METHODS:
            raise ValueError(f"Compression method {compression_method} is not supported! Use one of {sorted(_METHODS)}.")
        self.source_path = source_path
        self.zip_path = zip_path
        self.compression = _METHODS[compression_method]
        self.compression_level = compression_level
        super().__init__(**kwargs)

    @defaults_from_attrs("source_path", "zip_path")
    def run(self, source_path: Any = "", zip_path: str | Path = "") -> None:
        if not source_path:
            raise ValueError("No `source_path` provided.")
        if not zip_path:
            raise ValueError("No `zip_path` provided.")
        sources = [Path(p) for p in source_path] if isinstance(source_path, list) else [Path(source_path)]
        with zipfile.ZipFile(zip_path, "w", compression=self.compression, compresslevel=self.compression_level) as zf:
            self.logger.info("Creating zip archive %s", zip_path)
            for source in sources:
                self.logger.info("Adding %s to archive", source.name)
                if source.is_file():
                    zf.write(source, arcname=source.name)
                    continue
                for root, _dirs, files in os.walk(source):
                    for name in files:
                        path = Path(root) / name
                        zf.write(path, arcname=path.relative_to(source.parent))
