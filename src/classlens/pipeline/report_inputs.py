"""What the report stage reads, part by part: the title (options and run name), the training
summary line, the data report, the explanation figures with their captions, the per-class
galleries both ways; and the small readers they share (a missing file is an InputError naming
it). `classlens.pipeline.report` assembles the parts into the page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from classlens import paths
from classlens.config import Config
from classlens.data import report as data_report
from classlens.errors import InputError
from classlens.evaluation.results import Metrics
from classlens.formatting import format_number, plural
from classlens.reporting.html import Figure, Table
from classlens.reporting.report_galleries import ClassGalleries
from classlens.training import summary as training_summary

LIST_ROWS = 50  # rows of each long list shown in the report (the CSVs hold them all)
GALLERY_SCALE = 0.5  # image galleries are drawn large (one 8x8 digit is 400 px wide): halved


def need(path: Path) -> Path:
    if not path.exists():
        raise InputError(f"{path}: not found; run the stage that writes it first (`dvc repro`)")
    return path


def read_json(path: Path) -> dict:
    return json.loads(need(path).read_text(encoding="utf-8"))


def read_csv(path: Path, caption: str = "", note: str = "", *, head: Optional[int] = LIST_ROWS,
             empty: str = "none") -> Table:
    """A CSV as a report table: its first `head` rows (the total kept), columns that are empty
    in every shown row left out (a `path` column of an array source)."""
    import pandas as pd

    frame = pd.read_csv(need(path), keep_default_na=False, na_values=[""])
    total = len(frame)
    if head is not None:
        frame = frame.head(head)
    frame = frame.loc[:, frame.notna().any() | (len(frame) == 0)]  # no column of dashes only
    rows = [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
            for r in frame.to_dict("records")]
    return Table(caption or path.name, rows, columns=list(frame.columns), note=note, total=total,
                 empty=empty)


def figure_file(path: Path, caption: str, **kw) -> list[Figure]:
    """[the PNG at `path` as a Figure], or [] when the stage did not draw it."""
    return [Figure(caption, path.read_bytes(), **kw)] if path.exists() else []


def title(cfg: Config, run: Optional[str]) -> str:
    """"cnn_small on digits — exp-name": the options that ran and the run's name (as
    `classlens.tracking.runs.run_name` gives it)."""
    train = cfg.train.name
    return (f"{cfg.model.name} on {cfg.data.name}"
            + (f", train {train}" if train != "default" else "")
            + (f" \u2014 {run}" if run else ""))


def training_part(history_path: Path = paths.HISTORY) -> list[str]:
    """One line on how training went, from models/history.csv."""
    import pandas as pd

    if not history_path.exists():
        return []
    history = pd.read_csv(history_path)
    facts = training_summary.headline(history, training_summary.best_epoch(history))
    run = facts["epochs_run"]
    if not run:
        return ["A provided model: no epochs were trained here (one scoring pass on the "
                "validation split)."]
    phases = history.loc[history["phase"] > 0, "phase"].value_counts().sort_index()
    split = (" (" + ", ".join(f"phase {p}: {n}" for p, n in phases.items()) + ")"
             if len(phases) > 1 else "")
    line = (f"{plural(run, 'epoch')} run{split}; best epoch {facts['best_epoch']} "
            f"by validation loss (val loss {facts['best_val_loss']:.4f}, val accuracy "
            f"{facts['best_val_accuracy']:.4f}).")
    if "learning_rate" in history:
        first, last = (format_number(v, name="learning_rate")
                       for v in history.loc[history["phase"] > 0, "learning_rate"].iloc[[0, -1]])
        line += (f" Learning rate {first} throughout." if first == last else
                 f" Learning rate {first} at the start, {last} at the end.")
    return [line]


def data_part(root: Path = paths.PREPARED_REPORT) -> tuple[list[str], list[Table], list[Table]]:
    """Sentences, the class counts per split and the lists (skipped files, duplicates across
    splits, label conflicts; only those that are not empty) of the data report the prepare
    stage wrote."""
    s = read_json(root / data_report.SUMMARY)
    order = {split: i for i, split in enumerate(paths.SPLITS)}
    sizes = dict(sorted(s.get("split_sizes", {}).items(), key=lambda kv: order.get(kv[0], 9)))
    shape = "\u00d7".join(str(d) for d in s.get("image_shape", []))
    notes = [f"{s.get('images_used', sum(sizes.values())):,} images from {s.get('source')}: "
             + ", ".join(f"{split} {n:,}" for split, n in sizes.items())
             + (f"; prepared image shape {shape}." if shape else ".")]
    skipped = read_csv(root / data_report.SKIPPED, "Skipped files",
                   f"{s.get('skipped_share', 0):.1%} of the listed images.", empty="")
    duplicates = read_csv(root / data_report.DUPLICATES, "Identical images in two splits",
                      "the test split overlaps what the model saw", empty="")
    conflicts = read_csv(root / data_report.LABEL_CONFLICTS, "Identical images, different labels",
                         "one image cannot be both; check these labels", empty="")
    notes.append(("No files skipped." if not skipped.rows else "")
                 + (" No identical images across splits." if not duplicates.rows else "")
                 + (" No identical images with different labels." if not conflicts.rows else ""))
    notes += [f"Warning: {w}" for w in s.get("warnings", [])]
    counts = dict(sorted(s.get("counts", {}).items(), key=lambda kv: order.get(kv[0], 9)))
    classes = list(next(iter(counts.values()), {}))
    kind = "label" if s.get("multilabel") else "class"  # multi-label: images carrying each
    rows = [{kind: c, **{split: counts[split].get(c, 0) for split in counts},
             "total": sum(counts[split].get(c, 0) for split in counts)} for c in classes]
    if s.get("no_label"):
        no_label = {split: s["no_label"].get(split, 0) for split in counts}
        rows.append({kind: "(no label)", **no_label, "total": sum(no_label.values())})
    tables = [Table(f"Images per {kind} and split", rows)]
    lists = [t for t in (skipped, duplicates, conflicts) if t.rows]
    return [n.strip() for n in notes if n.strip()], tables, lists


_EXPLAIN_CAPTIONS = {
    "comparison": ("Methods side by side", "Every method's map on the same images."),
    "deletion_insertion": ("Deletion and insertion", "Predicted-class probability as pixels are "
                           "removed (or added) in each map's order, against random orders."),
    "randomization": ("Model randomisation", "How much each method's maps change as the "
                      "model's layers are re-initialised (a faithful method changes a lot)."),
}


def explain_figures(root: Path = paths.EXPLAIN_DIR, listing: Path = paths.EXPLAIN_FIGURES
                    ) -> tuple[list[Figure], list[Figure]]:
    """(one figure per attribution method, the other figures: comparison, faithfulness,
    randomisation, activations), in the explain stage's order with its captions; without its
    list, the PNGs with captions from their names."""
    if listing.exists():
        entries = [e for e in json.loads(listing.read_text(encoding="utf-8"))
                   if Path(e["file"]).exists()]
        figures = [(e.get("kind") == "method",
                    Figure(e.get("caption", ""), Path(e["file"]).read_bytes(),
                           title=e.get("title", ""), width=e.get("width", "half")))
                   for e in entries]
    else:
        figures = [(png.stem.startswith("overlay_"), _named_figure(png))
                   for png in (sorted(root.glob("*.png")) if root.is_dir() else [])]
    return [f for method, f in figures if method], [f for method, f in figures if not method]


def _named_figure(png: Path) -> Figure:
    stem = png.stem
    if stem.startswith("overlay_"):
        name = stem[len("overlay_"):].replace("_", " ")
        return Figure(f"{name} attribution maps of the explained test images.", png.read_bytes(),
                      title=name, width="full")
    if stem.startswith("activations_"):
        layer = stem[len("activations_"):].replace("__", "/")
        return Figure("Feature maps of the layer.", png.read_bytes(),
                      title=f"Activations of {layer}", width="full")
    head, text = _EXPLAIN_CAPTIONS.get(stem, (stem.replace("_", " "), ""))
    return Figure(text, png.read_bytes(), title=head)


def class_galleries(metrics: Metrics, analysis: dict, confusion: dict) -> list[ClassGalleries]:
    """Every class both ways (missed / false alarms), weakest F1 first, with the analyze
    stage's galleries where it drew them."""
    import numpy as np

    names = [str(c) for c in confusion["classes"]]
    counts = np.asarray(confusion["counts"])
    figures: dict[tuple[str, str], Figure] = {}
    for g in analysis.get("galleries", []):
        kind = {"class": "missed"}.get(g["kind"], g["kind"])  # "class": the older layout
        name = g.get("class") or (g["key"][len("class_"):] if g["kind"] == "class" else None)
        if kind in ("missed", "false_alarms") and g.get("file") and Path(g["file"]).exists():
            figures[(str(name), kind)] = Figure(g["title"], Path(g["file"]).read_bytes(),
                                                scale=GALLERY_SCALE, titled=True)
    # a multi-label run's counts are cross-label: each label's own 2x2 is under `per_label`
    per_label = confusion.get("per_label") or {}
    out = []
    for i, name in enumerate(names):
        values = metrics.per_class.get(name, {})
        own = per_label.get(name)
        support, missed, false_alarms = (
            (own["tp"] + own["fn"], own["fn"], own["fp"]) if own else
            (counts[i].sum(), counts[i].sum() - counts[i, i], counts[:, i].sum() - counts[i, i]))
        out.append(ClassGalleries(
            name=name, support=int(support), missed=int(missed),
            false_alarms=int(false_alarms),
            precision=values.get("precision"), recall=values.get("recall"),
            missed_figure=figures.get((name, "missed")),
            false_alarm_figure=figures.get((name, "false_alarms"))))
    f1 = {c.name: metrics.per_class.get(c.name, {}).get("f1") for c in out}
    return sorted(out, key=lambda c: (-1.0 if f1[c.name] is None else f1[c.name]))


def gallery_figures(analysis: dict, kinds: tuple[str, ...]) -> list[Figure]:
    return [Figure(g["title"], Path(g["file"]).read_bytes(), scale=GALLERY_SCALE, titled=True)
            for g in analysis.get("galleries", [])
            if g["kind"] in kinds and g.get("images") and g.get("file")
            and Path(g["file"]).exists()]
