"""edge-scan works with networking blocked: the offline promise, checked on the real command.

A sitecustomize module, loaded by the child Python before edge-scan, replaces
every way to open a socket or resolve a name with one that records the attempt
and raises. The scan, the self-test and info must succeed, and nothing may
have been attempted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 300

GUARD = """
import pathlib, socket

_LOG = pathlib.Path(__file__).with_name("network_attempts.log")
pathlib.Path(__file__).with_name("guard_loaded").write_text("yes")


def _refuse(*args, **kwargs):
    with _LOG.open("a") as log:
        log.write(repr(args)[:200] + "\\n")
    raise OSError("networking is blocked in this test")


class _BlockedSocket(socket.socket):
    def __init__(self, *args, **kwargs):
        _refuse("socket", *args)


socket.socket = _BlockedSocket
for _name in ("create_connection", "getaddrinfo", "gethostbyname", "gethostbyname_ex", "socketpair", "fromfd"):
    setattr(socket, _name, _refuse)
"""


@pytest.fixture
def offline_env(tmp_path) -> dict[str, str]:
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(GUARD)
    env = {key: value for key, value in os.environ.items() if key != "PNEUMOSCAN_MODEL"}
    return env | {"PYTHONPATH": f"{guard}{os.pathsep}{ROOT}", "PNEUMOSCAN_HOME": str(tmp_path / "home")}


@pytest.mark.parametrize(
    "args", [("scan", "--samples", "--format", "json"), ("selftest",), ("info",), ("history",)], ids=" ".join
)
def test_edge_scan_never_touches_the_network(offline_env, tmp_path, args):
    done = subprocess.run(
        [sys.executable, "-m", "edge_app", *args], capture_output=True, text=True, timeout=TIMEOUT_S, env=offline_env
    )
    guard = tmp_path / "guard"
    assert (guard / "guard_loaded").exists()  # the block really was in place
    assert done.returncode == 0, done.stderr
    assert not (guard / "network_attempts.log").exists(), (guard / "network_attempts.log").read_text()
    assert "XNNPACK" not in done.stderr  # the runtime's start-up line is held back


def test_the_guard_itself_blocks_a_connection(offline_env, tmp_path):
    probe = "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 9))\nexcept OSError:\n    print('blocked')"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=offline_env)
    assert done.stdout.strip() == "blocked"
    assert (tmp_path / "guard" / "network_attempts.log").exists()
