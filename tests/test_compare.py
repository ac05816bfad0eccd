"""Run comparison: the pure functions on hand-built tables, and `classlens compare`'s page on two
real runs in a real MLflow SQLite store, logged with the artifacts the stages log (the full
metrics file from `classify`, the confusion matrix, the prediction table, a gate verdict)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from classlens.evaluation.compare import (f1_movers, metrics_side_by_side, paired_change,
                                          params_diff, prediction_flips)
from classlens.formatting import format_number


def _table(preds, confidences):
    truth = ["a", "b", "a", "c"]
    return pd.DataFrame({
        "id": ["x1", "x2", "x3", "x4"], "path": ["", "", "", ""], "position": [0, 1, 2, 3],
        "true_label": truth, "pred_label": preds, "confidence": confidences,
        "correct": [p == t for p, t in zip(preds, truth)],
    })


def test_flips_are_joined_on_ids_in_both_directions():
    a = _table(["a", "b", "c", "a"], [0.9, 0.8, 0.6, 0.7])  # right, right, wrong, wrong
    b = _table(["a", "c", "a", "b"], [0.9, 0.7, 0.8, 0.6])  # right, wrong, right, wrong
    right_to_wrong, wrong_to_right = prediction_flips(a, b.sample(frac=1, random_state=0))
    assert right_to_wrong["id"].tolist() == ["x2"]
    assert right_to_wrong.iloc[0][["pred_label_A", "pred_label_B"]].tolist() == ["b", "c"]
    assert wrong_to_right["id"].tolist() == ["x3"]


def test_flips_refuse_disjoint_test_sets():
    a = _table(["a", "b", "a", "c"], [0.9] * 4)
    b = a.assign(id=["y1", "y2", "y3", "y4"])
    with pytest.raises(ValueError, match="share no image ids"):
        prediction_flips(a, b)


def test_params_metrics_and_f1_movers():
    diff = params_diff({"train.epochs": "2", "seed": "1"}, {"train.epochs": "1", "seed": "1",
                                                            "model.x": "3"})
    assert diff.to_dict("records") == [
        {"param": "model.x", "A": "—", "B": "3"},
        {"param": "train.epochs", "A": "2", "B": "1"},
    ]
    side = metrics_side_by_side({"accuracy": 0.9}, {"accuracy": 0.8}).set_index("metric")
    assert side.loc["accuracy", "change"] == pytest.approx(-0.1)
    a = {"cat": {"f1": 0.9, "support": 5}, "dog": {"f1": 0.5, "support": 6},
         "emu": {"f1": 0.7, "support": 7}, "gnu": {"f1": None, "support": 0}}
    b = {"cat": {"f1": 0.85, "support": 5}, "dog": {"f1": 0.9, "support": 6},
         "emu": {"f1": 0.4, "support": 7}, "gnu": {"f1": 0.2, "support": 0}}
    movers = f1_movers(a, b, top=2)
    assert movers["class"].tolist() == ["dog", "emu"]  # gnu: undefined in A, left out
    assert movers["f1_A"].tolist() == [0.5, 0.7] and movers["support"].tolist() == [6, 7]


def test_paired_change_matches_the_point_change_and_mcnemar():
    rng = np.random.default_rng(0)
    true = rng.choice(list("abc"), 200)
    pred_a = np.where(rng.random(200) < 0.9, true, "a")
    pred_b = np.where(rng.random(200) < 0.7, true, "b")
    paired = paired_change(true, pred_a, pred_b, ["a", "b", "c"], resamples=300, seed=1)
    change = (pred_b == true).mean() - (pred_a == true).mean()
    low, high = paired.intervals["accuracy"]
    assert low < change < high < 0  # B is clearly worse on the same images
    right_a, right_b = pred_a == true, pred_b == true
    assert paired.right_to_wrong == int((right_a & ~right_b).sum())
    assert paired.wrong_to_right == int((~right_a & right_b).sum())
    flips, fewer = paired.right_to_wrong + paired.wrong_to_right, min(paired.right_to_wrong,
                                                                      paired.wrong_to_right)
    exact = min(1.0, 2 * sum(math.comb(flips, k) for k in range(fewer + 1)) / 2 ** flips)
    assert paired.mcnemar_p == pytest.approx(exact) and paired.mcnemar_p < 0.01
    same = paired_change(true, pred_a, pred_a, ["a", "b", "c"], resamples=50)
    assert same.mcnemar_p is None and same.intervals["accuracy"] == (0.0, 0.0)


def test_numbers_are_formatted_by_kind():
    assert format_number(360.0, name="n_samples") == "360"
    assert format_number(np.int64(7)) == "7"
    assert format_number(0.983333) == "0.9833"
    assert format_number(0.002, name="train/learning_rate") == "2e-03"
    assert format_number(3e-6) == "3e-06"
    assert format_number(-0.075, signed=True) == "-0.0750"
    assert format_number("0.002") == "0.002"  # a logged param stays as logged


# ---------------------------------------------------------------- two real runs

CLASSES = ["cat", "dog", "emu"]


def _evaluation(y_true, probabilities):
    """What the evaluate stage computes and writes for one run."""
    from classlens.evaluation.classification import classify

    report = classify(y_true, probabilities, CLASSES, top_k=2, bootstrap_resamples=200,
                      bootstrap_seed=0, val_true=y_true[:40], val_probabilities=probabilities[:40])
    confusion = {"classes": CLASSES, "counts": report.confusion.tolist(),
                 "row_normalized": report.confusion_normalized.round(6).tolist(),
                 "order": {"method": "given", "classes": CLASSES}}
    return report, confusion


def _log_run(client, experiment, folder: Path, *, name, params, metrics, artifacts) -> str:
    run = client.create_run(experiment, run_name=name, tags={"dvc_exp_name": name})
    run_id = run.info.run_id
    for key, value in params.items():
        client.log_param(run_id, key, value)
    for key, value in metrics.items():
        client.log_metric(run_id, key, value)
    for artifact, content in artifacts.items():
        path = folder / name / artifact
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        client.log_artifact(run_id, str(path), artifact_path=str(Path(artifact).parent))
    client.set_terminated(run_id)
    return run_id


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Runs A (full metrics as `evaluate/all_metrics.json`, a gate verdict) and B (logged before
    the metrics split: the full file as `evaluate/metrics.json`, no gate) in a SQLite store.
    Both carry a per-epoch `accuracy` of 0.979, the training value that shadowed the test one."""
    import mlflow

    from classlens.evaluation import results
    from classlens.evaluation.predictions import prediction_table

    folder = tmp_path_factory.mktemp("store")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment(
        "classlens", artifact_location=(folder / "mlartifacts").as_uri())
    rng = np.random.default_rng(0)
    y_true = np.arange(360) % 3
    runs = {}
    for name, keep, lr, epochs in (("base", 0.95, "0.002", "2"), ("one-epoch", 0.8, "0.001", "1")):
        pred = np.where(rng.random(360) < keep, y_true, (y_true + 1) % 3)
        probabilities = np.full((360, 3), 0.1)
        probabilities[np.arange(360), pred] = 0.8
        report, confusion = _evaluation(y_true, probabilities)
        metrics_file = folder / f"{name}.json"
        results.write(metrics_file, report.results())
        table = prediction_table(ids=[f"img:{i}" for i in range(360)], source_paths=[""] * 360,
                                 y_true=y_true, probabilities=probabilities, class_names=CLASSES,
                                 top_k=2)
        artifacts = {"evaluate/confusion_matrix.json": json.dumps(confusion),
                     "predict/predictions.csv": table.to_csv(index=False)}
        if name == "base":
            artifacts["evaluate/all_metrics.json"] = metrics_file.read_text()
            artifacts["gate/gate.json"] = json.dumps({"verdict": "pass", "failed": [],
                                                      "warned": [], "rows": [],
                                                      "baseline": "metrics.json@main"})
        else:
            artifacts["evaluate/metrics.json"] = metrics_file.read_text()
        runs[name] = _log_run(
            client, experiment, folder, name=name,
            params={"train.epochs": epochs, "train.learning_rate": lr, "model.name": "cnn_small",
                    "data.name": "digits", "seed": "0"},
            metrics={"accuracy": 0.979, "learning_rate": float(lr), "train/loss": 0.1},
            artifacts=artifacts)
        runs[name + ":accuracy"] = report.accuracy
    return uri, runs


