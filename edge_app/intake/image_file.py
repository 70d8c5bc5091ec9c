"""Read the bytes of an image file named by a person, refusing what is not a regular file.

A health worker's folder can hold anything: a link to a file that was moved,
a named pipe (reading one waits forever for a writer), a device such as
/dev/zero (reading one never ends), a socket, a huge video. None of them is
an X-ray, and none may stop the batch, so each becomes a rejection with its
own reason, and only regular files of a sane size are read.
"""

from __future__ import annotations

from pathlib import Path

from edge_app.files import MISSING, TOO_LARGE, NotARegularFile, read_regular_file
from edge_app.reasons import FILE_TOO_LARGE, NOT_A_FILE, NOT_FOUND, ImageRejected

MAX_FILE_BYTES = 512 * 1024 * 1024
"""Larger files are not read: a 16-bit 8000x8000 radiograph stored raw is 128 MB."""


def read_image_file(path: Path) -> bytes:
    """The file's bytes; ImageRejected for a missing path, a non-regular file or a giant file."""
    try:
        return read_regular_file(path, MAX_FILE_BYTES, what="an image file")
    except NotARegularFile as exc:
        if exc.kind == TOO_LARGE:
            message = f"The file is {exc.size // 2**20} MB, far larger than any X-ray image."
            raise ImageRejected(FILE_TOO_LARGE, message) from exc
        raise ImageRejected(NOT_FOUND if exc.kind == MISSING else NOT_A_FILE, str(exc)) from exc
