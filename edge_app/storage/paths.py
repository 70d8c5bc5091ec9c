"""Where PneumoScan keeps its data and its settings on this machine.

platformdirs knows each platform's conventions (XDG on Linux, Application
Support on macOS, %LOCALAPPDATA% on Windows), so a laptop keeps PneumoScan's
files where its owner and its backup tools expect them. `PNEUMOSCAN_HOME`
overrides both folders with one, for a shared clinic folder, a USB stick, or tests.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HOME_ENV = "PNEUMOSCAN_HOME"
APP_NAME = "pneumoscan"
HISTORY_FILE = "history.sqlite3"


def _platform_dirs():
    """platformdirs' folders for the running platform, chosen when called (not at import, so tests can
    set sys.platform). Not roaming on Windows: the history and models belong to this machine."""
    if sys.platform == "win32":
        from platformdirs.windows import Windows as Dirs
    elif sys.platform == "darwin":
        from platformdirs.macos import MacOS as Dirs
    else:
        from platformdirs.unix import Unix as Dirs
    return Dirs(APP_NAME, appauthor=False, roaming=False, ensure_exists=False)


def _override() -> Path | None:
    override = os.environ.get(HOME_ENV)
    return Path(override).expanduser() if override else None


def data_dir() -> Path:
    """The folder for PneumoScan's data: history, installed models, site profile (not created here)."""
    return _override() or Path(_platform_dirs().user_data_dir)


def config_dir() -> Path:
    """The folder for this site's settings, such as the keys it trusts for model updates (not created here)."""
    return _override() or Path(_platform_dirs().user_config_dir)


def history_path() -> Path:
    return data_dir() / HISTORY_FILE
