"""Reading files that may not be regular files.

A target or a cache entry is read back by path. If someone left a FIFO, a
device or a socket there, a plain ``open().read()`` blocks forever (a FIFO
waits for a writer). :func:`read_regular_file` opens without blocking, checks
what the path is, and only then reads.

>>> import os, tempfile
>>> folder = tempfile.mkdtemp()
>>> fifo = os.path.join(folder, "entry.pkl")
>>> os.mkfifo(fifo)
>>> read_regular_file(fifo)
Traceback (most recent call last):
...
perfect_nb.utilities.files.NotARegularFile: ... is a FIFO (named pipe), not a regular file; reading it could block forever.
"""

from __future__ import annotations

import os
import stat

__all__ = ["NotARegularFile", "read_regular_file"]

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISDIR, "a folder"), (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
)


class NotARegularFile(ValueError):
    """A path to read is a FIFO, a folder, a socket or a device."""


def read_regular_file(path: str | os.PathLike) -> bytes:
    """The bytes of the regular file at ``path``; ``NotARegularFile`` for anything else.

    ``FileNotFoundError`` and other ``OSError`` pass through.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
            raise NotARegularFile(f"{os.fspath(path)} is {kind}, not a regular file; reading it could block forever.")
        os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        return handle.read()
