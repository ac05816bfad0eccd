"""Run comparison on hand-built prediction tables and metrics."""

from __future__ import annotations

import pandas as pd
import pytest

from classlens.evaluation.compare import f1_movers, metrics_side_by_side, params_diff, prediction_flips


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
    a = {"accuracy": 0.9, "f1.cat": 0.9, "f1.dog": 0.5, "f1.emu": 0.7}
    b = {"accuracy": 0.8, "f1.cat": 0.85, "f1.dog": 0.9, "f1.emu": 0.4}
    side = metrics_side_by_side(a, b).set_index("metric")
    assert side.loc["accuracy", "change"] == pytest.approx(-0.1)
    movers = f1_movers(a, b, top=2)
    assert movers["class"].tolist() == ["dog", "emu"]
