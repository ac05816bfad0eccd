"""The data report the prepare stage writes beside the prepared data (`data/prepared/report/`):

    summary.json       source, images used / skipped, class counts per split, image size
                       statistics (before conforming), modes and formats, the warnings
    skipped.csv        path, reason, counted: every file or manifest row not used, and why
    duplicates.csv     images with identical pixels in two splits
    class_counts.png   images per class and split
    samples.png        a few training images of every class

The train stage logs the folder into the MLflow run (the run does not exist yet here).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from classlens.atomic import save_figure, write_csv, write_json
from classlens.data.source import Skipped

REPORT_DIR = "report"
SUMMARY = "summary.json"
SKIPPED = "skipped.csv"
DUPLICATES = "duplicates.csv"
CLASS_COUNTS_PNG = "class_counts.png"
SAMPLES_PNG = "samples.png"
SAMPLES_PER_CLASS = 6
MAX_CLASSES_SHOWN = 50


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
    """The first `per_class` positions of every class among `labels` (one list per class)."""
    return [np.flatnonzero(labels == c)[:per_class].tolist() for c in range(num_classes)]


def write_report(out_dir: Path, *, summary: dict, skipped: list[Skipped], duplicates,
                 counts: dict[str, dict[str, int]], class_names: list[str],
                 train_images, train_labels: np.ndarray) -> None:
    """Write the report files into `out_dir` (see the module docstring)."""
    import pandas as pd

    from classlens.figures import images as figures
    from classlens.data.rows import read_rows

    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / SUMMARY, summary)
    write_csv(out_dir / SKIPPED, pd.DataFrame(
        [(s.path, s.reason, s.counted) for s in skipped], columns=["path", "reason", "counted"]))
    write_csv(out_dir / DUPLICATES, duplicates)
    save_figure(out_dir / CLASS_COUNTS_PNG, figures.class_counts_chart(counts))

    shown = min(len(class_names), MAX_CLASSES_SHOWN)
    samples = [read_rows(train_images, np.asarray(positions, dtype=np.int64))
               for positions in sample_positions(train_labels, shown)]
    more = f" (first {shown} of {len(class_names)} classes)" if shown < len(class_names) else ""
    save_figure(out_dir / SAMPLES_PNG, figures.class_samples_grid(
        samples, class_names[:shown], title=f"Training images per class{more}"))
