"""The data report the prepare stage writes beside the prepared data (`data/prepared/report/`):

    summary.json       source, images used / skipped, class counts per split, image size
                       statistics (before conforming), modes and formats, the warnings
    skipped.csv        path, reason, counted: every file or manifest row not used, and why
    duplicates.csv     images with identical pixels in two splits
    label_conflicts.csv  images with identical pixels under two labels (any splits), both
                       labels and both ids
    class_counts.png   images per class and split
    samples.png        a few training images of every class

Multi-label data: the summary adds `"multilabel": true` and `no_label` (images without a label
per split; `counts` are images carrying each label), and both figures add a "(no label)" entry.

This module computes what the report shows; the prepare stage (`classlens.pipeline.prepare`)
writes the files and draws the figures. The train stage logs the folder into the MLflow run.
"""

from __future__ import annotations

from collections import Counter
import numpy as np


REPORT_DIR = "report"
SUMMARY = "summary.json"
SKIPPED = "skipped.csv"
DUPLICATES = "duplicates.csv"
LABEL_CONFLICTS = "label_conflicts.csv"
CLASS_COUNTS_PNG = "class_counts.png"
SAMPLES_PNG = "samples.png"
SAMPLES_PER_CLASS = 6
MAX_CLASSES_SHOWN = 50
NO_LABEL = "(no label)"  # how the figures name the images of multi-label data without a label


def size_statistics(widths: np.ndarray, heights: np.ndarray) -> dict:
    """Min / median / mean / max of the source widths and heights, and the commonest sizes."""
    if len(widths) == 0:
        return {"images": 0}
    stats: dict = {"images": int(len(widths))}
    for name, values in (("width", widths), ("height", heights)):
        stats[name] = {"min": int(values.min()), "median": float(np.median(values)),
                       "mean": round(float(values.mean()), 2), "max": int(values.max())}
    sizes = Counter(zip(widths.tolist(), heights.tolist()))
    stats["distinct_sizes"] = len(sizes)
    stats["most_common_sizes"] = [{"width": w, "height": h, "images": n}
                                  for (w, h), n in sizes.most_common(5)]
    return stats


def sample_positions(labels: np.ndarray, num_classes: int, *,
                     per_class: int = SAMPLES_PER_CLASS) -> list[list[int]]:
    """The first `per_class` positions of every class among `labels` (one list per class);
    multi-hot (N, K) `labels`: of the images carrying each label, then one more list, of the
    images carrying none (`NO_LABEL`)."""
    if labels.ndim == 2:
        carrying = [np.flatnonzero(labels[:, c])[:per_class].tolist() for c in range(num_classes)]
        return carrying + [np.flatnonzero(~labels.any(axis=1))[:per_class].tolist()]
    return [np.flatnonzero(labels == c)[:per_class].tolist() for c in range(num_classes)]


def counts_with_no_label(counts: dict[str, dict[str, int]],
                         no_label: dict[str, int]) -> dict[str, dict[str, int]]:
    """{split: {class: images}} with a last `NO_LABEL` entry per split, for the class counts
    figure of multi-label data."""
    return {split: {**per_class, NO_LABEL: no_label[split]} for split, per_class in counts.items()}
