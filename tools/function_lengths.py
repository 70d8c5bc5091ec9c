"""List functions longer than the developers' limit (60 lines from `def` to the last line).

Usage: python tools/function_lengths.py [ROOT]; exits 1 when any function outside the
exempt files is too long. The vendored TFLite metadata bindings are generated code.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

LIMIT = 60
PACKAGES = ("edge_app", "lab", "train", "quantize", "benchmarks")
EXEMPT = frozenset({"quantize/metadata_schema_py_generated.py"})


def long_functions(root: Path, limit: int = LIMIT) -> list[tuple[str, int, str, int]]:
    """(file, line, name, lines) of every function over `limit` lines in the packages."""
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if relative in EXEMPT:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = node.end_lineno - node.lineno + 1
                    if length > limit:
                        found.append((relative, node.lineno, node.name, length))
    return found


def main() -> int:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
    found = long_functions(root)
    for relative, line, name, length in found:
        print(f"{relative}:{line}: {name} has {length} lines (limit {LIMIT})")
    print(f"{len(found)} function(s) over {LIMIT} lines")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
