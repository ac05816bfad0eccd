"""Shared fixtures: a throw-away copy of the project (real git, real DVC, real MLflow SQLite
store) with the real config shrunk for speed, and a tiny prepared dataset."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PROJECT_FILES = ["conf", "stages", "src", "dvc.yaml", "params.yaml", "pyproject.toml"]

# The real conf/, shrunk: a couple of epochs of a small CNN (lightning-hydra-template style).
TINY = {
    "train/default.yaml": {"epochs": 2, "early_stopping_patience": 2},
    "model/cnn.yaml": {"filters": [8, 16], "convs_per_block": 1},
    "explain/default.yaml": {"n_misclassified": 3, "n_correct": 3},
}


def run(cmd: list[str], cwd: Path, check: bool = True, **kw) -> subprocess.CompletedProcess:
    """Run a command with the test interpreter's bin folder first on PATH (so DVC stage
    commands `python stages/...` use this environment)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "DVC_ROOT")}
    env.update({"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                "TF_CPP_MIN_LOG_LEVEL": "2", **kw.pop("env", {})})
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def shrink_conf(project: Path, changes: dict[str, dict]) -> None:
    for rel, updates in changes.items():
        path = project / "conf" / rel
        data = yaml.safe_load(path.read_text())
        data.update(updates)
        path.write_text(yaml.safe_dump(data, sort_keys=False))


def copy_project(dest: Path, changes: dict[str, dict] = TINY) -> Path:
    """Copy the project's tracked pipeline files into `dest`, shrink conf/ and recompose
    params.yaml from it."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, dest / name)
    shrink_conf(dest, changes)
    run([sys.executable, "-m", "classlens.cli", "params"], cwd=dest)
    return dest


def init_repo(project: Path) -> None:
    """git + DVC (Hydra composition on, no analytics) and a first commit."""
    run(["git", "init", "-q", "-b", "main"], cwd=project)
    run(["git", "config", "user.email", "test@example.com"], cwd=project)
    run(["git", "config", "user.name", "classlens tests"], cwd=project)
    run(["dvc", "init", "-q"], cwd=project)
    run(["dvc", "config", "core.analytics", "false"], cwd=project)
    run(["dvc", "config", "hydra.enabled", "true"], cwd=project)
    (project / ".gitignore").write_text("/mlflow.db\n/mlartifacts/\n__pycache__/\n")
    run(["git", "add", "-A"], cwd=project)
    run(["git", "commit", "-qm", "project"], cwd=project)


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    """A shrunk copy of the project as the working directory (no git)."""
    dest = copy_project(tmp_path / "project")
    monkeypatch.chdir(dest)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    return dest


# The .gitignore files DVC writes beside the cached outputs of a folder holding several outputs:
# a stage run by hand must leave them (tests/test_stages.py).
DVC_GITIGNORES = {"models": "/model.keras\n/mlflow_run.json\n", "data/eval": "/figures\n"}


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory) -> Path:
    """The shrunk project after running every stage once in-process (shared, read-only)."""
    from classlens.cli import STAGES, run_stage

    dest = copy_project(tmp_path_factory.mktemp("trained") / "project")
    for folder, line in DVC_GITIGNORES.items():  # as a `dvc repro` before would have left them
        (dest / folder).mkdir(parents=True)
        (dest / folder / ".gitignore").write_text(line)
    old = Path.cwd()
    # An earlier test's mlflow.set_tracking_uri() exports MLFLOW_TRACKING_URI; the stages would
    # then log into that test's store instead of this project's own.
    leaked = {k: os.environ.pop(k) for k in ("MLFLOW_TRACKING_URI", "DVC_ROOT") if k in os.environ}
    os.chdir(dest)
    try:
        for stage in STAGES:
            run_stage(stage)
    finally:
        os.chdir(old)
        os.environ.update(leaked)
    return dest


@pytest.fixture
def trained_copy(trained_project: Path, tmp_path: Path) -> Path:
    """A private copy of `trained_project` (outputs, MLflow store) for a test that re-runs a
    stage or changes a file: the shared one stays as every other test expects it."""
    from tests.helpers import copy_checkout

    return copy_checkout(trained_project, tmp_path / "copy")


@pytest.fixture(autouse=True)
def _no_leaked_tracking_uri():
    """`mlflow.set_tracking_uri` also exports MLFLOW_TRACKING_URI, which classlens honours: put
    it back as it was after every test, so in-process stages of a later test (the session's
    `trained_project`) log to their own project's store, not to the store an earlier test
    pointed MLflow at. (monkeypatch.delenv of an unset variable records nothing to undo.)"""
    before = os.environ.get("MLFLOW_TRACKING_URI")
    yield
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before


@pytest.fixture(autouse=True)
def _no_leaked_dtype_policy():
    """Stages run in-process by tests (`run_stage`) set Keras' global dtype policy, as their own
    processes do under DVC: `train.mixed_precision=true` leaves mixed_bfloat16 behind on a CPU
    with bfloat16, and a later test's model would silently compute in bfloat16. Put float32 back."""
    yield
    keras = sys.modules.get("keras")
    if keras is not None and keras.mixed_precision.global_policy().name != "float32":
        keras.mixed_precision.set_global_policy("float32")


def run_stages(project: Path, overrides: list[str], stages) -> None:
    """Compose params.yaml with Hydra `overrides`, then run `stages` in process in `project`."""
    from classlens.cli import run_stage

    run([sys.executable, "-m", "classlens.cli", "params", *overrides], cwd=project)
    old = Path.cwd()
    leaked = {k: os.environ.pop(k) for k in ("MLFLOW_TRACKING_URI", "DVC_ROOT") if k in os.environ}
    os.chdir(project)
    try:
        for stage in stages:
            run_stage(stage)
    finally:
        os.chdir(old)
        os.environ.update(leaked)


@pytest.fixture(scope="session")
def binary_project(tmp_path_factory) -> Path:
    """Two digit classes as a folder (0: 'digit0', the positive: the first class, the case
    where the sigmoid scores class 0; 1: 'digit1'), task=binary, every stage (shared,
    read-only)."""
    from classlens.cli import STAGES
    from tests.data_builders import make_folder

    root = tmp_path_factory.mktemp("binary")
    make_folder(root / "images", classes=(0, 1), per_class=40, formats=("png-L",))
    project = copy_project(root / "project")
    run_stages(project, ["task=binary", "data=folder", f"data.root={root / 'images'}",
                         "data.image_size=[16,16]", "data.channels=1",
                         "task.positive_class=digit0"], STAGES)
    return project


@pytest.fixture(scope="session")
def multilabel_project(tmp_path_factory) -> Path:
    """The embedded multi-label default (digit mosaics), task=multilabel, every stage (shared,
    read-only)."""
    from classlens.cli import STAGES

    project = copy_project(tmp_path_factory.mktemp("multilabel") / "project")
    # every attribution method on every (image, label) row, but lighter: ten labels make
    # several maps per image (the checks' numbers are not what these tests look at)
    run_stages(project, ["task=multilabel", "data=digits_mosaics", "explain.smoothgrad.samples=8",
                         "explain.integrated_gradients.steps=16", "explain.trust.images=8",
                         "explain.trust.randomization_checkpoints=2"], STAGES)
    return project