@pytest.fixture
def page(two_runs, tmp_path, monkeypatch):
    from classlens.reporting.compare_page import compare_runs, write
    from classlens.tracking.options import TrackingConfig

    uri, runs = two_runs
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)  # no local prepared data: the gallery says so
    comparison = compare_runs(runs["base"], runs["one-epoch"],
                              tracking_cfg=TrackingConfig(uri=uri, experiment="classlens"))
    md, html = write(comparison, tmp_path / "cmp")
    return comparison, md.read_text(), html.read_text(), runs


def test_headline_holds_the_artifacts_test_accuracy_not_mlflows_key(page):
    comparison, markdown, html, runs = page
    a, b = runs["base:accuracy"], runs["one-epoch:accuracy"]
    accuracy = comparison.headline[0]
    assert (accuracy.path, accuracy.a, accuracy.b) == ("accuracy", a, b)
    row = re.search(r"\| test accuracy \| (\S+) \[(\S+), (\S+)\] \| (\S+) .*\| (\S+) \[", markdown)
    assert row and row.group(1) == f"{a:.4f}" and row.group(4) == f"{b:.4f}", markdown
    assert row.group(5) == f"{b - a:+.4f}"
    assert float(row.group(2)) <= a <= float(row.group(3))
    assert "0.9790" not in markdown and "0.979" not in html  # MLflow's shadowed `accuracy`
    assert "Gate verdict: A pass (vs metrics.json@main); B no gate verdict logged" in markdown
    assert "evaluate/metrics.json" in " ".join(comparison.notes)  # B's older artifact name


