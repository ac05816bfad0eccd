"""Prediction table and error analysis on hand-built predictions."""

from __future__ import annotations

import numpy as np
import pytest

from classlens.analysis import confused_pairs, split_by_correctness
from classlens.evaluation.predictions import prediction_table


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


# ---------------------------------------------------------------- issue 6 additions


def test_table_margin_entropy_and_loss(table):
    from scipy.stats import entropy
    from sklearn.metrics import log_loss

    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3], [0.05, 0.9, 0.05]])
    assert table["margin"].tolist() == pytest.approx([0.5, 0.3, 0.2, 0.85])
    assert table["entropy"].tolist() == pytest.approx([entropy(r) for r in probs])
    assert table["loss"].tolist() == pytest.approx(-np.log([0.7, 0.3, 0.5, 0.05]))
    assert table["loss"].mean() == pytest.approx(log_loss([0, 1, 1, 0], probs, labels=[0, 1, 2]))


def test_low_confidence_and_confidently_wrong(table):
    from classlens.analysis import confidently_wrong, low_confidence

    assert low_confidence(table, threshold=0.65)["id"].tolist() == ["c", "b"]
    assert confidently_wrong(table, threshold=0.8)["id"].tolist() == ["d"]
    assert confidently_wrong(table, threshold=0.95).empty


def test_symmetric_pairs_hand_worked():
    from classlens.analysis import symmetric_pairs

    y = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    pred = np.array([1, 1, 2, 0, 0, 1, 2, 0])
    pairs = symmetric_pairs(y, pred, ["a", "b", "c"])
    assert pairs.to_dict("records") == [
        {"class_a": "a", "class_b": "b", "count": 3, "rate": 0.5, "a_to_b": 2, "b_to_a": 1},
        {"class_a": "a", "class_b": "c", "count": 2, "rate": pytest.approx(2 / 6),
         "a_to_b": 1, "b_to_a": 1},
    ]
    assert symmetric_pairs(y, y, ["a", "b", "c"]).empty


def test_weak_classes_diagnosis():
    from classlens.analysis import weak_classes

    # b steals images of a and c (low precision); c loses its images to b (low recall)
    confusion = np.array([[8, 2, 0], [0, 10, 0], [0, 5, 5]])
    per_class = {
        "a": {"precision": 1.0, "recall": 0.8, "f1": 8 / 9, "support": 10},
        "b": {"precision": 10 / 17, "recall": 1.0, "f1": 20 / 27, "support": 10},
        "c": {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 10},
        "d": {"precision": None, "recall": None, "f1": None, "support": 0},
    }
    confusion = np.pad(confusion, ((0, 1), (0, 1)))
    weak = weak_classes(per_class, confusion, f1_floor=0.85)
    assert weak["class"].tolist() == ["c", "b"]
    rows = weak.set_index("class")
    assert rows.loc["b", "diagnosis"] == "low precision"
    assert rows.loc["b", "steals_from"] == "c (5), a (2)" and rows.loc["b", "predicted"] == 17
    assert rows.loc["c", "diagnosis"] == "low recall"
    assert rows.loc["c", "absorbed_by"] == "b (5)"
    assert weak_classes(per_class, confusion, f1_floor=0.5).empty
    with pytest.raises(ValueError, match="confusion must have shape"):
        weak_classes(per_class, confusion[:3, :3], f1_floor=0.5)


def test_label_suspects_hand_worked():
    from classlens.analysis import label_suspects, per_class_thresholds

    probs = np.array([
        [0.9, 0.1, 0.0],   # 0: fine
        [0.8, 0.2, 0.0],   # 0: fine
        [0.1, 0.9, 0.0],   # labelled 0 but looks like 1 -> suspect, suggested 1
        [0.1, 0.8, 0.1],   # 1: fine
        [0.2, 0.7, 0.1],   # 1: fine
        [0.65, 0.35, 0.0],  # labelled 1: p(1) < t1 = .617 and p(0) >= t0 = .6 -> suspect
    ])
    labels = np.array([0, 0, 0, 1, 1, 1])
    thresholds = per_class_thresholds(probs, labels)
    assert thresholds[:2] == pytest.approx([0.6, 1.85 / 3]) and np.isnan(thresholds[2])
    found = label_suspects(probs, labels, method="self_confidence")
    assert found["position"].tolist() == [2, 5]  # ranked by p(given): 0.1 then 0.35
    assert found["suggested"].tolist() == [1, 0]
    by_margin = label_suspects(probs, labels, method="normalized_margin")
    assert by_margin["score"].tolist() == pytest.approx([(0.1 - 0.9 + 1) / 2,
                                                         (0.35 - 0.65 + 1) / 2])
    # class 2 is absent (no threshold): never suggested, however probable
    assert 2 not in label_suspects(np.array([[0.2, 0.1, 0.7], [0.9, 0.1, 0.0]]),
                                   np.array([0, 0]))["suggested"].tolist()
    with pytest.raises(ValueError, match="method must be one of"):
        label_suspects(probs, labels, method="vibes")


