"""The analyze stage for a multi-label run (its prediction table lists label sets), in the
multi-class run's files (`analysis.multilabel` says how each is judged):

- correct.csv / misclassified.csv: images whose predicted set equals the true set or not (the
  prediction table's columns and `certainty`, the least certain decision); most wrong labels
  first in misclassified;
- confused_pairs.csv / confused_pairs_symmetric.csv: from the evaluate stage's cross-label
  counts (confusion_matrix.json): images carrying a on which b is predicted without being true;
- low_confidence.csv / confidently_wrong.csv: (image, label) decisions by certainty, cut at
  `analyze.low_confidence` and `analyze.confident_wrong`;
- weak_classes.csv: labels with F1 under `analyze.weak_f1` (all_metrics.json's per-label
  numbers) and the labels they are confused with;
- label_suspects.csv: (image, label) annotation suspects in both directions, ranked;
- galleries/ and misclassified_gallery.png (the images with the most wrong labels),
  galleries.csv and summary.json, as the multi-class stage writes them.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np

from classlens import paths
from classlens.analysis import (
    build_multilabel_galleries,
    confidently_wrong_decisions,
    cross_label_pairs,
    label_decisions,
    low_confidence_decisions,
    multilabel_caption,
    multilabel_suspects,
    split_by_exact_match,
    symmetric_cross_label_pairs,
    weak_labels,
    with_image_columns,
)
from classlens.atomic import atomic_dir, save_figure, write_csv, write_json
from classlens.config import Config
from classlens.data.prepared import load_classes, load_split
from classlens.errors import InputError
from classlens.evaluation import results
from classlens.evaluation.predictions import MULTILABEL_COLUMNS, read_array
from classlens.serving.preprocessing import PreprocessingRecord
from classlens.task import decisions
from classlens.tracking.log import log_image_table, log_metrics, log_table, replace_artifacts
from classlens.tracking.runs import stage_run

IMAGE_LIST_COLUMNS = [*MULTILABEL_COLUMNS, "certainty"]
INDEX_COLUMNS = ["gallery", "kind", "rank", "id", "path", "position", "true_labels",
                 "pred_labels", "label", "probability", "threshold"]
CERTAINTY = ("distance of a label's probability from its threshold as a share of the way to 0 "
             "(below) or 1 (above): 0 at the threshold, 1 at the end")


def _inputs(table, classes: list[str]):
    """Labels, probabilities, thresholds, per-label metrics and cross-label counts, checked
    against the table (one line naming the stale file)."""
    n, k = len(table), len(classes)
    test = load_split("test")
    y_true = np.asarray(test.labels).astype(bool)
    if y_true.shape != (n, k):
        raise InputError(f"{paths.PREDICTIONS}: {n} rows but the prepared test labels are "
                         f"{y_true.shape}; re-run `dvc repro predict`")
    probabilities = read_array(paths.PROBABILITIES, shape=(n, k))
    thresholds = np.asarray(PreprocessingRecord.read(paths.PREPROCESSING).threshold_values,
                            dtype=np.float64)
    if thresholds.shape != (k,):
        raise InputError(f"{paths.PREPROCESSING}: key 'thresholds.values' must hold {k} "
                         f"thresholds (one per label); received {len(thresholds)}; re-run "
                         "`dvc repro train`")
    if (decisions(probabilities, thresholds).sum(axis=1) != table["n_pred"].to_numpy()).any():
        raise InputError(f"{paths.PREDICTIONS}: its predicted label sets differ from "
                         f"{paths.PROBABILITIES} at the thresholds of {paths.PREPROCESSING}; "
                         "re-run `dvc repro predict`")
    per_class = results.load(paths.ALL_METRICS).per_class
    if set(per_class) != set(classes):
        raise InputError(f"{paths.ALL_METRICS}: its labels differ from {paths.CLASSES}; re-run "
                         "`dvc repro evaluate`")
    if not paths.CONFUSION_MATRIX.exists():
        raise InputError(f"{paths.CONFUSION_MATRIX}: not found; run the evaluate stage first "
                         "(`dvc repro evaluate`)")
    confusion = json.loads(paths.CONFUSION_MATRIX.read_text(encoding="utf-8"))
    counts = np.asarray(confusion["counts"])
    if not confusion.get("multilabel") or counts.shape != (k, k):
        raise InputError(f"{paths.CONFUSION_MATRIX}: key 'counts' must be the {k} x {k} "
                         f"cross-label counts of a multi-label run; received shape "
                         f"{counts.shape}; re-run `dvc repro evaluate`")
    return (test, y_true, probabilities, thresholds,
            {name: per_class[name] for name in classes}, counts)


def run(cfg: Config, table) -> None:
    import pandas as pd

    from classlens.figures import images as figures

    an = cfg.analyze
    classes = load_classes()
    test, y_true, probabilities, thresholds, per_class, counts = _inputs(table, classes)
    support = y_true.sum(axis=0)

    correct, wrong = split_by_exact_match(table, probabilities, thresholds)
    decisions = label_decisions(table, probabilities, y_true, thresholds, classes)
    hesitant = low_confidence_decisions(decisions, threshold=an.low_confidence)
    sure_wrong = confidently_wrong_decisions(decisions, threshold=an.confident_wrong)
    pairs = cross_label_pairs(counts, support, classes)
    sym_pairs = symmetric_cross_label_pairs(counts, support, classes)
    weak = weak_labels(per_class, counts, f1_floor=an.weak_f1)
    suspects = with_image_columns(
        multilabel_suspects(probabilities, y_true, classes, method=an.suspect_score), table)
    suspects = suspects.assign(rank=np.arange(1, len(suspects) + 1))
    f1_order = sorted(classes, key=lambda n: (per_class[n]["f1"] is None,
                                              per_class[n]["f1"] or 0.0))
    galleries = build_multilabel_galleries(
        pd.concat([correct, wrong]),
        probabilities, y_true, thresholds, pairs, suspects, label_names=classes,
        size=an.gallery_size, top_pairs=an.top_pairs, pair_size=an.pair_gallery_size,
        class_order=f1_order[:an.max_class_galleries], class_size=an.class_gallery_size)
    index = _gallery_index(galleries)
    n_wrong_decisions = int((~decisions["correct"]).sum())
    summary = {
        "multilabel": True, "n_test": int(len(table)), "n_correct": int(len(correct)),
        "n_misclassified": int(len(wrong)), "n_decisions": int(len(decisions)),
        "n_wrong_decisions": n_wrong_decisions, "certainty": CERTAINTY,
        "n_low_confidence": int(len(hesitant)), "low_confidence_threshold": an.low_confidence,
        "n_confidently_wrong": int(len(sure_wrong)),
        "confidently_wrong_threshold": an.confident_wrong,
        "weak_f1_floor": an.weak_f1, "weak_classes": weak["class"].tolist(),
        "n_label_suspects": int(len(suspects)), "suspect_score": an.suspect_score,
        "galleries": [_gallery_entry(g) for g in galleries],
    }

    with atomic_dir(paths.ANALYSIS_DIR) as out:
        write_csv(out / paths.CORRECT.name, correct[IMAGE_LIST_COLUMNS])
        write_csv(out / paths.MISCLASSIFIED.name, wrong[IMAGE_LIST_COLUMNS])
        write_csv(out / paths.CONFUSED_PAIRS.name, pairs)
        write_csv(out / paths.CONFUSED_PAIRS_SYMMETRIC.name, sym_pairs)
        write_csv(out / paths.LOW_CONFIDENCE.name, hesitant)
        write_csv(out / paths.CONFIDENTLY_WRONG.name, sure_wrong)
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
                        figures.image_grid(
                            test.images[shown["position"].to_numpy()],
                            [multilabel_caption(r, gallery.kind) for _, r in shown.iterrows()],
                            suptitle=gallery.title))

    with stage_run(paths.RUN_REF, asdict(cfg)):
        log_metrics({"n_misclassified": len(wrong), "n_correct": len(correct),
                     "n_wrong_decisions": n_wrong_decisions,
                     "n_low_confidence": len(hesitant),
                     "n_confidently_wrong": len(sure_wrong),
                     "n_weak_classes": len(weak), "n_label_suspects": len(suspects)})
        replace_artifacts(
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
    print(f"analyze: {len(wrong)} of {len(table)} images not exactly matched "
          f"({n_wrong_decisions} wrong label decisions); most confused: {top}; "
          f"{len(weak)} weak labels; {len(suspects)} label suspects")


def _gallery_entry(g) -> dict:
    """The summary's record of a gallery; `file` is None when it shows no image (none drawn)."""
    entry = {"key": g.key, "title": g.title, "kind": g.kind, "count": int(g.count),
             "images": int(len(g.rows)),
             "file": str(_gallery_png(g.key)) if len(g.rows) else None}
    if g.class_name is not None:
        entry["class"] = g.class_name
    return entry


def _gallery_png(key: str):
    """The errors gallery is misclassified_gallery.png, as in a multi-class run."""
    return paths.GALLERY_PNG if key == "most_wrong_labels" else paths.GALLERIES_DIR / f"{key}.png"


def _gallery_index(galleries):
    """One row per gallery image (`INDEX_COLUMNS`); the label a gallery is about, its probability
    and threshold are empty for the errors and correct galleries."""
    import pandas as pd

    frames = [g.rows.assign(gallery=g.key, kind=g.kind, rank=np.arange(1, len(g.rows) + 1))
              .reindex(columns=INDEX_COLUMNS) for g in galleries if len(g.rows)]
    if not frames:
        return pd.DataFrame(columns=INDEX_COLUMNS)
    return pd.concat(frames, ignore_index=True)[INDEX_COLUMNS]
