"""The package's layers (docs/architecture.md): imports only go down, never in a circle, and no
module grows past about 300 lines."""

from __future__ import annotations

from pathlib import Path

from tests.test_dvc_yaml import SRC, _imported_modules, _module_file

PACKAGE = SRC / "classlens"
# Top first. A module may import from its own folder and from any lower layer, never upwards and
# never sideways into another folder of its own layer.
LAYERS = [
    {"cli"},
    {"pipeline"},
    {"config"},
    {"reporting", "serving"},
    {"training", "explain"},
    {"models", "evaluation", "analysis", "figures", "tracking"},
    {"data"},
    {"task"},
    {"paths", "atomic", "errors", "naming", "formatting", "quiet", "__init__"},
]
MAX_LINES = 300


def _room(file: Path) -> str:
    return file.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _layer(room: str) -> int:
    return next(i for i, rooms in enumerate(LAYERS) if room in rooms)


def _edges() -> dict[Path, set[Path]]:
    """file -> the files it imports. The `__init__.py` of a folder above a file is left out: Python
    has run it before the file, so it cannot close a circle through it."""
    edges = {}
    for file in PACKAGE.rglob("*.py"):
        targets = {_module_file(name) for name in _imported_modules(file)}
        edges[file] = {t for t in targets if t is not None and t != file
                       and not (t.name == "__init__.py" and t.parent in file.parents)}
    return edges


def test_every_folder_and_top_module_has_a_layer():
    rooms = {_room(f) for f in PACKAGE.rglob("*.py")}
    assert rooms <= set().union(*LAYERS), rooms - set().union(*LAYERS)
    loose = [f.name for f in PACKAGE.glob("*.py")]
    assert len(loose) <= 10, loose


def test_imports_only_go_down():
    wrong = []
    for file, targets in _edges().items():
        here = _room(file)
        for target in targets:
            there = _room(target)
            if there == here or target.name == "__init__.py" and target.parent == PACKAGE:
                continue
            if _layer(there) <= _layer(here):
                wrong.append(f"{file.relative_to(SRC)} -> {target.relative_to(SRC)}")
    assert not wrong, "imports that go up or sideways:\n" + "\n".join(sorted(wrong))


def test_no_import_circles_between_files():
    edges = _edges()
    state: dict[Path, int] = {}  # 1: on the current path, 2: done
    circles = []

    def visit(file: Path, path: list[Path]) -> None:
        state[file] = 1
        for target in edges.get(file, ()):
            if state.get(target) == 1:
                start = path.index(target) if target in path else 0
                circles.append(" -> ".join(str(p.relative_to(SRC)) for p in path[start:] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[file] = 2

    for file in sorted(edges):
        if file not in state:
            visit(file, [file])
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_no_module_is_much_over_300_lines():
    long = {str(f.relative_to(SRC)): n for f in PACKAGE.rglob("*.py")
            if (n := len(f.read_text().splitlines())) > MAX_LINES}
    assert not long, long