def test_integers_without_decimals_and_learning_rate_in_scientific_notation(page):
    from classlens.reporting.compare_page import to_markdown

    comparison, markdown, html, _ = page
    assert re.search(r"\| test images \| 360 \| 360 \| \+0 \|", markdown), markdown
    assert re.search(r"\| n_samples \| 360 \| 360 \| \+0 \|", markdown)
    assert "360.0000" not in markdown and "360.0000" not in html
    assert re.search(r"\| learning_rate \| 2e-03 \| 1e-03 \| -1e-03 \|", markdown)
    assert re.search(r"\| train\.learning_rate \| 0\.002 \| 0\.001 \|", markdown)  # as logged
    assert re.search(r"\| train\.epochs \| 2 \| 1 \|", markdown)
    short = to_markdown(comparison, full_table=False)
    assert "n_samples" not in short and short.rstrip().endswith("in compare.md and compare.html_")


def test_html_sections_in_order_with_the_full_table_last_and_collapsed(page):
    comparison, _, html, _ = page
    order = [html.index(f"<section id='{sid}'>") for sid in
             ("headline", "params", "classes", "confusion", "flips", "all-metrics")]
    assert order == sorted(order)
    details = html.index("<details>")
    assert details > html.index("Wrong → right (") and details > html.index("Gallery: no local")
    assert html.index("<td class=t>per_class.cat.f1</td>") > details
    assert html.rstrip().endswith("</details></section></main></body></html>")
    assert html.count("data:image/png;base64,") == 2  # A's and B's confusion heatmaps
    assert len(comparison.confusion_pngs) == 2 and comparison.confusion_classes == CLASSES
    assert "<span class='chip pass'>pass (vs metrics.json@main)</span>" in html
