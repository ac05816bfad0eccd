"""End to end with the real `dvc` in a temporary git repository: repro runs all six stages,
a second repro is a no-op, and `dvc exp run -S ...` changes what actually runs and logs to its
own MLflow run in the one store at the repository root."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from classlens import paths
from tests.conftest import copy_project, init_repo, run
from tests.helpers import copy_checkout, modules_loaded, tensorflow_modules

STAGES = ("prepare", "train", "predict", "evaluate", "analyze", "explain", "gate")


def _lock_md5(project: Path, path: str) -> str:
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    for stage in lock["stages"].values():
        for out in stage.get("outs", []):
            if out["path"] == path:
                return out["md5"]
    raise KeyError(path)


def _client(project: Path) -> "mlflow.MlflowClient":
    return mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")


def _run_ref(project: Path) -> dict:
    return json.loads((project / "models/mlflow_run.json").read_text())


# Each test asks for what it needs; the module-scoped fixtures below run each step once, in
# this order: a git + DVC repository, its first `dvc repro` committed as the baseline on main,
# then the `one-epoch` experiment.


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    project = copy_project(tmp_path_factory.mktemp("e2e") / "repo")
    init_repo(project)
    return project


@pytest.fixture(scope="module")
def first_repro(repo):
    """The first `dvc repro`, its results committed on main (the gate's baseline from then on)."""
    proc = run(["dvc", "repro"], cwd=repo)
    run(["git", "add", "-A"], cwd=repo)
    run(["git", "commit", "-qm", "baseline results"], cwd=repo)
    return proc


@pytest.fixture(scope="module")
def one_epoch(repo, first_repro) -> dict:
    """`dvc exp run -n one-epoch` (one epoch of cnn_small) from the committed baseline: its
    output, and the baseline's run reference and model hash from just before it."""
    run(["git", "checkout", "-q", "--", "."], cwd=repo)  # the committed baseline, whatever
    run(["dvc", "checkout", "-q", "--force"], cwd=repo)  # earlier tests left in the workspace
    before = {"run_ref": _run_ref(repo), "model_md5": _lock_md5(repo, "models/model.keras")}
    proc = run(["dvc", "exp", "run", "-n", "one-epoch", "-S", "train.epochs=1",
                "-S", "model=cnn_small"], cwd=repo)
    return {"proc": proc, **before}


def test_repro_runs_every_stage_then_is_a_noop(repo, first_repro):
    for stage in STAGES:
        assert f"Running stage '{stage}'" in first_repro.stdout, first_repro.stdout
    metrics = json.loads((repo / "metrics.json").read_text())
    table = pd.read_csv(repo / paths.PREDICTIONS)
    assert metrics["accuracy"] == pytest.approx(table["correct"].mean(), abs=1e-12)
    # no all_metrics.json on main yet: the gate stage records "unusable" and lets the pipeline end
    assert json.loads((repo / "data/gate/gate.json").read_text())["verdict"] == "unusable"
    second = run(["dvc", "repro"], cwd=repo)
    assert "Running stage" not in second.stdout
    assert "Data and pipelines are up to date" in second.stdout


@pytest.fixture
def repo_copy(repo, first_repro, tmp_path) -> Path:
    """A copy of the repository after the baseline, to re-run stages in without touching it."""
    return copy_checkout(repo, tmp_path / "repo")


@pytest.mark.parametrize("stage", ["evaluate", "analyze", "gate"])
def test_stages_that_need_no_tensorflow_do_not_import_it(repo_copy, stage):
    """Each of these stages, run again as DVC runs it, never imports TensorFlow (seconds of
    start-up per stage)."""
    loaded, _ = modules_loaded(repo_copy, script=f"stages/{stage}.py")
    assert "classlens.cli" in loaded and f"classlens.pipeline.{stage}" in loaded  # it ran
    assert not tensorflow_modules(loaded), stage


def test_temp_experiment_changing_only_evaluate_gets_its_own_run(repo, first_repro):
    # Only `evaluate` re-runs (the model is cached), in a temporary folder: it must log to the
    # repository's store, into a copy of the training run, leaving that run untouched.
    run(["git", "checkout", "-q", "--", "."], cwd=repo)  # back to the committed baseline
    run(["dvc", "checkout", "-q"], cwd=repo)
    baseline = _run_ref(repo)
    proc = run(["dvc", "exp", "run", "--temp", "-n", "top1", "-S", "evaluate.top_k=1"], cwd=repo)
    assert "Running stage 'evaluate'" in proc.stdout
    assert "Running stage 'train'" not in proc.stdout
    client = _client(repo)
    runs = client.search_runs(client.get_experiment_by_name("classlens").experiment_id,
                              filter_string="tags.dvc_exp_name = 'top1'")
    assert len(runs) == 1, "the --temp experiment must log to the repository's store"
    fork = runs[0]
    assert fork.data.tags["classlens.forked_from"] == baseline["run_id"]
    assert fork.data.params["evaluate.top_k"] == "1"
    assert "test/top_1_accuracy" in fork.data.metrics and "val/loss" in fork.data.metrics
    assert "test/top_1_accuracy" not in client.get_run(baseline["run_id"]).data.metrics
    assert not list((repo / ".dvc" / "tmp").rglob("mlflow.db"))


@pytest.mark.slow
def test_first_screens_are_right_and_readable(repo, first_repro, tmp_path):
    """After the baseline and one more experiment: MLflow's latest test accuracy of each run is
    its metrics.json accuracy; `dvc exp show --only-changed` fits a 200-column terminal with the
    names, the headline and the changed params; `classlens compare` finds both runs by name;
    `dvc plots diff main` in a fresh clone (no DVC cache, no remote) draws main's curves."""
    run(["git", "checkout", "-q", "--", "."], cwd=repo)
    run(["dvc", "checkout", "-q", "--force"], cwd=repo)
    run(["dvc", "exp", "run", "-n", "slow-lr", "-S", "train.epochs=1",
         "-S", "train.learning_rate=0.0005"], cwd=repo)

    client = _client(repo)
    main_metrics = json.loads(run(["git", "show", "main:metrics.json"], cwd=repo).stdout)
    exp_metrics = json.loads((repo / "metrics.json").read_text())
    for ref, metrics in (("main", main_metrics), ("slow-lr", exp_metrics)):
        (found,) = client.search_runs(
            [client.get_experiment_by_name("classlens").experiment_id],
            filter_string=f"attributes.run_name = '{ref}'", max_results=1)
        assert found.data.metrics["test/accuracy"] == pytest.approx(metrics["accuracy"],
                                                                    abs=1e-12), ref
        assert found.data.metrics["test/f1_macro"] == pytest.approx(metrics["f1_macro"],
                                                                    abs=1e-12), ref

    table = run(["dvc", "exp", "show", "--only-changed", "--no-pager"], cwd=repo,
                env={"COLUMNS": "200"}).stdout
    lines = table.splitlines()
    assert max(len(line) for line in lines) <= 200, table
    header = next(line for line in lines if "Experiment" in line)
    for column in ("accuracy", "f1_macro", "train.epochs", "train.learning_rate"):
        assert f" {column} " in f"{header} ", (column, table)
    assert "…" not in header.split("train.learning_rate")[0], table
    assert "slow-lr" in table and "main" in table

    proc = run([sys.executable, "-m", "classlens.cli", "compare", "slow-lr", "main",
                "--out", str(tmp_path / "cmp")], cwd=repo)
    assert "train.learning_rate" in proc.stdout

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], cwd=tmp_path)
    plots = run(["dvc", "plots", "diff", "main", "--json"], cwd=clone)
    assert "failed to load" not in plots.stderr + plots.stdout, plots.stderr
    (loss,) = json.loads(plots.stdout)["data"]["Loss"]  # DVC's vega-lite spec, data inlined
    rows = loss["content"]["data"]["values"]
    assert {"workspace", "main"} <= set(loss["revisions"])
    drawn = {(row["rev"], row["field"]) for row in rows}
    assert {("main", "train/loss"), ("main", "val/loss")} <= drawn, drawn
    assert '"title": "loss (cross-entropy)"' in json.dumps(loss["content"])  # not "y"


