"""One MLflow run per experiment, in a real SQLite store: URI anchoring, the run shared by the
stages, and the per-experiment fork when only downstream params change."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import mlflow
import pytest
import yaml

from classlens.config import validate
from classlens.paths import project_root
from classlens.tracking.log import log_metrics, replace_artifacts
from classlens.tracking.orphans import TAG_PROCESS, this_process
from classlens.tracking.runs import (TAG_DIGEST, TAG_FORKED_FROM, TAG_ORIGINAL_RUN,
                                    TAG_ORIGINAL_STORE, RunRef, params_digest, stage_run,
                                    training_run)
from classlens.tracking.store import resolve_tracking_uri

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def cfg():
    return validate(yaml.safe_load((REPO / "params.yaml").read_text()))


@pytest.fixture
def store(tmp_path, monkeypatch):
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    return tmp_path


def test_relative_sqlite_is_anchored_at_dvc_root(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path / "repo"))
    monkeypatch.chdir(tmp_path)
    assert resolve_tracking_uri("sqlite:///mlflow.db") == (
        f"sqlite:///{tmp_path / 'repo' / 'mlflow.db'}")
    assert resolve_tracking_uri("sqlite:////abs/m.db") == "sqlite:////abs/m.db"
    assert resolve_tracking_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert resolve_tracking_uri("mlruns") == str(tmp_path / "repo" / "mlruns")


def test_environment_variable_overrides_config(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    assert resolve_tracking_uri("sqlite:///mlflow.db") == "http://127.0.0.1:5999"


def test_opening_a_store_does_not_leak_into_the_environment(cfg, store):
    import os

    _train_run(cfg, store)
    assert "MLFLOW_TRACKING_URI" not in os.environ  # else the next stage in-process would use it


def test_root_found_from_subfolder_without_dvc_root(store, monkeypatch):
    sub = store / "a" / "b"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert project_root() == store.resolve()


def test_params_digest_is_stable_and_key_order_free():
    # runs made before a code change are still found (and not forked) after it
    params = {"train": {"epochs": 3, "sizes": [1, 2]}, "a": None}
    assert params_digest(params) == "3db363e250013926"
    assert params_digest(dict(reversed(list(params.items())))) == "3db363e250013926"


def test_tracking_imports_neither_serving_nor_the_config_schema():
    import subprocess
    import sys

    code = ("import sys, classlens.tracking.store, classlens.tracking.runs, classlens.tracking.log; "
            "print(sorted(m for m in sys.modules if m.startswith(('classlens.serving', "
            "'classlens.config', 'tensorflow', 'keras'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _train_run(cfg, store) -> RunRef:
    with training_run(cfg.tracking, dataclasses.asdict(cfg),
                      data_fingerprint={"digest": "abc"}) as ref:
        log_metrics({"val_loss": 0.5}, step=0)
        log_metrics({"val_loss": 0.25}, step=1)
        (store / "curve.txt").write_text("curve")
        replace_artifacts([store / "curve.txt"], "train")
    ref.write(store / "mlflow_run.json")
    return ref


def test_same_params_log_into_the_training_run_and_replace_artifacts(cfg, store):
    ref = _train_run(cfg, store)
    assert (store / "mlflow.db").exists()
    for content in ("first", "second"):
        (store / "gallery.png").write_text(content)
        (store / f"only-{content}.csv").write_text(content)
        with stage_run(store / "mlflow_run.json", dataclasses.asdict(cfg)) as run_id:
            assert run_id == ref.run_id
            replace_artifacts([store / "gallery.png", store / f"only-{content}.csv"],
                                       "analyze")
    client = mlflow.MlflowClient()
    names = sorted(a.path for a in client.list_artifacts(ref.run_id, "analyze"))
    assert names == ["analyze/gallery.png", "analyze/only-second.csv"]  # replaced, not mixed
    run = client.get_run(ref.run_id)
    assert run.data.params["train.epochs"] == str(cfg.train.epochs)
    assert run.data.tags["data_fingerprint"] == "abc"
    assert run.data.tags[TAG_DIGEST] == ref.params_digest
    assert len(client.search_runs([ref.experiment_id])) == 1
    artifact_uri = run.info.artifact_uri
    assert artifact_uri.startswith((store / "mlartifacts").resolve().as_uri())


def test_downstream_only_change_forks_instead_of_overwriting(cfg, store):
    ref = _train_run(cfg, store)
    other = dataclasses.replace(cfg, evaluate=dataclasses.replace(cfg.evaluate, top_k=1))
    with stage_run(store / "mlflow_run.json", dataclasses.asdict(other)) as fork_id:
        log_metrics({"accuracy": 0.5})
    with stage_run(store / "mlflow_run.json", dataclasses.asdict(other)) as again:
        assert again == fork_id  # the next stage of the same experiment finds the fork
    assert fork_id != ref.run_id
    client = mlflow.MlflowClient()
    fork, source = client.get_run(fork_id), client.get_run(ref.run_id)
    assert fork.data.tags[TAG_FORKED_FROM] == ref.run_id
    assert fork.data.params["evaluate.top_k"] == "1"
    assert [m.value for m in client.get_metric_history(fork_id, "val_loss")] == [0.5, 0.25]
    assert [a.path for a in client.list_artifacts(fork_id, "train")] == ["train/curve.txt"]
    assert "accuracy" not in source.data.metrics  # the other experiment's run is untouched
    assert source.data.params["evaluate.top_k"] == str(cfg.evaluate.top_k)


def test_missing_run_reference_is_one_clear_line(cfg, store):
    from classlens.errors import InputError

    with pytest.raises(InputError, match="run the train stage first"):
        with stage_run(store / "nope.json", dataclasses.asdict(cfg)):
            pass


def test_a_run_this_store_lacks_starts_one_here_tagged_with_the_original(cfg, store,
                                                                         monkeypatch):
    """A colleague's clone (after `dvc pull`) has models/mlflow_run.json naming a run in the
    original checkout's store: the stage logs into a new run of its own store, which the next
    stage finds again, instead of failing for ever."""
    ref = _train_run(cfg, store)
    clone = store / "clone"  # git clone + dvc pull: the files, not the store
    clone.mkdir()
    (clone / "dvc.yaml").write_text("stages: {}\n")
    (clone / "mlflow_run.json").write_text((store / "mlflow_run.json").read_text())
    monkeypatch.chdir(clone)
    params = dataclasses.asdict(cfg)
    with stage_run(clone / "mlflow_run.json", params) as first:
        log_metrics({"test/accuracy": 0.75})
    with stage_run(clone / "mlflow_run.json", params) as second:
        pass
    assert (clone / "mlflow.db").exists()
    assert first == second != ref.run_id
    run = mlflow.MlflowClient().get_run(first)
    assert run.data.tags[TAG_ORIGINAL_RUN] == ref.run_id
    assert run.data.tags[TAG_ORIGINAL_STORE] == "sqlite:///mlflow.db"
    assert run.data.params["train.epochs"] == str(cfg.train.epochs)
    assert run.data.metrics["test/accuracy"] == 0.75


def test_the_run_reference_records_the_store_actually_used(cfg, store, monkeypatch):
    other = store / "elsewhere" / "team.db"
    other.parent.mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{other}")
    ref = _train_run(cfg, store)
    assert ref.tracking_uri == cfg.tracking.uri  # as configured
    assert ref.store == f"sqlite:///{other}"  # where the run is
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    # a later stage logs where its own process points (the environment wins, as for train):
    # here the configured store, which starts a run for the one in team.db
    with stage_run(store / "mlflow_run.json", dataclasses.asdict(cfg)) as run_id:
        assert run_id != ref.run_id
    here = mlflow.MlflowClient(f"sqlite:///{store / 'mlflow.db'}").get_run(run_id)
    assert here.data.tags[TAG_ORIGINAL_STORE] == f"sqlite:///{other}"
    old = {k: v for k, v in dataclasses.asdict(ref).items() if k != "store"}  # an older file
    assert RunRef(**old).store_uri == cfg.tracking.uri


def test_a_run_left_running_by_a_killed_stage_is_marked_killed(cfg, store):
    import subprocess
    import sys

    ref = _train_run(cfg, store)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    client = mlflow.MlflowClient()
    here = this_process().rpartition(" ")[0]
    orphan = client.create_run(ref.experiment_id)  # as a SIGKILLed stage leaves it
    client.set_tag(orphan.info.run_id, TAG_PROCESS, f"{here} {gone.stdout.strip()}")
    elsewhere = client.create_run(ref.experiment_id)  # another container's live stage
    client.set_tag(elsewhere.info.run_id, TAG_PROCESS, f"{here}-other-host 1")
    assert client.get_run(orphan.info.run_id).info.status == "RUNNING"
    with stage_run(store / "mlflow_run.json", dataclasses.asdict(cfg)):
        pass
    assert client.get_run(orphan.info.run_id).info.status == "KILLED"
    assert client.get_run(elsewhere.info.run_id).info.status == "RUNNING"
    assert client.get_run(ref.run_id).info.status == "FINISHED"


def test_predict_by_run_id_looks_in_the_store_the_run_was_logged_to(cfg, store, monkeypatch):
    """Trained with MLFLOW_TRACKING_URI pointing elsewhere: `classlens predict <run id>` run
    later without that variable still looks there (models/mlflow_run.json records it)."""
    from classlens import paths
    from classlens.serving.loading import _store_for_loading

    other = store / "team.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{other}")
    ref = _train_run(cfg, store)
    ref.write(store / paths.RUN_REF)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert _store_for_loading(None) == f"sqlite:///{other}"
