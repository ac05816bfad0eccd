"""The MLflow experiment classlens makes, in a real SQLite store: tagged as a model-training
experiment (so MLflow 3's UI opens on its runs), and its artifacts kept inside the checkout they
belong to (a copied or moved checkout stops with one line instead of writing into the original)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import mlflow
import pytest

from classlens.errors import InputError
from classlens.tracking.store import (ARTIFACTS_DIR, KIND_TRAINING, TAG_KIND, activate,
                                      check_artifact_location, experiment_id, ui_url, use_store)


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A project folder `a/` (dvc.yaml marks the root) as the working directory."""
    root = tmp_path / "a"
    root.mkdir()
    (root / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(root)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    return root


def _log_one_file(root: Path) -> str:
    """What a stage does: open the store as configured, get the experiment, log an artifact."""
    use_store("sqlite:///mlflow.db")
    exp = experiment_id("classlens")
    (root / "note.txt").write_text("hello")
    with mlflow.start_run(experiment_id=exp) as run:
        mlflow.log_artifact(str(root / "note.txt"), artifact_path="train")
    return run.info.run_id


def test_experiment_is_created_as_a_model_training_one(checkout):
    use_store("sqlite:///mlflow.db")
    exp = experiment_id("classlens")
    assert mlflow.MlflowClient().get_experiment(exp).tags[TAG_KIND] == KIND_TRAINING
    assert experiment_id("classlens") == exp


def test_an_existing_experiment_gets_the_kind_tag_and_a_users_choice_is_kept(checkout):
    use_store("sqlite:///mlflow.db")
    client = mlflow.MlflowClient()
    old = client.create_experiment("old", artifact_location=(checkout / ARTIFACTS_DIR).as_uri())
    chosen = client.create_experiment("chosen", tags={TAG_KIND: "genai_development"})
    assert TAG_KIND not in client.get_experiment(old).tags
    assert experiment_id("old") == old
    assert client.get_experiment(old).tags[TAG_KIND] == KIND_TRAINING
    experiment_id("chosen")
    assert client.get_experiment(chosen).tags[TAG_KIND] == "genai_development"


def test_artifacts_stay_in_the_checkout(checkout):
    run_id = _log_one_file(checkout)
    assert (checkout / ARTIFACTS_DIR / run_id / "artifacts" / "train" / "note.txt").exists()
    assert _log_one_file(checkout) != run_id  # the same checkout logs again without complaint


def test_a_copied_checkout_stops_instead_of_writing_into_the_original(checkout, monkeypatch):
    _log_one_file(checkout)
    copy = checkout.parent / "b"
    shutil.copytree(checkout, copy)
    before = sorted(p.name for p in (checkout / ARTIFACTS_DIR).iterdir())
    monkeypatch.chdir(copy)
    with pytest.raises(InputError) as err:
        _log_one_file(copy)
    message = str(err.value)
    assert "\n" not in message
    assert f"in {checkout / ARTIFACTS_DIR}, outside this checkout {copy}: " in message
    assert "copied" in message and f"MLFLOW_TRACKING_URI=sqlite:///{checkout / 'mlflow.db'}" in message
    assert sorted(p.name for p in (checkout / ARTIFACTS_DIR).iterdir()) == before
    exp = mlflow.MlflowClient().get_experiment_by_name("classlens").experiment_id
    with pytest.raises(InputError, match="outside this checkout"):
        check_artifact_location(exp)  # what a later stage checks before logging into its run
    # Deliberately logging into the original store from the copy is allowed.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{checkout / 'mlflow.db'}")
    run_id = _log_one_file(copy)
    assert (checkout / ARTIFACTS_DIR / run_id).is_dir()


def test_a_moved_checkout_stops_and_says_so(checkout, monkeypatch):
    _log_one_file(checkout)
    moved = checkout.parent / "moved"
    checkout.rename(moved)
    monkeypatch.chdir(moved)
    with pytest.raises(InputError, match=r"checkout was moved from there. Move it back"):
        _log_one_file(moved)
    assert not checkout.exists()  # the old folder is not recreated


def test_a_shared_store_outside_the_checkout_is_not_questioned(checkout, tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    store = f"sqlite:///{shared / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    _log_one_file(checkout)
    other = tmp_path / "other"
    other.mkdir()
    (other / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(other)
    run_id = _log_one_file(other)  # artifacts in the first checkout, as a shared store decides
    assert (checkout / ARTIFACTS_DIR / run_id).is_dir()


def test_ui_url_presets_the_model_training_view():
    assert ui_url("sqlite:////x/mlflow.db", "3") == (
        "http://127.0.0.1:5000/#/experiments/3/runs?workflowType=machine_learning"
        "&viewStateShareKey=classlens-headline")
    assert ui_url("https://mlflow.example/", "3", "abc") == (
        "https://mlflow.example/#/experiments/3/runs/abc?workflowType=machine_learning")


@pytest.mark.slow
def test_the_ui_link_opens_on_the_training_runs(tmp_path):
    """In a real `mlflow server` and headless Chromium: `ui_url` shows the experiment's runs,
    where the bare experiment address shows MLflow 3's GenAI overview (its default view)."""
    from tests.test_team import Server

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("needs chromium")
    server = Server(tmp_path / "server")
    try:
        activate(server.url)
        exp = experiment_id("classlens")
        with mlflow.start_run(experiment_id=exp, run_name="the-training-run"):
            mlflow.log_metric("test/accuracy", 0.987654)
            mlflow.log_param("model.name", "cnn_small")

        def page(url: str, profile: str) -> str:  # a fresh browser: no view remembered
            return subprocess.run(
                [chromium, "--headless", "--no-sandbox", "--disable-gpu",
                 f"--user-data-dir={tmp_path / profile}", "--virtual-time-budget=15000",
                 "--dump-dom", url], capture_output=True, text=True, timeout=180).stdout

        shown = page(ui_url(server.url, exp), "a")
        assert "the-training-run" in shown
        # the headline view: the option name and the test accuracy are columns of the table
        assert "test/accuracy" in shown and "0.98765" in shown and "cnn_small" in shown
        assert "the-training-run" not in page(f"{server.url}/#/experiments/{exp}", "b")
    finally:
        server.stop()
