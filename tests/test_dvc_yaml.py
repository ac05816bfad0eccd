"""dvc.yaml stays true to the code: every module a stage imports is one of its deps (so a change
to that code re-runs the stage), and every output it declares is a path of `classlens.paths`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from classlens import paths

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
DVC_YAML = yaml.safe_load((ROOT / "dvc.yaml").read_text())
STAGES = list(DVC_YAML["stages"])

# Code a stage imports that deliberately is not a dep, and why. Each entry is a file or folder
# under src/classlens/.
NOT_DEPS = {
    "src/classlens/tracking": "MLflow logging only: changing how a run is logged must not retrain "
                              "the model or recompute metrics",
    "src/classlens/serving/logged_model.py": "logs the served model into the MLflow run (train's "
                                             "DVC outputs do not depend on it)",
    "src/classlens/serving/loading.py": "loads a logged MLflow model back (`classlens predict`); "
                                        "no stage output depends on it",
    "src/classlens/config": "validates params.yaml; the values are the stage's `params` deps",
    "src/classlens/cli.py": "entry point: turns a user error into one line",
    "src/classlens/errors.py": "the exception types",
    "src/classlens/atomic.py": "how files are written (temp name, rename), not what they hold",
    "src/classlens/paths.py": "output names: dvc.yaml's outs are checked against it below",
    "src/classlens/__init__.py": "the package docstring and version",
}


def _module_file(dotted: str) -> Path | None:
    base = SRC / dotted.replace(".", "/")
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_modules(file: Path) -> set[str]:
    """Every classlens module `file` imports, at any depth of the file (lazy imports count)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(), filename=str(file))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("classlens"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("classlens"):
            found.add(node.module)
            # `from classlens.pkg import module` imports a module, not only a name
            found.update(f"{node.module}.{a.name}" for a in node.names
                         if _module_file(f"{node.module}.{a.name}"))
    with_parents = set(found)
    for name in found:  # importing a.b.c runs a/__init__.py and a/b/__init__.py first
        parts = name.split(".")
        with_parents.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return with_parents


def import_closure(module: str, *, stop_at=()) -> set[Path]:
    """The files of every classlens module that importing `module` can run; a file covered by
    `stop_at` is included, but what it imports is not followed."""
    seen: set[Path] = set()
    todo = [module]
    while todo:
        file = _module_file(todo.pop())
        if file is None or file in seen:
            continue
        seen.add(file)
        if not _covered(file.relative_to(ROOT).as_posix(), stop_at):
            todo.extend(_imported_modules(file))
    return seen


def _marker_only(file: Path) -> bool:
    """A package `__init__.py` holding nothing but its docstring: no code to depend on."""
    body = ast.parse(file.read_text()).body
    return file.name == "__init__.py" and all(
        isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body)


def _covered(rel: str, entries) -> bool:
    return any(rel == e or rel.startswith(e.rstrip("/") + "/") for e in entries)


@pytest.mark.parametrize("stage", STAGES)
def test_every_module_a_stage_imports_is_a_dep(stage):
    deps = DVC_YAML["stages"][stage]["deps"]
    assert f"stages/{stage}.py" in deps
    # not a dep, and neither is what only they import (config imports every package's options)
    closure = import_closure(f"classlens.pipeline.{stage}", stop_at=NOT_DEPS)
    missing = sorted(rel for rel, f in ((f.relative_to(ROOT).as_posix(), f) for f in closure)
                     if not _marker_only(f)
                     and not _covered(rel, deps) and not _covered(rel, NOT_DEPS))
    assert not missing, f"dvc.yaml stage '{stage}' imports these without listing them as deps: {missing}"


def test_the_closure_follows_lazy_and_package_imports():
    closure = {f.relative_to(SRC).as_posix() for f in import_closure("classlens.pipeline.evaluate")}
    # evaluate imports its figures inside a function, and `classlens.figures` is a package
    assert "classlens/figures/evaluation.py" in closure
    assert "classlens/figures/__init__.py" in closure


def test_every_declared_output_is_a_path_of_classlens_paths():
    known = {str(v) for v in vars(paths).values() if isinstance(v, Path)}
    for stage, spec in DVC_YAML["stages"].items():
        outs = [next(iter(o)) if isinstance(o, dict) else o for o in spec.get("outs", [])]
        outs += [next(iter(m)) if isinstance(m, dict) else m for m in spec.get("metrics", [])]
        unknown = [o for o in outs if o not in known]
        assert not unknown, f"dvc.yaml stage '{stage}' writes {unknown}, which classlens.paths does not name"


def _outs(stage: dict) -> list[tuple[str, dict]]:
    entries = [*stage.get("outs", []), *stage.get("metrics", []), *stage.get("plots", [])]
    return [(e, {}) if isinstance(e, str) else next(iter(e.items())) for e in entries]


@pytest.mark.parametrize("stage", STAGES)
def test_every_output_survives_a_failed_stage(stage):
    """DVC deletes a non-persistent output before the stage runs, so a stage that then fails
    (or is killed) would leave nothing; every output is `persist: true` and the stages replace
    them atomically at their end (the e2e test in test_pipeline_dvc.py shows it)."""
    outs = _outs(DVC_YAML["stages"][stage])
    assert outs
    assert [path for path, options in outs if not (options or {}).get("persist")] == []


def test_check_runs_first_and_sees_every_param():
    """`check` validates the whole params.yaml before any other stage: every stage is
    downstream of prepare, and prepare depends on check's marker."""
    check = DVC_YAML["stages"]["check"]
    assert check["params"] == [{"params.yaml": None}]
    assert [path for path, _ in _outs(check)] == [paths.CHECKED.as_posix()]
    assert paths.CHECKED.as_posix() in DVC_YAML["stages"]["prepare"]["deps"]
    assert STAGES[0] == "check"
