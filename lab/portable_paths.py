"""Paths as committed reports may record them: relative to the repository, never the machine's own.

Benchmark results are committed and read on other machines. An absolute path of the machine that made them
(the checkout's root, a temporary folder, a home folder) means nothing there and tells about the machine, so
every path a report records is rewritten here, in one place, before it is written:

- inside the repository: relative to it (`edge_app/models/pneumoscan.tflite`);
- beside it, under a common folder: relative to it (`../shared/data/external`);
- in the temporary folder: `$TMPDIR/...`; in the home folder: `~/...`;
- anything else (system paths such as `/usr/bin/time`) is left as it is.

The repository is the checkout these modules run from; an installed copy uses the current folder instead.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path, PurePosixPath

ABSOLUTE_PATH = re.compile(r"(?<![\w.~$/:\\-])/[^\s'\"`<>|,;:()\[\]{}*]+")
"""An absolute POSIX path inside a longer text: it starts at a slash not preceded by a word, a dot, a URL's
colon or another slash, and runs to the next space, quote or punctuation that paths here never contain."""


def repository_root() -> Path:
    """The checkout this code runs from, else (an installed copy) the current folder."""
    checkout = Path(__file__).resolve().parents[1]
    return checkout if (checkout / "pyproject.toml").is_file() else Path.cwd()


def _under(path: PurePosixPath, folder: PurePosixPath) -> str | None:
    """The part of path below folder ("" for the folder itself), or None when path is not inside it."""
    try:
        below = path.relative_to(folder).as_posix()
    except ValueError:
        return None
    return "" if below == "." else below


def portable_path(path: str | os.PathLike, root: Path | None = None) -> str:
    """One path as a report should record it (see the module docstring); relative paths are kept as given."""
    text = os.fspath(path)
    if not text.startswith("/"):
        return text
    target = PurePosixPath(os.path.normpath(text))
    root = PurePosixPath(os.path.normpath(root or repository_root()))
    inside = _under(target, root)
    if inside is not None:
        return inside or "."
    for folder, name in ((tempfile.gettempdir(), "$TMPDIR"), (os.path.expanduser("~"), "~")):
        below = _under(target, PurePosixPath(os.path.normpath(folder)))
        if folder != "/" and below is not None:
            return f"{name}/{below}" if below else name
    if len(target.parts) > 1 and target.parts[:2] == root.parts[:2]:
        return os.path.relpath(target, root)
    return text


def local_path(recorded: str, root: Path | None = None) -> Path:
    """A path a report recorded, as a file on this machine: the reverse of portable_path.

    `$TMPDIR/...` and `~/...` name this machine's temporary and home folders, and a relative path is relative
    to the repository (or `root`), as portable_path wrote it; an absolute path is kept as it is."""
    for name, folder in (("$TMPDIR", tempfile.gettempdir()), ("~", os.path.expanduser("~"))):
        if recorded == name or recorded.startswith(name + "/"):
            return Path(folder) / recorded[len(name) :].lstrip("/")
    path = Path(recorded)
    return path if path.is_absolute() else (root or repository_root()) / path


def portable_text(text: str, root: Path | None = None) -> str:
    """Text with every absolute path in it rewritten by portable_path (commands, messages, Markdown)."""
    return ABSOLUTE_PATH.sub(lambda match: portable_path(match.group(0), root), text)


def portable(value, root: Path | None = None):
    """A report (dicts, lists and strings, keys included) with every absolute path rewritten; numbers untouched."""
    if isinstance(value, str):
        return portable_text(value, root)
    if isinstance(value, dict):
        return {portable(key, root): portable(item, root) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [portable(item, root) for item in value]
    if isinstance(value, os.PathLike):
        return portable_path(value, root)
    return value
