"""Secret files: the one writer both the server and the node use.

It lives in ``crypto/io/`` (the only part of ``crypto/`` allowed files) so that the server does
not import the node's websocket client and the node does not import tornado to share it.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, data: bytes) -> None:
    """Write a secret file readable by its owner only.

    A new file is created next to ``path`` with mode 0600 (``O_EXCL``: never an existing file's
    mode; the umask can only take bits away and nothing is chmod'ed afterwards), written, synced,
    then renamed over ``path``, so a reader sees the old content or the whole new one, never a
    torn or readable-by-others file. On failure nothing is left behind.
    """
    tmp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(tmp, path)


__all__ = ["write_private"]
