"""Prediction table and error analysis on hand-built predictions."""

from __future__ import annotations

import numpy as np
import pytest

from classlens.analysis import confused_pairs, split_by_correctness
from classlens.predictions import prediction_table


@pytest.fixture
def table():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3], [0.05, 0.9, 0.05]])
    return prediction_table(ids=["a", "b", "c", "d"], source_paths=["", "", "", ""],
                            y_true=np.array([0, 1, 1, 0]), probabilities=probs,
                            class_names=["x", "y", "z"], top_k=2)


def test_prediction_table_rows(table):
    assert table["pred_label"].tolist() == ["x", "z", "y", "y"]
    assert table["correct"].tolist() == [True, False, True, False]
    assert table["confidence"].tolist() == pytest.approx([0.7, 0.6, 0.5, 0.9])
    assert table["top2_label"].tolist() == ["y", "y", "z", "x"]
    assert table["top2_prob"].tolist() == pytest.approx([0.2, 0.3, 0.3, 0.05])
    assert "top3_label" not in table


def test_top_k_is_capped_at_number_of_classes():
    t = prediction_table(ids=["a"], source_paths=[""], y_true=np.array([1]),
                         probabilities=np.array([[0.4, 0.6]]), class_names=["p", "q"], top_k=5)
    assert [c for c in t.columns if c.endswith("_label") and c.startswith("top")] == [
        "top1_label", "top2_label"]


def test_split_by_correctness_orders_by_confidence(table):
    correct, wrong = split_by_correctness(table)
    assert correct["id"].tolist() == ["a", "c"]
    assert wrong["id"].tolist() == ["d", "b"]  # most confident error first


def test_confused_pairs_directional_counts_and_rates():
    y = np.array([0, 0, 0, 0, 1, 1, 2])
    pred = np.array([1, 1, 2, 0, 0, 1, 2])
    pairs = confused_pairs(y, pred, ["a", "b", "c"])
    assert pairs.to_dict("records") == [
        {"true_label": "a", "pred_label": "b", "count": 2, "rate": 0.5},
        {"true_label": "b", "pred_label": "a", "count": 1, "rate": 0.5},
        {"true_label": "a", "pred_label": "c", "count": 1, "rate": 0.25},
    ]


def test_confused_pairs_empty_for_perfect_predictions():
    assert confused_pairs(np.array([0, 1]), np.array([0, 1]), ["a", "b"]).empty
