"""The architecture holds: edge_app's floors only import downwards, and no project module is part of an import
circle (function-local imports included). Each check is first shown to fail on a graph that breaks it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.import_graph import circles, import_graph, imported_names, package_circles

ROOT = Path(__file__).resolve().parents[2]

FLOORS = {
    "intake": 1,
    "storage": 1,
    "inference": 2,
    "scan": 3,
    "outputs": 4,
    "site": 4,
    "updates": 4,
    "cli": 5,
    "app": 5,
}
"""Sub-packages of edge_app by floor; edge_app's own modules (the shared vocabulary) are floor 0."""
ENTRY_POINTS = {"edge_app.__main__": 6}
"""`python -m edge_app` starts the command line, so it sits above it."""
SEALED = {"cli": {"cli"}, "app": {"app"}}
"""Sub-packages only their own modules may import: the command line and the web app are two front doors,
and neither goes through the other."""


def floor(module: str) -> int | None:
    """The floor of an edge_app module; None outside edge_app."""
    parts = module.split(".")
    if parts[0] != "edge_app":
        return None
    if module in ENTRY_POINTS:
        return ENTRY_POINTS[module]
    if len(parts) == 1 or (len(parts) == 2 and parts[1] not in FLOORS):
        return 0
    if parts[1] not in FLOORS:
        raise AssertionError(f"{module}: a sub-package of edge_app with no floor; give it one in FLOORS")
    return FLOORS[parts[1]]


def sub_package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "edge_app" else None


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Each import of edge_app that goes up a floor or into a sealed sub-package, as 'importer -> imported'."""
    found = []
    for importer, imported in sorted(graph.items()):
        importer_floor = floor(importer)
        if importer_floor is None:
            continue
        for target in sorted(imported):
            target_floor = floor(target)
            if target_floor is None:
                continue
            sealed = sub_package(target) in SEALED and sub_package(importer) not in SEALED[sub_package(target)]
            if target_floor > importer_floor or (sealed and importer not in ENTRY_POINTS):
                found.append(f"{importer} -> {target}")
    return found


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"edge_app.intake.decode": {"edge_app.scan.scanner"}}, ["edge_app.intake.decode -> edge_app.scan.scanner"]),
        ({"edge_app.record": {"edge_app.storage.history"}}, ["edge_app.record -> edge_app.storage.history"]),
        ({"edge_app.outputs.info": {"edge_app.cli.main"}}, ["edge_app.outputs.info -> edge_app.cli.main"]),
        ({"edge_app.app.server": {"edge_app.cli.main"}}, ["edge_app.app.server -> edge_app.cli.main"]),
        ({"edge_app.cli.main": {"edge_app.app.server"}}, ["edge_app.cli.main -> edge_app.app.server"]),
        ({"edge_app.inference.gate": {"edge_app.inference.runtime", "edge_app.intake.decode"}}, []),
        ({"edge_app.app.server": {"edge_app.scan.scanner", "edge_app.site.calibration"}}, []),
        ({"edge_app.__main__": {"edge_app.cli.main"}}, []),
    ],
)
def test_the_floor_check_finds_every_import_that_goes_up(graph, expected):
    assert upward_imports(graph) == expected


def test_a_sub_package_without_a_floor_is_named():
    with pytest.raises(AssertionError, match="edge_app.web.server"):
        upward_imports({"edge_app.web.server": {"edge_app.record"}})


def test_no_edge_app_module_imports_a_higher_floor():
    graph = import_graph(ROOT, ["edge_app"])
    assert len(graph) > 40, "the edge_app modules were not found"
    assert upward_imports(graph) == []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}, [["a", "b"], ["c", "d"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b", "c"}, "b": {"c"}, "c": set()}, []),
    ],
)
def test_the_circle_check_finds_every_circle(graph, expected):
    assert circles(graph) == expected


def test_an_import_inside_a_function_counts():
    source = "def load():\n    from train.keras_env import tf\n    return tf\n"
    assert "train.keras_env" in imported_names(source, "quantize.convert", is_package=False)


def test_relative_imports_are_made_absolute():
    names = imported_names("from . import history\nfrom ..scan import scanner\n", "edge_app.storage.paths", False)
    assert {"edge_app.storage.history", "edge_app.scan.scanner"} <= names


def test_no_project_module_is_part_of_an_import_circle():
    graph = import_graph(ROOT)
    assert {name.split(".")[0] for name in graph} >= {"edge_app", "lab", "train", "quantize", "benchmarks"}
    assert circles(graph) == []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"train.gate_training": {"quantize.convert"}, "quantize.pipeline": {"train.fit"}}, [("quantize", "train")]),
        ({"quantize.pipeline": {"train.fit", "lab.config"}, "train.fit": {"lab.config"}}, []),
    ],
)
def test_the_package_check_finds_packages_that_import_each_other(graph, expected):
    assert package_circles(graph) == expected


def test_no_two_project_packages_import_each_other():
    assert package_circles(import_graph(ROOT)) == []