@pytest.mark.slow
def test_default_pipeline_reaches_095_on_digits(tmp_path):
    project = copy_project(tmp_path / "full", changes={})
    init_repo(project)
    run(["dvc", "repro"], cwd=project)
    assert json.loads((project / "metrics.json").read_text())["accuracy"] >= 0.95


# ---------------------------------------------------------------- failures lose nothing


def _outputs_md5(project: Path, *, lock: bool = True) -> dict[str, str]:
    """md5 of every file under every stage output in dvc.yaml, and of dvc.lock."""
    import hashlib

    spec = yaml.safe_load((project / "dvc.yaml").read_text())
    files = [project / "dvc.lock"] if lock else []
    for stage in spec["stages"].values():
        for entry in (*stage.get("outs", []), *stage.get("metrics", [])):
            top = project / (entry if isinstance(entry, str) else next(iter(entry)))
            files += [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
    return {str(f.relative_to(project)): hashlib.md5(f.read_bytes()).hexdigest() for f in files}


def _locked(project: Path, *, but: str) -> dict:
    """dvc.lock's entries of every stage except `but`."""
    stages = yaml.safe_load((project / "dvc.lock").read_text())["stages"]
    return {name: entry for name, entry in stages.items() if name != but}


def _keras_file(path: Path, *, input_shape, classes: int) -> str:
    import keras

    inputs = keras.Input(shape=input_shape)
    outputs = keras.layers.Dense(classes, activation="softmax")(keras.layers.Flatten()(inputs))
    keras.Model(inputs, outputs).save(path)
    return str(path)


@pytest.mark.slow
def test_bad_config_stops_before_any_stage_and_loses_nothing(repo_copy, tmp_path):
    """Each mistake that can be known before any work stops `dvc exp run` in the check stage
    with one line, and every previous output (and dvc.lock) stays byte-identical."""
    from tests.helpers import classlens_lines, free_port

    (tmp_path / "notes.txt").write_text("not a model")
    cases = {
        "data.root": ["-S", "data=folder", "-S", "data.root=/nonexistent"],
        "train.epochs": ["-S", "train.epochs=two"],
        "train.epohcs": ["-S", "+train.epohcs=2"],
        "notes.txt": ["-S", "model=file", "-S", f"model.path={tmp_path / 'notes.txt'}"],
        "classes": ["-S", "model=file", "-S", "model.path=" + _keras_file(
            tmp_path / "three.keras", input_shape=(8, 8, 1), classes=3)],
        "takes images of 16x16x1": ["-S", "model=file", "-S", "data.image_size=[8,8]",
                                    "-S", "data.channels=1", "-S", "model.path=" + _keras_file(
                                        tmp_path / "big.keras", input_shape=(16, 16, 1),
                                        classes=10)],
        "unreachable": ["-S", f"tracking.uri=http://127.0.0.1:{free_port()}"],
    }
    before = _outputs_md5(repo_copy)
    for needle, args in cases.items():
        proc = run(["dvc", "exp", "run", *args], cwd=repo_copy, check=False)
        assert proc.returncode != 0, (needle, proc.stdout)
        ours = classlens_lines(proc.stderr)
        assert len(ours) == 1 and ours[0].startswith("classlens check: error:"), proc.stderr
        assert needle in ours[0] and ours[0].endswith("no stage ran, every output is as it was")
        assert "Traceback" not in proc.stderr
        assert "Running stage 'prepare'" not in proc.stdout, needle
        assert _outputs_md5(repo_copy) == before, needle


def _python_running(script, under):
    """The Python process running `script` below process `under`, or None. DVC may start the
    stage's `cmd` through a shell; signalling that shell would orphan Python, which then trains
    on to the end (seen in CI), so the match is on Python itself."""
    import psutil

    for process in psutil.Process(under).children(recursive=True):
        try:
            command = process.cmdline()
        except psutil.Error:  # ended between listing and reading
            continue
        if command and Path(command[0]).name.startswith("python") and script in command:
            return process
    return None


@pytest.mark.slow
def test_failure_inside_a_stage_keeps_its_previous_outputs(repo_copy, tmp_path):
    """What only shows mid-stage: too many unreadable images (prepare fails after reading them),
    a SIGKILL and a Ctrl-C during training. Previous outputs stay byte-identical; the killed
    stage's MLflow run is marked KILLED by the next stage that opens a run."""
    import signal
    import subprocess
    import time

    from tests.data_builders import save_image
    from tests.helpers import classlens_lines

    outputs, locked = _outputs_md5(repo_copy, lock=False), _locked(repo_copy, but="check")
    images = tmp_path / "images"
    for label in ("a", "b"):
        (images / label).mkdir(parents=True)
        for i in range(6):
            save_image(np.full((8, 8), 40 * i, dtype=np.uint8), images / label / f"{i}.png",
                       "png-L")
        for i in range(10):
            (images / label / f"broken{i}.png").write_bytes(b"\x89PNG not really")
    proc = run(["dvc", "exp", "run", "-S", "data=folder", "-S", f"data.root={images}",
                "-S", "data.max_skipped_fraction=0.2"], cwd=repo_copy, check=False)
    assert "Running stage 'prepare'" in proc.stdout and proc.returncode != 0
    (line,) = classlens_lines(proc.stderr)
    assert line.startswith("classlens prepare: error:") and "skipped" in line, line
    assert line.endswith("this stage's previous outputs are untouched"), line
    assert _outputs_md5(repo_copy, lock=False) == outputs
    # dvc.lock: only `check`, which passed, records the new params
    assert _locked(repo_copy, but="check") == locked


    client = _client(repo_copy)
    experiment = client.get_experiment_by_name("classlens").experiment_id
    known = {r.info.run_id for r in client.search_runs([experiment])}
    dvc = subprocess.Popen(["dvc", "exp", "run", "-S", "train.epochs=500",
                            "-S", "train.early_stopping_patience=500"], cwd=repo_copy,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env={**os.environ, "PATH": f"{Path(sys.executable).parent}"
                                                      f"{os.pathsep}{os.environ['PATH']}"})
    deadline, trainer, started = time.time() + 180, None, []
    while time.time() < deadline and not started:  # the run is open: training has begun
        time.sleep(0.5)
        trainer = _python_running("stages/train.py", under=dvc.pid) or trainer
        started = [r for r in client.search_runs([experiment]) if r.info.run_id not in known]
    assert trainer is not None and started, "training never started"
    time.sleep(3)  # a few epochs in
    trainer.send_signal(signal.SIGKILL)
    dvc.communicate(timeout=120)
    assert dvc.returncode != 0 and not trainer.is_running()
    assert _outputs_md5(repo_copy, lock=False) == outputs
    assert _locked(repo_copy, but="check") == locked
    (killed,) = started
    assert client.get_run(killed.info.run_id).info.status == "RUNNING"  # nobody could end it

    run(["git", "checkout", "-q", "--", "params.yaml"], cwd=repo_copy)
    run([sys.executable, "stages/gate.py"], cwd=repo_copy)  # any stage that opens a run
    assert client.get_run(killed.info.run_id).info.status == "KILLED"
    outputs = _outputs_md5(repo_copy, lock=False)  # gate's, just rewritten, included

    # Ctrl-C mid-training (here by hand, as DVC passes it on): outputs as they were, and one
    # line when Python gets to unwind. TensorFlow's own threads can instead abort the process
    # mid-step (seen once in CI: "free(): invalid next size", SIGABRT); nothing is in place then
    # either, as after a kill.
    run([sys.executable, "-m", "classlens.cli", "params", "train.epochs=500",
         "train.early_stopping_patience=500"], cwd=repo_copy)
    trainer = subprocess.Popen([sys.executable, "stages/train.py"], cwd=repo_copy,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    for line in trainer.stdout:  # the second epoch has begun: the run is open, weights move
        if line.startswith("Epoch 2/"):
            break
    trainer.send_signal(signal.SIGINT)
    _, stderr = trainer.communicate(timeout=120)
    assert trainer.returncode in (130, -signal.SIGABRT), stderr
    if trainer.returncode == 130:
        assert classlens_lines(stderr) == [
            "classlens train: interrupted; this stage's previous outputs are untouched"], stderr
    assert _outputs_md5(repo_copy, lock=False) == outputs


@pytest.mark.slow
def test_a_clone_with_dvc_pull_can_run_experiments(repo, first_repro, tmp_path):
    """A colleague clones the repository and pulls the DVC outputs (no MLflow store comes
    with them): an experiment that re-runs only the later stages logs to a new run of the
    clone's own store, tagged with the original run, instead of failing."""
    source = copy_checkout(repo, tmp_path / "source")
    run(["git", "checkout", "-q", "--", "."], cwd=source)
    run(["dvc", "checkout", "-q", "--force"], cwd=source)
    run(["dvc", "remote", "add", "-d", "shared", str(tmp_path / "remote")], cwd=source)
    run(["dvc", "push", "-q"], cwd=source)
    run(["git", "commit", "-qam", "DVC remote"], cwd=source)
    original = _run_ref(source)["run_id"]

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(source), str(clone)], cwd=tmp_path)
    run(["dvc", "pull", "-q"], cwd=clone)
    assert "up to date" in run(["dvc", "status"], cwd=clone).stdout
    proc = run(["dvc", "exp", "run", "-n", "top1", "-S", "evaluate.top_k=1"], cwd=clone)
    assert "Running stage 'evaluate'" in proc.stdout
    assert "Running stage 'train'" not in proc.stdout
    client = _client(clone)
    (mine,) = client.search_runs([client.get_experiment_by_name("classlens").experiment_id])
    assert mine.data.tags["classlens.original_run"] == original
    assert mine.data.params["evaluate.top_k"] == "1"
    assert "test/top_1_accuracy" in mine.data.metrics
    assert _run_ref(clone)["run_id"] == original  # train's output is the pulled one


