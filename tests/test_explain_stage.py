"""The explain stage: which images it picks (from the prediction table alone), what it writes,
what it logs to MLflow, that it is reproducible, and its one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from classlens import paths
from classlens.config import EXPLAIN_METHODS
from classlens.explain.selection import explanation_rows, select_examples
from tests.conftest import run
from tests.helpers import one_line_error


def _table(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    true = np.arange(n) % 4
    pred = np.where(rng.random(n) < 0.25, (true + 1) % 4, true)
    return pd.DataFrame({
        "id": [f"img:{i}" for i in range(n)], "path": [f"p{i}" for i in range(n)],
        "position": np.arange(n), "true": true, "true_label": [f"c{t}" for t in true],
        "pred": pred, "pred_label": [f"c{p}" for p in pred],
        "confidence": rng.random(n), "correct": pred == true})


def test_selection_groups_order_and_seed():
    table = _table()
    chosen = select_examples(table, n_misclassified=3, n_correct=2, n_per_class=2, seed=1)
    groups = chosen["group"].tolist()
    assert groups[:5] == ["misclassified"] * 3 + ["correct"] * 2
    wrong = chosen[chosen["group"] == "misclassified"]
    assert (~wrong["correct"]).all() and wrong["confidence"].is_monotonic_decreasing
    worst_errors = table[~table["correct"]].nlargest(3, "confidence")["id"].tolist()
    assert wrong["id"].tolist() == worst_errors
    right = chosen[chosen["group"] == "correct"]
    assert right["correct"].all() and right["confidence"].is_monotonic_increasing
    assert right["confidence"].max() <= table[table["correct"]]["confidence"].nsmallest(2).max()
    per_class = chosen[chosen["group"] == "per_class"]
    assert per_class.groupby("true").size().tolist() == [2, 2, 2, 2]
    assert chosen["id"].is_unique  # an image is explained once, in its first group
    again = select_examples(table, n_misclassified=3, n_correct=2, n_per_class=2, seed=1)
    pd.testing.assert_frame_equal(chosen, again)
    other = select_examples(table, n_misclassified=3, n_correct=2, n_per_class=2, seed=2)
    assert set(other["id"]) != set(chosen["id"])


def test_misclassified_images_are_explained_for_both_classes():
    chosen = select_examples(_table(), n_misclassified=2, n_correct=1, n_per_class=0, seed=0)
    rows = explanation_rows(chosen)
    assert len(rows) == 2 * 2 + 1
    first = rows[rows["image"] == 0]
    assert first["target_kind"].tolist() == ["predicted", "true"]
    assert first["target"].tolist() == [chosen.loc[0, "pred"], chosen.loc[0, "true"]]
    assert rows[rows["image"] == 2]["target_kind"].tolist() == ["predicted"]


# ---------------------------------------------------------------- the stage, end to end


def _explain(project: Path) -> Path:
    return project / paths.EXPLAIN_DIR


def test_stage_writes_maps_figures_and_trust(trained_project):
    out = _explain(trained_project)
    index = pd.read_csv(out / paths.EXPLAIN_INDEX.name)
    assert index["row"].tolist() == list(range(len(index)))
    predicted = index[index["target_kind"] == "predicted"]
    assert set(predicted["group"]) <= {"misclassified", "correct", "per_class"}
    assert (predicted["group"] == "per_class").sum() >= 1  # the shrunk config keeps 1 a class
    true_rows = index[index["target_kind"] == "true"]
    wrong = predicted[predicted["true_label"] != predicted["pred_label"]]
    assert set(true_rows["image"]) == set(wrong["image"])  # every error: both classes
    assert set(predicted[predicted["group"] == "misclassified"]["image"]) <= set(wrong["image"])
    for method in EXPLAIN_METHODS:
        maps = np.load(out / paths.explain_maps(method).name)
        assert maps.shape == (len(index), 8, 8) and np.isfinite(maps).all()
        assert (np.abs(maps).sum(axis=(1, 2)) > 0).mean() > 0.9
        assert (out / paths.explain_overlay_png(method).name).read_bytes()[:4] == b"\x89PNG"
    for png in (paths.EXPLAIN_COMPARISON_PNG, paths.EXPLAIN_FAITHFULNESS_PNG,
                paths.EXPLAIN_RANDOMIZATION_PNG):
        assert (out / png.name).read_bytes()[:4] == b"\x89PNG"
    assert len(list(out.glob("activations_*.png"))) == 2  # first and last conv layers

    # figures.json: every PNG once, in display order (the methods first, in config order),
    # each with a title and a caption that says what it shows, and a bounded size
    from PIL import Image

    manifest = json.loads((out / "figures.json").read_text())
    files = [Path(e["file"]) for e in manifest]
    assert sorted(f.name for f in files) == sorted(p.name for p in out.glob("*.png"))
    assert files[:len(EXPLAIN_METHODS)] == [paths.explain_overlay_png(m) for m in EXPLAIN_METHODS]
    assert [e["kind"] for e in manifest].count("method") == len(EXPLAIN_METHODS)
    for entry in manifest:
        assert entry["title"] and len(entry["caption"]) > 60 and entry["width"] in ("full", "half")
        assert "{" not in entry["caption"], entry["caption"]
        width, height = Image.open(trained_project / entry["file"]).size
        assert width <= 1500 and height <= 1000, (entry["file"], width, height)
    by_file = {Path(e["file"]).name: e for e in manifest}
    assert "layer 'features'" in by_file["overlay_gradcam.png"]["caption"]  # the layer that ran
    assert by_file["overlay_gradcam.png"]["title"] == "Grad-CAM"

    trust = json.loads((out / paths.EXPLAIN_TRUST.name).read_text())
    assert set(trust["methods"]) == set(EXPLAIN_METHODS)
    assert trust["images"] == len(trust["image_ids"]) == min(16, len(predicted))
    assert trust["randomization"]["layers_top_down"][0] == "logits"
    # the last spatial feature map: the CNN names it `features` (an Identity on block2_relu1)
    assert trust["gradcam_layer"] == "features"
    for method, record in trust["methods"].items():
        for key in ("deletion_auc", "deletion_auc_random", "insertion_auc",
                    "insertion_auc_random", "spearman_final", "flagged", "flags", "seconds"):
            assert key in record, (method, key)
        assert 0 <= record["deletion_auc"] <= 1 and 0 <= record["insertion_auc"] <= 1
        assert record["flagged"] == bool(record["flags"])
    ig = trust["methods"]["integrated_gradients"]
    assert ig["completeness_relative_gap"] < 0.05
    # per map: the gap is |sum of the map - (F(x) - F(baseline))|, and the summary aggregates it
    ig_maps = np.load(out / paths.explain_maps("integrated_gradients").name)
    np.testing.assert_allclose(index["ig_completeness_gap"],
                               np.abs(ig_maps.sum(axis=(1, 2)) - index["ig_logit_delta"]),
                               rtol=1e-3, atol=1e-4)
    assert ig["completeness_gap_max"] == pytest.approx(index["ig_completeness_gap"].max(),
                                                       rel=1e-4)


def test_stage_logs_to_the_experiment_run(trained_project):
    import mlflow

    ref = json.loads((trained_project / paths.RUN_REF).read_text())
    mlflow.set_tracking_uri(f"sqlite:///{trained_project / 'mlflow.db'}")
    client = mlflow.MlflowClient()
    run_ = client.get_run(ref["run_id"])
    logged = {a.path for a in client.list_artifacts(ref["run_id"], "explain")}
    for name in ("explain/comparison.png", "explain/trust.json", "explain/index.csv",
                 "explain/maps_gradcam.npy", "explain/overlay_occlusion.png",
                 "explain/trust_table.json"):
        assert name in logged, name
    for method in EXPLAIN_METHODS:
        assert f"explain.{method}.deletion_auc" in run_.data.metrics
        assert f"explain.{method}.flagged" in run_.data.metrics
    trust = json.loads((_explain(trained_project) / paths.EXPLAIN_TRUST.name).read_text())
    assert run_.data.metrics["explain.gradients.insertion_auc"] == pytest.approx(
        trust["methods"]["gradients"]["insertion_auc"])


def _stage(project: Path) -> subprocess.CompletedProcess:
    return run([sys.executable, "stages/explain.py"], cwd=project, check=False)


@pytest.mark.slow
def test_rerun_is_reproducible(trained_project, trained_copy):
    project = trained_copy
    assert _stage(project).returncode == 0
    for method in EXPLAIN_METHODS:
        np.testing.assert_allclose(
            np.load(_explain(project) / paths.explain_maps(method).name),
            np.load(_explain(trained_project) / paths.explain_maps(method).name),
            rtol=1e-4, atol=1e-6, err_msg=method)
    assert (json.loads((_explain(project) / paths.EXPLAIN_TRUST.name).read_text())["image_ids"]
            == json.loads((_explain(trained_project) / paths.EXPLAIN_TRUST.name).read_text())[
                "image_ids"])


def test_bad_options_stop_with_one_line_and_keep_outputs(trained_copy):
    project = trained_copy
    before = sorted(p.name for p in _explain(project).iterdir())
    run([sys.executable, "-m", "classlens.cli", "params", "explain.gradcam.layer=block9_relu"],
        cwd=project)
    proc = _stage(project)
    one_line_error(proc, "explain.gradcam", "block9_relu")
    assert sorted(p.name for p in _explain(project).iterdir()) == before  # outputs kept whole

    # options that cannot work are refused when params.yaml is composed, naming the key
    for override, key in (("explain.occlusion.stride=3", "explain.occlusion.stride"),
                          ("explain.methods=[gradients,lime]", "explain.methods"),
                          ("explain.smoothgrad.noise=2", "explain.smoothgrad.noise"),
                          ("explain.trust.baseline=white", "explain.trust.baseline")):
        bad = run([sys.executable, "-m", "classlens.cli", "params", override], cwd=project,
                  check=False)
        assert bad.returncode != 0 and key in bad.stderr, (override, bad.stderr[-500:])
