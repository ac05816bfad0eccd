"""Beyond one machine: a real `mlflow server` on 127.0.0.1, parallel queued experiments, a DVC
remote that makes a fresh clone a no-op, and a dead or vanished tracking server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import requests

from classlens import paths
from tests.conftest import copy_project, init_repo, run
from tests.helpers import free_port, one_line_error


class Server:
    """A real MLflow tracking server (SQLite backend, served artifact root) on 127.0.0.1."""

    def __init__(self, root: Path):
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(root / "server.log", "w")
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "mlflow"), "server",
             "--backend-store-uri", f"sqlite:///{root / 'server.db'}",
             "--artifacts-destination", str(root / "artifacts"),
             "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if requests.get(f"{self.url}/health", timeout=2).ok:
                    return
            except requests.RequestException:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"mlflow server did not start: {(root / 'server.log').read_text()}")

    def client(self) -> mlflow.MlflowClient:
        return mlflow.MlflowClient(tracking_uri=self.url)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        try:  # the server's job runner and its consumers share the group: leave none behind
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=20)
        self.log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("mlflow-server"))
    yield srv
    srv.stop()


def test_unreachable_server_fails_fast_before_training(project):
    run([sys.executable, "stages/prepare.py"], cwd=project)
    dead = f"http://127.0.0.1:{free_port()}"
    proc = run([sys.executable, "stages/train.py"], cwd=project, check=False,
               env={"MLFLOW_TRACKING_URI": dead}, timeout=300)  # a hang guard, not a benchmark
    one_line_error(proc, "unreachable", dead)
    assert "Epoch 1" not in proc.stdout  # no training work was spent
    assert not (project / "models").exists()


@pytest.fixture(scope="module")
def server_repo(tmp_path_factory, server) -> Path:
    project = copy_project(tmp_path_factory.mktemp("team") / "repo")
    init_repo(project)
    run(["dvc", "repro"], cwd=project, env={"MLFLOW_TRACKING_URI": server.url})
    run(["git", "add", "-A"], cwd=project)
    run(["git", "commit", "-qm", "baseline"], cwd=project)
    return project


@pytest.mark.slow
def test_whole_pipeline_logs_runs_and_artifacts_to_the_server(server, server_repo):
    ref = json.loads((server_repo / "models/mlflow_run.json").read_text())
    client = server.client()
    run_ = client.get_run(ref["run_id"])
    assert run_.info.artifact_uri.startswith("mlflow-artifacts:")  # served by the server
    assert {"test/f1/3", "val/loss", "n_misclassified"} <= set(run_.data.metrics)
    local = client.download_artifacts(ref["run_id"], "evaluate/figures/confusion_counts.png",
                                      str(server_repo / "reports"))
    assert Path(local).read_bytes()[:4] == b"\x89PNG"
    assert not (server_repo / "mlflow.db").exists()  # nothing went to the local default store


@pytest.mark.slow
def test_server_run_holds_the_test_accuracy(server, server_repo):
    ref = json.loads((server_repo / "models/mlflow_run.json").read_text())
    logged = server.client().get_run(ref["run_id"]).data.metrics["test/accuracy"]
    metrics = json.loads((server_repo / "metrics.json").read_text())
    assert logged == pytest.approx(metrics["accuracy"], abs=1e-9)


QUEUED = (("q-one", 1), ("q-three", 3))


@pytest.fixture(scope="module")
def queued(server, server_repo) -> dict:
    """Two experiments queued and run two at a time, logging to the server: the queue's final
    status, q-one's log, and each experiment's MLflow run by name."""
    env = {"MLFLOW_TRACKING_URI": server.url}
    for name, epochs in QUEUED:
        run(["dvc", "exp", "run", "--queue", "-n", name, "-S", f"train.epochs={epochs}"],
            cwd=server_repo, env=env)
    run(["dvc", "queue", "start", "-j", "2"], cwd=server_repo, env=env)
    deadline = time.time() + 900
    while time.time() < deadline:
        status = run(["dvc", "queue", "status"], cwd=server_repo, env=env).stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(5)
    logs = run(["dvc", "queue", "logs", "q-one"], cwd=server_repo, env=env, check=False).stdout
    client = server.client()
    experiment = client.get_experiment_by_name("classlens").experiment_id
    runs = {name: client.search_runs([experiment], filter_string=f"tags.dvc_exp_name = '{name}'")
            for name, _ in QUEUED}
    return {"status": status, "logs": logs, "runs": runs}


@pytest.mark.slow
def test_two_queued_experiments_run_in_parallel_and_both_log(queued):
    status = queued["status"]
    assert "Success" in status and "Failed" not in status, status
    for name, epochs in QUEUED:
        runs = queued["runs"][name]
        assert len(runs) == 1, name
        assert runs[0].data.params["train.epochs"] == str(epochs)
        assert {"test/f1/3", "val/loss", "n_misclassified"} <= set(runs[0].data.metrics), name
    assert "database is locked" not in queued["logs"]


@pytest.mark.slow
def test_queued_runs_hold_their_test_accuracy(server, queued, tmp_path):
    client = server.client()
    for name, _ in QUEUED:
        (run_,) = queued["runs"][name]
        local = client.download_artifacts(run_.info.run_id, "predict/predictions.csv",
                                          str(tmp_path))
        accuracy = pd.read_csv(local)["correct"].mean()  # that experiment's test predictions
        assert run_.data.metrics["test/accuracy"] == pytest.approx(accuracy, abs=1e-9), name


@pytest.mark.slow
def test_remote_push_then_fresh_clone_pull_makes_repro_a_noop(server_repo, tmp_path):
    remote = tmp_path / "dvc-remote"
    run(["dvc", "remote", "add", "-d", "store", str(remote)], cwd=server_repo)
    run(["git", "commit", "-qam", "add a DVC remote"], cwd=server_repo)
    run(["dvc", "push"], cwd=server_repo)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(server_repo), str(clone)], cwd=tmp_path)
    run(["dvc", "pull"], cwd=clone)
    assert (clone / "models/model.keras").exists() and (clone / "data/prepared").is_dir()
    proc = run(["dvc", "repro"], cwd=clone)
    assert "Running stage" not in proc.stdout
    assert "Data and pipelines are up to date" in proc.stdout


@pytest.mark.slow
def test_server_gone_mid_pipeline_keeps_the_stage_outputs(tmp_path):
    """The server dies during training: models/ stays the previous one, whole (not a model
    without its record and card). It is gone between stages: evaluate's outputs are written and
    the line says DVC has not recorded them, and how to go back."""
    import hashlib

    srv = Server(tmp_path / "short-lived")
    project = copy_project(tmp_path / "repo")
    init_repo(project)
    # a dead server is given up on at once (the defaults retry for about half a minute)
    env = {"MLFLOW_TRACKING_URI": srv.url, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
           "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}
    try:
        run(["dvc", "repro", "predict"], cwd=project, env=env)

        def models_md5() -> dict[str, str]:
            return {p.name: hashlib.md5(p.read_bytes()).hexdigest()
                    for p in sorted((project / "models").iterdir()) if p.is_file()}

        before = models_md5()
        experiment = srv.client().get_experiment_by_name("classlens").experiment_id
        known = {r.info.run_id for r in srv.client().search_runs([experiment])}
        dvc = subprocess.Popen(["dvc", "exp", "run", "-S", "train.epochs=300",
                                "-S", "train.early_stopping_patience=300"], cwd=project,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **env, "PATH": f"{Path(sys.executable).parent}"
                                    f"{os.pathsep}{os.environ['PATH']}"})
        deadline = time.time() + 180
        while time.time() < deadline and not [r for r in srv.client().search_runs([experiment])
                                              if r.info.run_id not in known]:
            time.sleep(0.5)
        time.sleep(2)  # training, logging each epoch
    finally:
        srv.stop()
    _, stderr = dvc.communicate(timeout=300)
    assert dvc.returncode != 0
    ours = [line for line in stderr.splitlines() if line.startswith("classlens train: error:")]
    assert len(ours) == 1 and ours[0].endswith("previous outputs are untouched"), stderr
    assert models_md5() == before
    assert {"model.keras", "preprocessing.json", "model_card.md", "augmentation_preview.png",
            "history.csv", "mlflow_run.json", "training_curves.png"} <= set(before)

    run(["git", "checkout", "-q", "--", "params.yaml"], cwd=project)
    proc = run(["dvc", "repro", "--single-item", "evaluate"], cwd=project, env=env, check=False,
               timeout=300)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "new outputs are written but DVC has not recorded them" in proc.stderr
    assert "`dvc checkout evaluate`" in proc.stderr
    metrics = json.loads((project / "metrics.json").read_text())  # written before logging
    table = pd.read_csv(project / paths.PREDICTIONS)
    assert metrics["accuracy"] == pytest.approx(table["correct"].mean(), abs=1e-12)
    assert (project / paths.CONFUSION_COUNTS_PNG).exists()