def test_galleries_select_the_right_rows(table):
    from classlens.analysis import build_galleries, caption, confused_pairs

    pairs = confused_pairs(table["true"].to_numpy(), table["pred"].to_numpy(), ["x", "y", "z"])
    suspects = table.iloc[[1]].assign(suggested_label="z", self_confidence=0.3)
    galleries = {g.key: g for g in build_galleries(
        table, pairs, suspects, size=1, top_pairs=5, pair_size=3, class_order=["y", "x"],
        class_size=2)}
    assert galleries["most_confident_errors"].rows["id"].tolist() == ["d"]
    assert galleries["least_confident_correct"].rows["id"].tolist() == ["c"]
    assert galleries["pair_y_to_z"].rows["id"].tolist() == ["b"]
    assert galleries["pair_x_to_y"].rows["id"].tolist() == ["d"]
    assert galleries["class_y_missed"].rows["id"].tolist() == ["b"]  # true y, predicted z
    assert galleries["class_y_false_alarms"].rows["id"].tolist() == ["d"]  # true x, predicted y
    assert galleries["class_x_missed"].rows["id"].tolist() == ["d"]
    x_alarms = galleries["class_x_false_alarms"]
    assert x_alarms.rows.empty and x_alarms.count == 0
    assert x_alarms.title == "Class x \u2014 false alarms: 0 images of other classes predicted as x"
    assert galleries["class_y_missed"].title == (
        "Class y \u2014 missed: 1 image of class y predicted as another class")
    assert [g.kind for g in galleries.values()][4:8] == ["missed", "false_alarms"] * 2
    assert list(galleries)[-1] == "label_suspects"
    assert caption(galleries["label_suspects"].rows.iloc[0], "suspects").startswith(
        "given y / suggested z")


def test_class_galleries_show_false_alarms_of_a_class_that_misses_nothing():
    """A class with no missed image but images wrongly predicted as it (the issue's "Class 7:
    0 errors of 36" at precision 0.92) gets a false-alarm gallery; counts are all errors, the
    rows at most `class_size`, most confident first; plurals follow the count."""
    from classlens.analysis import build_galleries, confused_pairs, image_count

    probs = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.3, 0.7, 0.0], [0.4, 0.6, 0.0],
                      [0.1, 0.9, 0.0], [0.0, 0.2, 0.8]])
    t = prediction_table(ids=list("abcdef"), source_paths=[""] * 6,
                         y_true=np.array([0, 0, 0, 0, 1, 2]), probabilities=probs,
                         class_names=["p", "q", "r"], top_k=1)
    pairs = confused_pairs(t["true"].to_numpy(), t["pred"].to_numpy(), ["p", "q", "r"])
    galleries = {g.key: g for g in build_galleries(
        t, pairs, t.iloc[:0], size=5, top_pairs=0, pair_size=1, class_order=["q", "p"],
        class_size=2)}
    q_missed, q_alarms = galleries["class_q_missed"], galleries["class_q_false_alarms"]
    assert q_missed.count == 0 and q_missed.rows.empty
    assert q_alarms.count == 3 and q_alarms.rows["id"].tolist() == ["b", "c"]  # most confident
    assert q_alarms.class_name == "q" and q_alarms.kind == "false_alarms"
    assert q_alarms.title == ("Class q \u2014 false alarms: 3 images of other classes predicted "
                              "as q (2 most confident shown)")
    assert galleries["class_p_missed"].count == 3 and galleries["class_p_false_alarms"].count == 0
    assert "class_r_missed" not in galleries  # only the classes asked for
    assert galleries["label_suspects"].count == 0
    assert [image_count(n) for n in (0, 1, 2)] == ["0 images", "1 image", "2 images"]


def test_class_order_methods():
    from classlens.evaluation.class_order import class_order

    # a<->c and b<->d are confused with each other: clustering puts each pair side by side
    m = np.array([[0.6, 0.0, 0.4, 0.0], [0.0, 0.7, 0.0, 0.3],
                  [0.3, 0.0, 0.7, 0.0], [0.0, 0.2, 0.0, 0.8]])
    order = class_order(m, "clustered").tolist()
    assert sorted(order) == [0, 1, 2, 3]
    assert abs(order.index(0) - order.index(2)) == 1 and abs(order.index(1) - order.index(3)) == 1
    assert class_order(m, "recall").tolist()[0] == 0  # worst recall first
    assert class_order(m, "given").tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="method must be one of"):
        class_order(m, "alphabetical")


def test_file_stems_are_safe_and_unique():
    from classlens.naming import file_stems

    stems = file_stems(["a b", "a_b", "../x", "ok"])
    # the name that already is the stem keeps it, whatever the order; the other gets a hash
    assert stems == file_stems(["ok", "../x", "a_b", "a b"])
    assert stems["a_b"] == "a_b" and stems["a b"].startswith("a_b-") and len(stems["a b"]) == 12
    assert (stems["../x"], stems["ok"]) == ("_x", "ok")