# ---------------------------------------------------------------- a second experiment
# Last in the module and slow: the one-epoch experiment would widen `dvc exp show` for the
# first-screens test above (and costs about 50 s of the default run).


@pytest.mark.slow
def test_exp_run_override_changes_what_trains(repo, one_epoch):
    baseline = one_epoch["run_ref"]
    baseline_model = one_epoch["model_md5"]
    proc = one_epoch["proc"]
    assert "Running stage 'train'" in proc.stdout
    assert "Running stage 'prepare'" not in proc.stdout  # data unchanged: cached
    assert yaml.safe_load((repo / "params.yaml").read_text())["train"]["epochs"] == 1

    experiment = _run_ref(repo)
    assert experiment["run_id"] != baseline["run_id"]
    assert _lock_md5(repo, "models/model.keras") != baseline_model
    client = _client(repo)
    old, new = client.get_run(baseline["run_id"]), client.get_run(experiment["run_id"])
    assert old.data.params["train.epochs"] == "2" and new.data.params["train.epochs"] == "1"
    assert old.data.params["model.filters"] == "[8, 16]"
    assert new.data.params["model.filters"] == "[16, 32]"  # the group override took effect
    assert len(client.get_metric_history(new.info.run_id, "train/loss")) == 1
    assert new.data.tags["dvc_exp_name"] == "one-epoch"
    assert new.info.run_name == "one-epoch" and old.info.run_name == "main"
    assert new.data.params["model.name"] == "cnn_small" and old.data.params["model.name"] == "cnn"
    assert "test/f1/7" in new.data.metrics and "explain" in {
        a.path for a in client.list_artifacts(new.info.run_id)}

    gate = json.loads((repo / "data/gate/gate.json").read_text())
    assert gate["baseline"] == "data/eval/all_metrics.json@main" and gate["verdict"] in ("pass", "warn", "fail")
    assert new.data.tags["gate.verdict"] == gate["verdict"]

    shown = json.loads(run(["dvc", "exp", "show", "--json"], cwd=repo).stdout)
    names = {exp["name"] for entry in shown for exp in (entry.get("experiments") or [])}
    assert "one-epoch" in names
    flat = json.dumps(shown)
    assert '"accuracy"' in flat


