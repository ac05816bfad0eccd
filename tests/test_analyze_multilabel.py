"""Multi-label analyze: pure functions on hand-made label sets (an image with no label, a label
absent from the split) against scikit-learn and brute force; the stage's files against arrays."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, hamming_loss, precision_score

from classlens import paths
from classlens.analysis import (build_multilabel_galleries, confidently_wrong_decisions,
                                cross_label_pairs, label_decisions, low_confidence_decisions,
                                multilabel_caption, multilabel_suspects, split_by_exact_match,
                                symmetric_cross_label_pairs, weak_labels, with_image_columns)
from classlens.analysis.multilabel import certainty
from classlens.evaluation.multilabel import multilabel_report
from classlens.evaluation.predictions import multilabel_table

NAMES = ["a", "b", "c"]  # c: absent from the split (no image carries it)
THRESHOLDS = np.array([0.5, 0.4, 0.6])
Y = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 0], [1, 0, 0]], dtype=np.uint8)
P = np.array([[0.9, 0.1, 0.2],  # {a}: right
              [0.3, 0.8, 0.7],  # {b, c}: a missed, c extra
              [0.6, 0.45, 0.1],  # {a, b}: a extra
              [0.1, 0.2, 0.3],  # {}: right, the image with no label
              [0.95, 0.05, 0.65]])  # {a, c}: c extra


@pytest.fixture
def table():
    return multilabel_table(ids=[f"i{n}" for n in range(5)], source_paths=[""] * 5, y_true=Y,
                            probabilities=P, thresholds=THRESHOLDS, class_names=NAMES)


def _pred(p=P, t=THRESHOLDS):
    return p >= t[None, :]


def _cross_counts(y_true, y_pred):
    """C[a, b] by hand: images carrying a with b predicted and not true (a == b: a found)."""
    y_true, k = y_true.astype(bool), y_true.shape[1]
    extra = y_pred & ~y_true
    return np.array([[(y_true[:, a] & (y_pred[:, a] if a == b else extra[:, b])).sum()
                      for b in range(k)] for a in range(k)])


def test_certainty_is_the_share_of_the_way_from_the_threshold():
    found = certainty(np.array([[0.9, 0.1, 0.5, 0.45, 0.0, 1.0]]),
                      [0.5, 0.5, 0.5, 0.4, 0.0, 1.0])
    np.testing.assert_allclose(found, [[0.8, 0.8, 0.0, 0.05 / 0.6, 0.0, 0.0]])


def test_exact_match_split_orders_and_counts_like_scikit_learn(table):
    correct, wrong = split_by_exact_match(table, P, THRESHOLDS)
    assert len(correct) == accuracy_score(Y, _pred(), normalize=False)
    assert correct["id"].tolist() == ["i0", "i3"]  # i0's least certain decision is surer
    assert correct["certainty"].tolist() == pytest.approx([min(0.8, 0.75, 2 / 3), 0.5])
    assert wrong["id"].tolist()[0] == "i1"  # two wrong labels
    assert wrong["n_wrong"].tolist() == [2, 1, 1]
    for _, row in wrong.iterrows():
        k = row["position"]
        assert row["n_wrong"] == hamming_loss(Y[k:k + 1], _pred()[k:k + 1]) * len(NAMES)
    assert wrong["loss"].iloc[1] >= wrong["loss"].iloc[2]


def test_label_decisions_one_row_per_image_and_label(table):
    decisions = label_decisions(table, P, Y, THRESHOLDS, NAMES)
    assert len(decisions) == P.size
    assert (~decisions["correct"]).sum() == round(hamming_loss(Y, _pred()) * P.size)
    row = decisions[(decisions["id"] == "i1") & (decisions["label"] == "a")].iloc[0]
    assert (row["given"], row["predicted"], row["correct"]) == (True, False, False)
    assert row["distance"] == pytest.approx(0.2) and row["certainty"] == pytest.approx(0.4)
    assert row["true_labels"] == "a|b" and row["pred_labels"] == "b|c"
    hesitant = low_confidence_decisions(decisions, threshold=0.2)
    assert hesitant["certainty"].is_monotonic_increasing and (hesitant["certainty"] < 0.2).all()
    assert len(hesitant) == (certainty(P, THRESHOLDS) < 0.2).sum()
    sure = confidently_wrong_decisions(decisions, threshold=0.15)  # i4's c: 0.125
    assert not sure["correct"].any() and sure["certainty"].is_monotonic_decreasing
    assert set(zip(sure["id"], sure["label"])) == {("i1", "a"), ("i1", "c"), ("i2", "a")}


def test_pairs_come_from_the_evaluate_stages_cross_label_counts():
    report = multilabel_report(Y, P, THRESHOLDS, label_names=NAMES)
    counts, support = report.cross_label, Y.sum(axis=0)
    np.testing.assert_array_equal(counts, _cross_counts(Y, _pred()))
    pairs = cross_label_pairs(counts, support, NAMES)
    # a's images: i1 has c extra, i4 has c extra; b's images: i1 has c extra, i2 has a extra
    assert pairs.to_dict("records") == [
        {"true_label": "a", "pred_label": "c", "count": 2, "rate": 2 / 3},
        {"true_label": "b", "pred_label": "a", "count": 1, "rate": 0.5},
        {"true_label": "b", "pred_label": "c", "count": 1, "rate": 0.5},
    ]
    assert "c" not in set(pairs["true_label"])  # absent label: no row of its own
    sym = symmetric_cross_label_pairs(counts, support, NAMES)
    assert sym.to_dict("records")[0] == {"class_a": "a", "class_b": "c", "count": 2,
                                         "rate": 2 / 3, "a_to_b": 2, "b_to_a": 0}
    assert sym["count"].sum() == pairs["count"].sum()


def test_weak_labels_use_the_per_label_numbers_and_name_their_partners():
    report = multilabel_report(Y, P, THRESHOLDS, label_names=NAMES)
    weak = weak_labels(report.per_label, report.cross_label, f1_floor=0.9)
    assert weak["f1"].is_monotonic_increasing
    c = weak[weak["class"] == "c"].iloc[0]  # absent, yet predicted twice: F1 0, recall undefined
    assert c["f1"] == 0.0 and pd.isna(c["recall"]) and c["diagnosis"] == "low precision"
    assert (c["predicted"], c["false_alarms"], c["missed"]) == (2, 2, 0)
    assert c["alarms_on_images_of"] == "a (2), b (1)"
    a = weak[weak["class"] == "a"].iloc[0]
    assert a["precision"] == pytest.approx(precision_score(Y[:, 0], _pred()[:, 0]))
    assert a["extras_on_its_images"] == "c (2)" and a["alarms_on_images_of"] == "b (1)"
    with pytest.raises(ValueError, match="counts must have shape"):
        weak_labels(report.per_label, np.zeros((2, 2)), f1_floor=0.9)


def _brute_force_suspects(p, y):
    """Confident learning on each label as a binary task, written out directly."""
    found = set()
    for k in range(p.shape[1]):
        carriers, others = y[:, k] == 1, y[:, k] == 0
        t_pos = p[carriers, k].mean() if carriers.any() else np.inf
        t_neg = (1 - p[others, k]).mean() if others.any() else np.inf
        for n in range(len(p)):
            if carriers[n] and p[n, k] < t_pos and 1 - p[n, k] >= t_neg:
                found.add((n, k, "remove"))
            if others[n] and 1 - p[n, k] < t_neg and p[n, k] >= t_pos:
                found.add((n, k, "add"))
    return found


def test_suspects_both_directions_match_brute_force():
    rng = np.random.default_rng(0)
    clean = rng.random((60, 4)) < 0.4
    p = 0.6 * clean + 0.4 * rng.random(clean.shape)  # the model sees the clean labels
    y = (clean ^ (rng.random(clean.shape) < 0.1)).astype(np.uint8)  # 10% annotations flipped
    y[:, 3] = 0  # a label absent from the split: never suggested, however probable
    y[5] = 0  # an image without labels
    names = ["w", "x", "y", "z"]
    for method in ("normalized_margin", "self_confidence"):
        suspects = multilabel_suspects(p, y, names, method=method)
        got = {(r.position, names.index(r.label), r.suggestion) for r in suspects.itertuples()}
        assert got == _brute_force_suspects(p, y)
        assert {"remove", "add"} <= set(suspects["suggestion"])
        assert "z" not in set(suspects["label"])
        assert suspects["score"].is_monotonic_increasing
        state = np.where(suspects["given"], suspects["probability"], 1 - suspects["probability"])
        np.testing.assert_allclose(suspects["score"], state)
        np.testing.assert_allclose(suspects["self_confidence"], state)


def test_with_image_columns_joins_by_position(table):
    joined = with_image_columns(pd.DataFrame({"position": [3, 1], "x": [7, 8]}), table)
    assert joined.columns.tolist() == ["id", "path", "position", "true_labels", "pred_labels",
                                       "x"]
    assert joined["id"].tolist() == ["i3", "i1"] and joined["true_labels"].tolist() == ["", "a|b"]


def test_galleries_per_label_both_ways_and_captions(table):
    correct, wrong = split_by_exact_match(table, P, THRESHOLDS)
    report = multilabel_report(Y, P, THRESHOLDS, label_names=NAMES)
    pairs = cross_label_pairs(report.cross_label, Y.sum(axis=0), NAMES)
    suspects = with_image_columns(multilabel_suspects(P, Y, NAMES), table)
    galleries = build_multilabel_galleries(
        pd.concat([correct, wrong]), P, Y, THRESHOLDS, pairs, suspects, label_names=NAMES,
        size=2, top_pairs=1, pair_size=5, class_order=["c", "a"], class_size=5)
    by_key = {g.key: g for g in galleries}
    assert [g.kind for g in galleries] == ["errors", "correct", "pair", "missed", "false_alarms",
                                           "missed", "false_alarms", "suspects"]
    errors = by_key["most_wrong_labels"]
    assert errors.count == 3 and errors.rows["id"].tolist()[0] == "i1" and len(errors.rows) == 2
    assert "3 images (2 worst shown)" in errors.title
    assert by_key["pair_a_to_c"].rows["id"].tolist() == ["i1", "i4"]  # p(c) 0.7, then 0.65
    assert by_key["class_c_missed"].count == 0 and by_key["class_c_missed"].rows.empty
    alarms = by_key["class_c_false_alarms"]
    assert alarms.class_name == "c" and alarms.rows["id"].tolist() == ["i1", "i4"]
    np.testing.assert_array_equal([g.count for g in galleries if g.kind == "missed"],
                                  (Y.astype(bool) & ~_pred()).sum(axis=0)[[2, 0]])
    assert by_key["class_a_missed"].rows["id"].tolist() == ["i1"]
    assert multilabel_caption(errors.rows.iloc[0], "errors") == (
        "true a, b\npred b, c\n2 wrong labels")
    empty = by_key["least_confident_correct"].rows
    assert multilabel_caption(empty[empty["id"] == "i3"].iloc[0], "correct") == (
        "true none\npred none\ncertainty 0.50")
    assert multilabel_caption(alarms.rows.iloc[0], "false_alarms").endswith("p(c) 0.70, t 0.60")


def test_the_multilabel_analysis_loads_no_tensorflow():
    code = ("import sys, classlens.pipeline.analyze_multilabel, classlens.figures.images; "
            "print(sorted({'tensorflow', 'keras'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr


# ---------------------------------------------------------------- the stage


@pytest.fixture
def analyzed(multilabel_project) -> Path:
    """The embedded multi-label default (digit mosaics) after every stage (conftest)."""
    return multilabel_project


def _arrays(project: Path):
    from classlens.data.prepared import load_classes, load_split

    classes = load_classes(project / paths.PREPARED_DIR)
    y_true = np.asarray(load_split("test", project / paths.PREPARED_DIR).labels).astype(bool)
    p = np.load(project / paths.PROBABILITIES)
    t = np.asarray(json.loads((project / paths.PREPROCESSING).read_text())["thresholds"]["values"])
    return classes, y_true, p, t, p >= t[None, :]


def _csv(project: Path, path) -> pd.DataFrame:
    text = dict.fromkeys(["id", "label", "true_label", "pred_label", "class"], str)
    return pd.read_csv(project / path, keep_default_na=False, dtype=text)


def test_stage_files_agree_with_the_arrays(analyzed):
    classes, y_true, p, t, y_pred = _arrays(analyzed)
    n, k = y_true.shape
    exact = (y_true == y_pred).all(axis=1)
    correct, wrong = _csv(analyzed, paths.CORRECT), _csv(analyzed, paths.MISCLASSIFIED)
    assert sorted(correct["position"]) == np.flatnonzero(exact).tolist()
    assert sorted(wrong["position"]) == np.flatnonzero(~exact).tolist()
    assert wrong["n_wrong"].tolist() == sorted((y_true != y_pred).sum(axis=1)[~exact],
                                               reverse=True)
    pairs = _csv(analyzed, paths.CONFUSED_PAIRS)
    counts = _cross_counts(y_true, y_pred)
    for r in pairs.itertuples():
        a, b = classes.index(r.true_label), classes.index(r.pred_label)
        assert r.count == counts[a, b]
        assert r.rate == pytest.approx(counts[a, b] / y_true[:, a].sum())
    assert pairs["count"].sum() == counts.sum() - np.trace(counts)
    symmetric = _csv(analyzed, paths.CONFUSED_PAIRS_SYMMETRIC)
    assert symmetric["count"].sum() == pairs["count"].sum()
    hesitant = _csv(analyzed, paths.LOW_CONFIDENCE)
    sure_wrong = _csv(analyzed, paths.CONFIDENTLY_WRONG)
    summary = json.loads((analyzed / paths.ANALYSIS_SUMMARY).read_text())
    c = certainty(p, t)
    assert len(hesitant) == (c < summary["low_confidence_threshold"]).sum()
    assert len(sure_wrong) == ((y_true != y_pred) & (c > summary["confidently_wrong_threshold"])
                               ).sum()
    assert summary["n_misclassified"] == (~exact).sum() and summary["multilabel"] is True
    assert summary["n_wrong_decisions"] == (y_true != y_pred).sum()


def test_stage_weak_labels_and_suspects(analyzed):
    classes, y_true, p, t, y_pred = _arrays(analyzed)
    summary = json.loads((analyzed / paths.ANALYSIS_SUMMARY).read_text())
    f1 = f1_score(y_true, y_pred, average=None, zero_division=0)
    weak = _csv(analyzed, paths.WEAK_CLASSES)
    defined = (y_true | y_pred).any(axis=0)  # else F1 is undefined (null) and never weak
    assert set(weak["class"]) == {name for name, v, ok in zip(classes, f1, defined)
                                  if ok and v < summary["weak_f1_floor"]}
    assert weak["false_alarms"].tolist() == [(y_pred & ~y_true)[:, classes.index(c)].sum()
                                             for c in weak["class"]]
    suspects = _csv(analyzed, paths.LABEL_SUSPECTS)
    got = {(r.position, classes.index(r.label), r.suggestion) for r in suspects.itertuples()}
    assert got == _brute_force_suspects(p, y_true.astype(np.uint8))
    assert suspects["rank"].tolist() == list(range(1, len(suspects) + 1))


def test_stage_galleries_and_mlflow(analyzed):
    import mlflow

    classes, y_true, p, t, y_pred = _arrays(analyzed)
    summary = json.loads((analyzed / paths.ANALYSIS_SUMMARY).read_text())
    galleries = summary["galleries"]
    assert galleries[0]["key"] == "most_wrong_labels"
    assert galleries[0]["file"] == str(paths.GALLERY_PNG)
    assert galleries[0]["count"] == (y_true != y_pred).any(axis=1).sum()
    assert all((analyzed / g["file"]).read_bytes()[:4] == b"\x89PNG" if g["file"]
               else g["images"] == 0 for g in galleries)
    missed = {g["class"]: g["count"] for g in galleries if g["kind"] == "missed"}
    alarms = {g["class"]: g["count"] for g in galleries if g["kind"] == "false_alarms"}
    for name, count in missed.items():
        assert count == (y_true & ~y_pred)[:, classes.index(name)].sum()
        assert alarms[name] == (y_pred & ~y_true)[:, classes.index(name)].sum()
    index = _csv(analyzed, paths.GALLERY_INDEX)
    assert len(index) == sum(g["images"] for g in galleries)
    ref = json.loads((analyzed / paths.RUN_REF).read_text())
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{analyzed / 'mlflow.db'}")
    logged = client.get_run(ref["run_id"]).data.metrics
    assert logged["n_misclassified"] == summary["n_misclassified"]
    assert logged["n_label_suspects"] == summary["n_label_suspects"]
