"""Where PneumoScan keeps its data on this machine.

The device install has no platformdirs, so the per-user data folder is worked
out here the way each platform expects it. `PNEUMOSCAN_HOME` overrides it, for
a shared clinic folder, a USB stick, or tests.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HOME_ENV = "PNEUMOSCAN_HOME"
APP_NAME = "pneumoscan"
HISTORY_FILE = "history.sqlite3"
SAMPLES_DIR = Path(__file__).parent / "samples"
"""The sample X-rays shipped inside the package (see samples/ATTRIBUTION.md)."""


def data_dir() -> Path:
    """The folder for PneumoScan's data (not created here)."""
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / APP_NAME
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP_NAME
    xdg = os.environ.get("XDG_DATA_HOME")
    # XDG says a relative XDG_DATA_HOME is invalid and must be ignored
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / APP_NAME


def history_path() -> Path:
    return data_dir() / HISTORY_FILE
