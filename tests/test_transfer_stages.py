"""Transfer models and a provided model file through the real stages (train, predict, evaluate,
analyze, explain) on a tiny prepared digits set: the same outputs as the scratch CNN, both
phases in one history and in MLflow, and the provided model recorded and used as it is."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from classlens import paths
from classlens.config import BACKBONES, write_params
from classlens.models.precision import choose_policy, cpu_supports_bfloat16
from tests.conftest import run
from tests.helpers import digits, one_line_error

STAGES_AFTER_PREPARE = ("train", "predict", "evaluate", "analyze", "explain")
# every family under -m slow (each 0.5-3 minutes on 2 cores); the default run builds mobilenet
# for each task (test_tasks) and runs a provided model through the stages (below)
FAMILIES = [pytest.param(name, marks=pytest.mark.slow) for name in BACKBONES]


def write_tiny_digits(project: Path) -> None:
    """60 train / 30 validation / 30 test digits (8x8x1 uint8) as the prepare stage writes them."""
    from classlens.atomic import atomic_dir
    from classlens.data.prepared import write_prepared

    images, labels = digits(120)
    with atomic_dir(project / paths.PREPARED_DIR) as out:
        write_prepared(out, images=images, labels=labels,
                       class_names=[str(i) for i in range(10)],
                       ids=[f"digits:{i}" for i in range(120)], source_paths=[""] * 120,
                       split_indices={"train": np.arange(60), "val": np.arange(60, 90),
                                      "test": np.arange(90, 120)})


def run_stages(project: Path, overrides: list[str]) -> None:
    from classlens.cli import run_stage

    write_params(project / "params.yaml", project / "conf", overrides)
    for stage in STAGES_AFTER_PREPARE:
        run_stage(stage, project / "params.yaml")


def open_run(project: Path):
    ref = json.loads((project / paths.RUN_REF).read_text())
    # a client of its own: mlflow.set_tracking_uri() would export MLFLOW_TRACKING_URI to later tests
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    return client, client.get_run(ref["run_id"])


def check_common_outputs(project: Path) -> None:
    probabilities = np.load(project / paths.PROBABILITIES)
    assert probabilities.shape == (30, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-4)
    metrics = json.loads((project / paths.METRICS).read_text())
    table = pd.read_csv(project / paths.PREDICTIONS)
    assert metrics["accuracy"] == pytest.approx(table["correct"].mean())
    for method in ("gradients", "gradcam"):  # Grad-CAM inside the nested backbone, via the stage
        maps = np.load(paths.explain_maps(method, project / paths.EXPLAIN_DIR))
        assert maps.shape[1:] == (8, 8) and len(maps) > 0 and np.isfinite(maps).all()
    # (Grad-CAM at a backbone's minimum input size sees a 1x1 feature map, which may be all zero
    # after the ReLU; gradients of the logits through the backbone may not.)
    assert np.load(paths.explain_maps("gradients", project / paths.EXPLAIN_DIR)).max() > 0
    assert (project / paths.GALLERY_PNG).exists()


@pytest.mark.parametrize("architecture", FAMILIES)
def test_backbone_runs_through_every_stage_in_two_phases(project, architecture):
    write_tiny_digits(project)
    overrides = [f"model={architecture}", "model.weights=null", "model.augment.rotate=0",
                 "model.fine_tune.epochs=1", "train.epochs=1", "train.batch_size=16",
                 "train.mixed_precision=true"]  # bfloat16 on a CPU that has it, else float32
    if architecture in ("mobilenet", "mobilenet_v2"):
        overrides.append(f"model.alpha={0.25 if architecture == 'mobilenet' else 0.35}")
    # the two methods checked below and a short randomization cascade: every method runs on
    # the scratch CNN (test_explain_stage), Grad-CAM inside nested backbones is checked by
    # test_explain_methods, and the other methods took most of each backbone's run here
    overrides += ["explain.methods=[gradients,gradcam]",
                  "explain.trust.randomization_checkpoints=2"]
    run_stages(project, overrides)

    history = pd.read_csv(project / paths.HISTORY)
    assert list(history["epoch"]) == [1, 2] and list(history["phase"]) == [1, 2]
    check_common_outputs(project)

    client, mlrun = open_run(project)
    phase = client.get_metric_history(mlrun.info.run_id, "phase")
    assert [(m.step, m.value) for m in sorted(phase, key=lambda m: m.step)] == [(0, 1), (1, 2)]
    assert [m.step for m in client.get_metric_history(mlrun.info.run_id, "val/loss")] == [0, 1]
    assert mlrun.data.tags["phase2_start_epoch"] == "2"
    assert mlrun.data.tags["model_architecture"] == architecture
    assert mlrun.data.tags["dtype_policy"] == choose_policy(
        True, gpu_count=0, cpu_bfloat16=cpu_supports_bfloat16())
    assert mlrun.data.params["model.fine_tune.unfreeze"]
    assert mlrun.data.params["model.weights"] == "None"


def _user_model(classes: int = 10):
    import keras

    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="out")(x)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(1)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32")
                       for w in model.get_weights()])
    return model


def test_provided_model_file_runs_through_every_stage_unchanged(project):
    write_tiny_digits(project)
    user = _user_model()
    user.save(project / "my_model.keras")
    run_stages(project, ["model=file", "model.path=my_model.keras", "model.input_scaling=unit",
                         "model.output=auto"])
    check_common_outputs(project)
    # the predictions are the file's own, on 0..1 images
    from classlens.data.prepared import load_split

    test = load_split("test", project / paths.PREPARED_DIR)
    expected = user.predict(np.asarray(test.images, np.float32) / 255.0, verbose=0)
    np.testing.assert_allclose(np.load(project / paths.PROBABILITIES), expected, atol=1e-5)
    history = pd.read_csv(project / paths.HISTORY)
    assert list(history["epoch"]) == [0] and list(history["phase"]) == [0]
    val = load_split("val", project / paths.PREPARED_DIR)  # scored with the file's own outputs
    own = user.predict(np.asarray(val.images, np.float32) / 255.0, verbose=0).argmax(axis=1)
    assert history["val/accuracy"].iloc[0] == pytest.approx((own == val.labels).mean(), abs=1e-12)

    _, mlrun = open_run(project)
    import hashlib

    digest = hashlib.sha256((project / "my_model.keras").read_bytes()).hexdigest()
    assert mlrun.data.tags["classlens.model_file_sha256"] == digest
    assert mlrun.data.tags["classlens.model_file_output"] == "softmax"
    assert mlrun.data.tags["model_architecture"] == "file"
    assert mlrun.data.metrics["val/accuracy"] == pytest.approx(history["val/accuracy"].iloc[0],
                                                               abs=1e-9)
    assert "classlens.model_uri" in mlrun.data.tags


def test_provided_model_with_other_classes_stops_with_one_line(project):
    write_tiny_digits(project)
    _user_model(classes=3).save(project / "three.keras")
    write_params(project / "params.yaml", project / "conf",
                 ["model=file", "model.path=three.keras"])
    proc = run([sys.executable, "stages/train.py"], cwd=project, check=False)
    one_line_error(proc, "three.keras", "10 classes")
    assert not (project / paths.MODEL).exists()
