"""Read the bytes of an image file named by a person, refusing what is not a regular file.

A health worker's folder can hold anything: a link to a file that was moved,
a named pipe (reading one waits forever for a writer), a device such as
/dev/zero (reading one never ends), a socket, a huge video. None of them is
an X-ray, and none may stop the batch, so each becomes a rejection with its
own reason, and only regular files of a sane size are read.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from edge_app.reasons import FILE_TOO_LARGE, NOT_A_FILE, NOT_FOUND, ImageRejected

MAX_FILE_BYTES = 512 * 1024 * 1024
"""Larger files are not read: a 16-bit 8000x8000 radiograph stored raw is 128 MB."""


def read_image_file(path: Path) -> bytes:
    """The file's bytes; ImageRejected for a missing path, a non-regular file or a giant file.

    The file is opened without blocking and checked on the open descriptor, so
    a pipe put in a file's place between a check and the read is still refused.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError as exc:
        raise ImageRejected(NOT_FOUND, "There is no such file (or it is a link to a file that was moved).") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ImageRejected(NOT_FOUND, "The file is a link that leads back to itself.") from exc
        if exc.errno in (errno.ENXIO, errno.EISDIR):  # a socket, a device with nothing behind it, a folder
            raise ImageRejected(
                NOT_A_FILE, "This is not an image file (a socket, device or folder); it was not read."
            ) from exc
        raise
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode):
        os.close(descriptor)
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "a pipe, device or socket"
        raise ImageRejected(NOT_A_FILE, f"This is {kind}, not an image file; it was not read.")
    with os.fdopen(descriptor, "rb") as file:
        if info.st_size > MAX_FILE_BYTES:
            raise ImageRejected(
                FILE_TOO_LARGE, f"The file is {info.st_size // 2**20} MB, far larger than any X-ray image."
            )
        # Asking for the size fstat gave: for a read of "up to 512 MB" CPython allocates the whole
        # buffer first and shrinks it after, per image, and two reading threads then barely beat one.
        data = file.read(info.st_size + 1)
        if len(data) > info.st_size:  # the file grew since fstat (still being copied): read the rest
            data += file.read(MAX_FILE_BYTES + 1 - len(data))
        return data
