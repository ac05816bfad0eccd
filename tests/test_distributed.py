"""Distributed training: the mode switch, and two real CPU workers on 127.0.0.1 under
MultiWorkerMirroredStrategy running the train stage with the custom step."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from classlens.training.distributed import is_chief, resolve_mode
from classlens.errors import ConfigError
from tests.conftest import TINY, copy_project, run
from tests.helpers import classlens_lines, free_port


def test_modes_and_chief(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert resolve_mode("none") == "none"
    assert resolve_mode("auto") == "none"  # no GPUs here
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        resolve_mode("multi_worker")
    with pytest.raises(ConfigError, match="train.distribution must be one of"):
        resolve_mode("horovod")
    assert is_chief()
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    for index, chief in ((0, True), (1, False)):
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster,
                                                    "task": {"type": "worker", "index": index}}))
        assert is_chief() is chief


# Long enough for both runs to converge, so "within noise" compares trained models, not the
# luck of a few early epochs.
SHRUNK = {**TINY, "model/cnn.yaml": {"filters": [16, 32], "convs_per_block": 1},
          "train/default.yaml": {"epochs": 15, "early_stopping_patience": 15, "batch_size": 64,
                                 "learning_rate": 0.005}}


def _workers(project: Path, n: int = 2, env_extra: dict | None = None) -> list[subprocess.Popen]:
    ports = [free_port() for _ in range(n)]
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(n):
        env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI",)}
        env.update({"PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
                    "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "",
                    "TF_CONFIG": json.dumps({"cluster": cluster,
                                             "task": {"type": "worker", "index": index}}),
                    **(env_extra or {})})
        procs.append(subprocess.Popen([sys.executable, "stages/train.py"], cwd=project, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      start_new_session=True))
    return procs


def _set_distribution(project: Path, mode: str) -> None:
    run([sys.executable, "-m", "classlens.cli", "params", f"train.distribution={mode}"],
        cwd=project)


@pytest.mark.slow
def test_two_workers_end_identical_only_the_chief_writes_and_accuracy_matches(tmp_path):
    single = copy_project(tmp_path / "single", changes=SHRUNK)
    run([sys.executable, "stages/prepare.py"], cwd=single)
    run([sys.executable, "stages/train.py"], cwd=single)
    single_best = pd.read_csv(single / "models/history.csv")["val/accuracy"].max()

    project = copy_project(tmp_path / "multi", changes=SHRUNK)
    _set_distribution(project, "multi_worker")
    run([sys.executable, "stages/prepare.py"], cwd=project)
    outputs = []
    for proc in _workers(project):
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-3000:]
        outputs.append(out)
    digests = [re.search(r"weights digest (\w+)", out).group(1) for out in outputs]
    assert "chief weights digest" in outputs[0] and "worker weights digest" in outputs[1]
    assert digests[0] == digests[1], "the two workers must end with identical weights"

    assert (project / "models/model.keras").exists()
    leftovers = [p for p in Path("/tmp").glob("classlens-worker-*")]
    assert not leftovers, leftovers
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("classlens").experiment_id])
    assert len(runs) == 1  # only the chief logged
    assert runs[0].data.params["train.distribution"] == "multi_worker"
    history = pd.read_csv(project / "models/history.csv")
    assert len(client.get_metric_history(runs[0].info.run_id, "val/loss")) == len(history)
    # same data, epochs and model: the best validation accuracy is within noise of one device
    assert abs(history["val/accuracy"].max() - single_best) <= 0.1


@pytest.mark.slow
def test_a_dead_worker_makes_the_chief_fail_with_one_line(tmp_path):
    project = copy_project(tmp_path / "dead", changes={
        **SHRUNK, "train/default.yaml": {"epochs": 200, "early_stopping_patience": 200}})
    _set_distribution(project, "multi_worker")
    run([sys.executable, "stages/prepare.py"], cwd=project)
    chief, worker = _workers(project, env_extra={"CLASSLENS_COLLECTIVE_TIMEOUT_S": "20"})
    deadline = time.time() + 600
    line = ""
    while "Epoch 2/" not in line and time.time() < deadline:  # both are training
        line = chief.stdout.readline()
    os.killpg(worker.pid, signal.SIGKILL)
    try:
        _, err = chief.communicate(timeout=300)
    finally:
        if chief.poll() is None:
            os.killpg(chief.pid, signal.SIGKILL)
    assert chief.returncode == 2, err[-3000:]
    ours = classlens_lines(err)
    assert len(ours) == 1 and "lost a worker" in ours[0]
    assert not (project / "models").exists()
