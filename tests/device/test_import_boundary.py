"""edge_app runs on devices without TensorFlow: it must never import TensorFlow, lab, train, quantize or benchmarks.

Checked twice: statically over the source (import statements, and module names handed to
importlib.import_module or __import__, literally or through a variable), and by importing every
edge_app module and running a scan in a fresh interpreter that records every import attempt.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_DATA

ROOT = Path(__file__).resolve().parents[2]
EDGE_APP = ROOT / "edge_app"
FORBIDDEN = (
    "tensorflow",
    "tf_keras",
    "keras",
    "tensorflow_model_optimization",
    "train",
    "quantize",
    "benchmarks",
    "lab",
)
DOCUMENTED_FALLBACKS = {
    # Last-resort runtimes the README documents, tried only when ai-edge-litert does not import.
    "inference/runtime.py": {"tensorflow", "tensorflow.lite"},
    "inference/model_metadata.py": {"tensorflow.lite.python.schema_py_generated"},
}
MODULE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
DYNAMIC_IMPORTERS = {"import_module", "__import__", "run_module"}


def _dynamic_importers(tree: ast.AST) -> set[str]:
    """import_module, __import__ and run_module, also under the names a file gives them."""
    aliases = {
        alias.asname
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module in ("importlib", "runpy")
        for alias in node.names
        if alias.name in DYNAMIC_IMPORTERS and alias.asname
    }
    return DYNAMIC_IMPORTERS | aliases


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def imported_modules(source: str) -> set[str]:
    """Every module name a source file imports or may import.

    When a dynamic import takes its name from a variable, every module-like string in the file counts,
    so a name kept in a tuple or a constant is still seen."""
    tree = ast.parse(source)
    importers = _dynamic_importers(tree)
    names: set[str] = set()
    from_variable = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Call) and _called_name(node) in importers and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
            else:
                from_variable = True
    if from_variable:
        names.update(
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_NAME.fullmatch(node.value)
        )
    return names


def forbidden(names: set[str]) -> set[str]:
    return {name for name in names if name.split(".")[0] in FORBIDDEN}


@pytest.mark.parametrize(
    "source",
    [
        "import tensorflow as tf",
        "from train.training import train",
        "import quantize.pipeline",
        "from benchmarks import run",
        "import importlib\nimportlib.import_module('tensorflow')",
        "from importlib import import_module\nimport_module('quantize.pipeline')",
        "__import__('train')",
        "from importlib import import_module as load\nload('tensorflow.lite')",
        "import runpy\nrunpy.run_module('benchmarks.cli')",
        "import importlib\nNAMES = ('ai_edge_litert', 'benchmarks.run')\n[importlib.import_module(n) for n in NAMES]",
        "def load():\n    import keras\n    return keras",
    ],
)
def test_the_source_check_sees_every_way_of_importing(source):
    assert forbidden(imported_modules(source))


def test_no_edge_app_source_imports_tensorflow_or_the_lab_packages():
    found = {}
    for path in sorted(EDGE_APP.rglob("*.py")):
        names = forbidden(imported_modules(path.read_text(encoding="utf-8")))
        names -= DOCUMENTED_FALLBACKS.get(path.relative_to(EDGE_APP).as_posix(), set())
        if names:
            found[path.relative_to(ROOT).as_posix()] = sorted(names)
    assert found == {}, f"edge_app must run without TensorFlow and the lab packages; these import them: {found}"


IMPORT_EVERYTHING_AND_SCAN = """
import importlib, json, pkgutil, runpy, sys

FORBIDDEN = set(sys.argv[1].split(","))
attempts = []


class RecordForbidden:
    # sees every attempt, also those that fail or are caught by a try/except ImportError
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in FORBIDDEN:
            attempts.append(name)
        return None


sys.meta_path.insert(0, RecordForbidden())
import edge_app

culprits = {}
for info in pkgutil.walk_packages(edge_app.__path__, "edge_app."):
    if info.name == "edge_app.__main__":
        continue  # it runs the command line; run below with a scan
    before = len(attempts)
    importlib.import_module(info.name)
    if len(attempts) > before:
        culprits[info.name] = attempts[before:]
before = len(attempts)
scan_exit = None
sys.argv = ["edge-scan", "scan", sys.argv[2], "--format", "json", "--no-history"]
try:
    runpy.run_module("edge_app", run_name="__main__")
except SystemExit as exit:
    scan_exit = exit.code
if len(attempts) > before:
    culprits["python -m edge_app scan"] = attempts[before:]
loaded = sorted(m for m in sys.modules if m.split(".")[0] in FORBIDDEN)
print(json.dumps({"culprits": culprits, "loaded": loaded, "scan_exit": scan_exit}), file=sys.stderr)
"""


def test_importing_every_edge_app_module_and_scanning_loads_none_of_them(tmp_path):
    image = sorted((FIXTURE_DATA / "train" / "NORMAL").glob("*.jpeg"))[0]
    finished = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING_AND_SCAN, ",".join(FORBIDDEN), str(image)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PNEUMOSCAN_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    assert finished.returncode == 0, finished.stderr
    outcome = json.loads(finished.stderr.strip().splitlines()[-1])
    assert outcome["culprits"] == {} and outcome["loaded"] == [], outcome
    assert outcome["scan_exit"] == 0 and json.loads(finished.stdout)["status"] == "ok"
