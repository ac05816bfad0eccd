"""Runs are named after what people call the experiment, and `find_run` (behind `classlens
compare`) finds them by those names: a DVC experiment name, a run name (the git branch of a plain
`dvc repro`), a git revision, an MLflow run id. Real git, a real MLflow SQLite store."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from classlens.config import validate
from classlens.errors import InputError
from classlens.tracking.lookup import find_run
from classlens.tracking.runs import run_name, training_run
from tests.conftest import run

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def cfg():
    return validate(yaml.safe_load((REPO / "params.yaml").read_text()))


@pytest.fixture
def git_store(tmp_path, monkeypatch):
    """A git repository on branch main with one commit, as the working directory."""
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "config", "user.email", "t@e.st"],
                ["git", "config", "user.name", "t"], ["git", "add", "-A"],
                ["git", "commit", "-qm", "one"]):
        run(cmd, cwd=tmp_path)
    monkeypatch.chdir(tmp_path)
    for var in ("MLFLOW_TRACKING_URI", "DVC_ROOT", "DVC_EXP_NAME", "DVC_EXP_BASELINE_REV"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def _train(cfg) -> str:
    with training_run(cfg.tracking, dataclasses.asdict(cfg),
                      data_fingerprint={"digest": "abc"}) as ref:
        return ref.run_id


def test_runs_are_named_after_the_experiment_or_branch_and_found_by_it(cfg, git_store,
                                                                       monkeypatch):
    import mlflow

    assert run_name() == "main"
    plain = _train(cfg)  # a plain `dvc repro` on main
    monkeypatch.setenv("DVC_EXP_NAME", "wide-lr")
    assert run_name() == "wide-lr"
    experiment = _train(cfg)  # `dvc exp run -n wide-lr`, based on the same commit
    monkeypatch.delenv("DVC_EXP_NAME")

    client = mlflow.MlflowClient()
    assert client.get_run(plain).info.run_name == "main"
    assert client.get_run(plain).data.tags["git_branch"] == "main"
    assert client.get_run(experiment).info.run_name == "wide-lr"
    found = {ref: find_run(ref, tracking=cfg.tracking) for ref in ("main", "wide-lr", plain)}
    assert found == {"main": plain, "wide-lr": experiment, plain: plain}
    # a git revision: the plain run at that commit, not the experiment based on it
    commit = run(["git", "rev-parse", "HEAD"], cwd=git_store).stdout.strip()
    run(["git", "tag", "v1"], cwd=git_store)
    assert find_run("v1", tracking=cfg.tracking) == plain
    assert find_run(commit[:10], tracking=cfg.tracking) == plain

    with pytest.raises(InputError) as err:
        find_run("no-such-run", tracking=cfg.tracking)
    message = str(err.value)
    assert "'no-such-run'" in message and "DVC experiment name" in message
    assert "git revision" in message and "\n" not in message


def test_detached_checkout_runs_are_named_by_short_commit(git_store):
    commit = run(["git", "rev-parse", "--short", "HEAD"], cwd=git_store).stdout.strip()
    run(["git", "checkout", "-q", "--detach"], cwd=git_store)
    assert run_name() == commit