@pytest.mark.slow
def test_compare_lists_param_changes_and_flips(repo, first_repro, one_epoch):
    import pandas as pd

    client = _client(repo)
    experiment = client.get_experiment_by_name("classlens").experiment_id
    baseline_id = client.search_runs([experiment], order_by=["attributes.start_time ASC"],
                                     max_results=1)[0].info.run_id  # the first `dvc repro`
    proc = run([sys.executable, "-m", "classlens.cli", "compare", baseline_id, "one-epoch",
                "--out", "reports/cmp"], cwd=repo)
    import re

    assert re.search(r"\|\s*train\.epochs\s*\|\s*2\s*\|\s*1\s*\|", proc.stdout), proc.stdout
    assert "model.filters" in proc.stdout
    html = (repo / "reports/cmp/compare.html").read_text()
    assert "Right → wrong" in html and "Params that differ" in html
    tables = []
    for ref in (baseline_id, client.search_runs(
            [experiment], filter_string="tags.dvc_exp_name = 'one-epoch'")[0].info.run_id):
        local = client.download_artifacts(ref, "predict/predictions.csv", str(repo / "reports"))
        tables.append(pd.read_csv(local))
        Path(local).unlink()
    a, b = tables
    merged = a.merge(b, on="id")
    flips = int((merged["correct_x"] & ~merged["correct_y"]).sum())
    assert f"Right → wrong ({flips} image{'' if flips == 1 else 's'})" in proc.stdout
