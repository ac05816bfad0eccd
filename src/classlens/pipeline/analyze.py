"""Stage `analyze`: where the model fails, from the prediction table and probabilities alone:
correct/misclassified lists, confused pairs, hesitant and confidently wrong predictions, weak
classes with a diagnosis, label-issue suspects, and the galleries (PNG grids + an MLflow table
with images). Per-class F1 and the confusion counts come from the evaluate stage's one result.
A multi-label run (label sets) is analysed by `analyze_multilabel` into the same files."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np

from classlens import paths
from classlens.analysis import (
    build_galleries,
    caption,
    confidently_wrong,
    confused_pairs,
    label_suspects,
    low_confidence,
    split_by_correctness,
    symmetric_pairs,
    weak_classes,
)
from classlens.atomic import atomic_dir, save_figure, write_csv, write_json
from classlens.config import Config
from classlens.data.prepared import load_classes, load_split
from classlens.errors import InputError
from classlens.evaluation import results
from classlens.evaluation.predictions import read_array, read_predictions
from classlens.tracking.log import log_image_table, log_metrics, log_table, replace_artifacts
from classlens.tracking.runs import stage_run

# prediction-table columns kept in the lists (ids and source paths first)
LIST_COLUMNS = ["id", "path", "position", "true_label", "pred_label", "confidence", "margin",
                "entropy", "loss", "correct"]


def _evaluate_results(classes: list[str]) -> tuple[dict, np.ndarray]:
    """Per-class metrics (all_metrics.json) and confusion counts (confusion_matrix.json)."""
    per_class = results.load(paths.ALL_METRICS).per_class
    if not paths.CONFUSION_MATRIX.exists():
        raise InputError(f"{paths.CONFUSION_MATRIX}: not found; run the evaluate stage first "
                         "(`dvc repro evaluate`)")
    counts = np.asarray(json.loads(paths.CONFUSION_MATRIX.read_text(encoding="utf-8"))["counts"])
    if set(per_class) != set(classes):
        raise InputError(f"{paths.ALL_METRICS}: its classes differ from {paths.CLASSES}; re-run "
                         "`dvc repro evaluate`")
    return {name: per_class[name] for name in classes}, counts


def run(cfg: Config) -> None:
    from classlens.figures import images as figures

    an = cfg.analyze
    classes = load_classes()
    table = read_predictions(paths.PREDICTIONS)
    if "true_labels" in table.columns:  # a multi-label run's table (label sets)
        from classlens.pipeline import analyze_multilabel

        return analyze_multilabel.run(cfg, table)
    probabilities = read_array(paths.PROBABILITIES, shape=(len(table), len(classes)))
    per_class, counts = _evaluate_results(classes)
    test = load_split("test")
    y_true, y_pred = table["true"].to_numpy(), table["pred"].to_numpy()

    correct, wrong = split_by_correctness(table)
    pairs = confused_pairs(y_true, y_pred, classes)
    sym_pairs = symmetric_pairs(y_true, y_pred, classes)
    hesitant = low_confidence(table, threshold=an.low_confidence)
    sure_wrong = confidently_wrong(table, threshold=an.confident_wrong)
    weak = weak_classes(per_class, counts, f1_floor=an.weak_f1)
    suspects = _suspect_rows(table, probabilities, classes, score=an.suspect_score)
    f1_order = sorted(classes, key=lambda n: (per_class[n]["f1"] is None,
                                              per_class[n]["f1"] or 0.0))
    galleries = build_galleries(table, pairs, suspects, size=an.gallery_size,
                                top_pairs=an.top_pairs, pair_size=an.pair_gallery_size,
                                class_order=f1_order[:an.max_class_galleries],
                                class_size=an.class_gallery_size, classes=classes)
    index = _gallery_index(galleries)
    summary = {
        "n_test": int(len(table)), "n_correct": int(len(correct)),
        "n_misclassified": int(len(wrong)),
        "n_low_confidence": int(len(hesitant)), "low_confidence_threshold": an.low_confidence,
        "n_confidently_wrong": int(len(sure_wrong)),
        "confidently_wrong_threshold": an.confident_wrong,
        "weak_f1_floor": an.weak_f1, "weak_classes": weak["class"].tolist(),
        "n_label_suspects": int(len(suspects)), "suspect_score": an.suspect_score,
        "galleries": [_gallery_entry(g) for g in galleries],
    }

    with atomic_dir(paths.ANALYSIS_DIR) as out:
        write_csv(out / paths.CORRECT.name, correct[LIST_COLUMNS])
        write_csv(out / paths.MISCLASSIFIED.name, wrong[LIST_COLUMNS])
        write_csv(out / paths.CONFUSED_PAIRS.name, pairs)
        write_csv(out / paths.CONFUSED_PAIRS_SYMMETRIC.name, sym_pairs)
        write_csv(out / paths.LOW_CONFIDENCE.name, hesitant[LIST_COLUMNS])
        write_csv(out / paths.CONFIDENTLY_WRONG.name, sure_wrong[LIST_COLUMNS])
        write_csv(out / paths.WEAK_CLASSES.name, weak)
        write_csv(out / paths.LABEL_SUSPECTS.name, suspects)
        write_csv(out / paths.GALLERY_INDEX.name, index)
        write_json(out / paths.ANALYSIS_SUMMARY.name, summary)
        (out / paths.GALLERIES_DIR.name).mkdir()
        for gallery in galleries:
            shown = gallery.rows
            if not len(shown):  # nothing to draw: the summary says count 0 and no file
                continue
            save_figure(out / _gallery_png(gallery.key).relative_to(paths.ANALYSIS_DIR),
                        figures.image_grid(test.images[shown["position"].to_numpy()],
                                           [caption(r, gallery.kind) for _, r in shown.iterrows()],
                                           suptitle=gallery.title))

    with stage_run(paths.RUN_REF, asdict(cfg)):
        log_metrics({"n_misclassified": len(wrong), "n_correct": len(correct),
                     "n_low_confidence": len(hesitant),
                     "n_confidently_wrong": len(sure_wrong),
                     "n_weak_classes": len(weak), "n_label_suspects": len(suspects)})
        replace_artifacts(  # no errors at all: no misclassified_gallery.png
            [p for p in (paths.CORRECT, paths.MISCLASSIFIED, paths.CONFUSED_PAIRS,
                         paths.CONFUSED_PAIRS_SYMMETRIC, paths.LOW_CONFIDENCE,
                         paths.CONFIDENTLY_WRONG, paths.WEAK_CLASSES, paths.LABEL_SUSPECTS,
                         paths.GALLERY_INDEX, paths.ANALYSIS_SUMMARY, paths.GALLERY_PNG,
                         paths.GALLERIES_DIR) if p.exists()], "analyze")
        log_table(pairs.head(an.top_pairs), "analyze/top_confused_pairs.json")
        log_table(sym_pairs.head(an.top_pairs), "analyze/top_confused_pairs_symmetric.json")
        log_table(weak, "analyze/weak_classes.json")
        log_image_table(index.assign(image=list(test.images[index["position"].to_numpy()])),
                        "analyze/galleries.json")
    top = ", ".join(f"{r.true_label}->{r.pred_label} ({r.count})"
                    for r in pairs.head(3).itertuples()) or "none"
    print(f"analyze: {len(wrong)} misclassified of {len(table)}; most confused: {top}; "
          f"{len(weak)} weak classes; {len(suspects)} label suspects")


def _suspect_rows(table, probabilities, classes, *, score: str):
    """Label suspects joined to the prediction table (ids, paths, given/suggested names)."""
    found = label_suspects(probabilities, table["true"].to_numpy(), method=score)
    rows = table.iloc[found["position"].to_numpy()].reset_index(drop=True)
    names = np.asarray(classes, dtype=object)
    return rows[["id", "path", "position", "true_label", "pred_label", "confidence"]].assign(
        suggested_label=names[found["suggested"].to_numpy()] if len(found) else [],
        self_confidence=found["self_confidence"].to_numpy(),
        class_threshold=found["threshold"].to_numpy(),
        score=found["score"].to_numpy(),
        rank=np.arange(1, len(found) + 1),
    )


def _gallery_entry(g) -> dict:
    """The summary's record of a gallery; `file` is None when it shows no image (none drawn)."""
    entry = {"key": g.key, "title": g.title, "kind": g.kind, "count": int(g.count),
             "images": int(len(g.rows)),
             "file": str(_gallery_png(g.key)) if len(g.rows) else None}
    if g.class_name is not None:
        entry["class"] = g.class_name
    return entry


def _gallery_png(key: str):
    return paths.GALLERY_PNG if key == "most_confident_errors" else (
        paths.GALLERIES_DIR / f"{key}.png")


def _gallery_index(galleries):
    """One row per gallery image: gallery, kind, rank, id, path, true, predicted, confidence
    (a gallery with no image has no row)."""
    import pandas as pd

    frames = []
    for g in galleries:
        rows = g.rows[["id", "path", "position", "true_label", "pred_label", "confidence"]]
        frames.append(rows.assign(gallery=g.key, kind=g.kind, rank=np.arange(1, len(rows) + 1)))
    columns = ["gallery", "kind", "rank", "id", "path", "position", "true_label", "pred_label",
               "confidence"]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]
