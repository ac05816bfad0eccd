"""`classlens compare A B`: two experiments side by side, as Markdown (printed) and HTML.

A and B are what `tracking.runs.find_run` accepts (MLflow run ids, DVC experiment names...).
Every number comes from the runs' artifacts, never from MLflow's latest metric values (a
per-epoch key can shadow a test number there): the full metrics file
(`evaluate/all_metrics.json`; runs logged before the metrics split have it as
`evaluate/metrics.json`), the confusion matrix (`evaluate/confusion_matrix.json`), the gate's
verdict (`gate/gate.json`, when the run was gated) and the prediction table
(`predict/predictions.csv`). Only the last logged `train/*`, `val/*` and `learning_rate` values
(the training's final loss, learning rate...) come from MLflow's metrics, in the full table.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from classlens.atomic import write_text
from classlens.errors import InputError
from classlens.evaluation import compare_multilabel as label_sets
from classlens.evaluation import results
from classlens.evaluation.compare import (HeadlineRow, PairedChange, aligned_confusions,
                                          confusion_movers, f1_movers, headline,
                                          flips, joined_predictions, metrics_side_by_side,
                                          params_diff, paired_change)
from classlens.reporting.compare_render import to_html, to_markdown
from classlens.tracking.options import TrackingConfig
from classlens.tracking.lookup import download_artifact, find_run, run_data

METRICS_ARTIFACTS = ("evaluate/all_metrics.json", "evaluate/metrics.json")  # new name first
CONFUSION_ARTIFACT = "evaluate/confusion_matrix.json"
GATE_ARTIFACT = "gate/gate.json"
PREDICTIONS_ARTIFACT = "predict/predictions.csv"
# MLflow metric keys of training shown with their last logged value (naming.epoch_metric_name)
TRAINING_PREFIXES, TRAINING_KEYS = ("train/", "val/"), ("learning_rate",)

__all__ = ["Comparison", "compare_runs", "to_html", "to_markdown", "write"]


@dataclass
class Side:
    """What the page shows of one run."""

    ref: str
    run_id: str
    params: dict[str, str]
    metrics: results.Metrics
    metrics_source: str  # the artifact the metrics came from
    training: dict[str, float]  # last logged train/* and val/* MLflow metrics
    confusion: Optional[dict]
    gate: Optional[dict]
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """What the user called the run; its MLflow name (else short id) when that was its id."""
        if self.ref != self.run_id:
            return self.ref
        return self.tags.get("mlflow.runName") or self.run_id[:8]

    @property
    def label(self) -> str:
        """`name (run id[:8])` with the model and data options when the run logged them:
        `one-epoch (2cd804f8) · cnn_small on digits`."""
        options = " on ".join(self.params[k] for k in ("model.name", "data.name")
                              if k in self.params)
        return f"{self.name} ({self.run_id[:8]})" + (f" · {options}" if options else "")

    @property
    def gate_text(self) -> str:
        if self.gate is None:
            return "no gate verdict logged"
        verdict = str(self.gate.get("verdict", "?"))
        named = list(self.gate.get("failed") or []) + list(self.gate.get("warned") or [])
        detail = (": " + ", ".join(named[:6]) + (" …" if len(named) > 6 else "")) if named else ""
        if verdict == "unusable":
            detail = f": {self.gate.get('reason', '')}"
        base = f" (vs {self.gate['baseline']})" if self.gate.get("baseline") else ""
        return f"{verdict}{detail}{base}"


@dataclass
class Comparison:
    a: Side
    b: Side
    headline: list[HeadlineRow]
    paired: Optional[PairedChange]
    params: Any  # DataFrame: param, A, B
    movers: Any  # DataFrame: class, support, f1_A, f1_B, change
    confusion_classes: list[str]
    confusion_pngs: tuple[bytes, ...]  # (A, B) heatmaps, empty with `confusion_note`
    confusion_movers: Any  # DataFrame or None
    right_to_wrong: Any
    wrong_to_right: Any
    gallery_png: Optional[bytes]
    metrics: Any  # DataFrame: metric, A, B, change (every number, last on the page)
    notes: list[str] = field(default_factory=list)  # what could not be shown, and why
    gallery_note: str = ""
    confusion_note: str = ""


def compare_runs(ref_a: str, ref_b: str, *, tracking_cfg: TrackingConfig, top: int = 10,
                 gallery_size: int = 16) -> Comparison:
    from classlens.evaluation.predictions import read_predictions

    with tempfile.TemporaryDirectory(prefix="classlens-compare-") as tmp:
        sides, tables = [], []
        for ref, sub in ((ref_a, "a"), (ref_b, "b")):
            run_id = find_run(ref, tracking=tracking_cfg)
            sides.append(_read_side(ref, run_id, Path(tmp) / sub))
            tables.append(read_predictions(download_artifact(
                run_id, PREDICTIONS_ARTIFACT, Path(tmp) / sub)))
    a, b = sides
    multilabel = ["true_labels" in t.columns for t in tables]
    if multilabel[0] != multilabel[1]:
        raise InputError(f"compare {ref_a} {ref_b}: one run is multi-label and the other is not; "
                         "compare runs of the same task")
    boot = a.metrics.bootstrap or b.metrics.bootstrap
    resampling = dict(resamples=(boot.resamples if boot and boot.resamples else 1000),
                      seed=(boot.seed if boot and boot.seed is not None else 0),
                      level=(boot.level if boot and boot.level else 0.95))
    notes = []
    try:
        joined = (label_sets.joined_label_sets if multilabel[0] else joined_predictions)(*tables)
    except ValueError as err:
        raise InputError(f"compare {ref_a} {ref_b}: {err}") from None
    if multilabel[0]:  # a flip is a changed label set (labels gained and lost)
        right_to_wrong, wrong_to_right, still_wrong = label_sets.label_set_flips(joined)
        classes = list(a.metrics.per_class)
        truth, pred_a, pred_b = (label_sets.label_sets(joined[c], classes) for c in
                                 ("true_labels", "pred_labels_A", "pred_labels_B"))
        paired = label_sets.paired_change(truth, pred_a, pred_b, **resampling)
        notes.append(f"{len(still_wrong)} more image(s) changed their predicted label set but "
                     "were not exactly right in either run (accuracy is exact match)")
    else:
        right_to_wrong, wrong_to_right = flips(joined)
        paired = paired_change(joined["true_label"].astype(str),
                               joined["pred_label_A"].astype(str),
                               joined["pred_label_B"].astype(str), list(a.metrics.per_class),
                               **resampling)
    comparison = Comparison(
        a=a, b=b, headline=headline(a.metrics, b.metrics, paired), paired=paired,
        params=params_diff(a.params, b.params),
        movers=f1_movers(a.metrics.per_class, b.metrics.per_class, top=top),
        confusion_classes=[], confusion_pngs=(), confusion_movers=None,
        right_to_wrong=right_to_wrong, wrong_to_right=wrong_to_right, gallery_png=None,
        metrics=metrics_side_by_side({**a.metrics.flat(), **a.training},
                                     {**b.metrics.flat(), **b.training}), notes=notes)
    _add_confusions(comparison, top)
    comparison.gallery_png, comparison.gallery_note = _flip_gallery(
        right_to_wrong, wrong_to_right, a.tags, b.tags, gallery_size)
    comparison.notes += [f"{side}: {s.metrics.calibration_note()}" for side, s in
                         (("A", a), ("B", b)) if s.metrics.calibration_note()]
    comparison.notes += [f"{side}: metrics from the older artifact {s.metrics_source} (logged "
                         "before the metrics split)" for side, s in (("A", a), ("B", b))
                         if s.metrics_source != METRICS_ARTIFACTS[0]]
    return comparison


def _read_side(ref: str, run_id: str, folder: Path) -> Side:
    params, logged, tags = run_data(run_id)
    text, source = None, METRICS_ARTIFACTS[0]
    for source in METRICS_ARTIFACTS:
        text = _artifact_text(run_id, source, folder)
        if text is not None:
            break
    if text is None:
        raise InputError(f"run {run_id} ({ref}): no {' or '.join(METRICS_ARTIFACTS)} artifact; "
                         "was its evaluate stage run?")
    metrics = results.loads(text, source=f"run {run_id}: {source}")
    confusion, gate = (_artifact_text(run_id, name, folder)
                       for name in (CONFUSION_ARTIFACT, GATE_ARTIFACT))
    training = {k: v for k, v in logged.items()
                if k.startswith(TRAINING_PREFIXES) or k in TRAINING_KEYS}
    return Side(ref, run_id, params, metrics, source, training,
                None if confusion is None else json.loads(confusion),
                None if gate is None else json.loads(gate), tags)


def _artifact_text(run_id: str, artifact: str, folder: Path) -> Optional[str]:
    """An artifact's text; None when the run has no such artifact."""
    try:
        return download_artifact(run_id, artifact, folder).read_text(encoding="utf-8")
    except InputError:
        return None


def _add_confusions(c: Comparison, top: int) -> None:
    """Both runs' row-normalised confusion heatmaps in one class order (A's), and the cells
    that moved most; a note instead when a run lacks the matrix or the classes differ."""
    from classlens.figures.evaluation import confusion_heatmap

    missing = [s.label for s in (c.a, c.b) if s.confusion is None]
    if missing:
        c.confusion_note = f"no {CONFUSION_ARTIFACT} artifact in {' and '.join(missing)}"
        return
    try:
        classes, matrix_a, matrix_b = aligned_confusions(c.a.confusion, c.b.confusion)
    except (ValueError, KeyError) as err:
        c.confusion_note = f"confusion matrices not comparable: {err}"
        return
    c.confusion_classes = classes
    c.confusion_pngs = tuple(
        _png(confusion_heatmap(m, classes, normalized=True,
                               title=f"{side}: row-normalised (recall)"))
        for side, m in (("A", matrix_a), ("B", matrix_b)))
    c.confusion_movers = confusion_movers(classes, matrix_a, matrix_b, top=top)


def _flip_gallery(right_to_wrong, wrong_to_right, tags_a, tags_b, size):
    """PNG bytes of the flipped images, or None with the reason (data not available locally)."""
    from classlens import paths
    from classlens.data.prepared import load_fingerprint, load_split
    from classlens.figures import images as figures

    if right_to_wrong.empty and wrong_to_right.empty:
        return None, "no prediction flipped"
    try:
        local = load_fingerprint()["digest"]
    except InputError:
        return None, f"no local {paths.PREPARED_DIR} to draw images from"
    if not (tags_a.get("data_fingerprint") == tags_b.get("data_fingerprint") == local):
        return None, "the runs were not trained on the local prepared data; gallery skipped"
    n_r2w = min(len(right_to_wrong), size // 2)
    shown = (list(right_to_wrong.head(n_r2w).itertuples())
             + list(wrong_to_right.head(size - n_r2w).itertuples()))
    images = load_split("test").images[[row.position for row in shown]]
    multilabel = "true_labels" in right_to_wrong.columns  # label sets: "" is no label
    titles = [f"{'R→W' if i < n_r2w else 'W→R'} true {_shown(r, 'true_label', multilabel)}\n"
              f"A {_shown(r, 'pred_label_A', multilabel)} → "
              f"B {_shown(r, 'pred_label_B', multilabel)}" for i, r in enumerate(shown)]
    return _png(figures.image_grid(images, titles, suptitle="Prediction flips A → B")), ""


def _shown(row, column: str, multilabel: bool) -> str:
    """A flip's label (multi-label: its label set, `-` for none) for a gallery title."""
    if not multilabel:
        return str(getattr(row, column))
    value = str(getattr(row, column.replace("label", "labels")))
    return value or "-"


def _png(fig) -> bytes:
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def write(c: Comparison, out_dir: Path) -> tuple[Path, Path]:
    md, html = out_dir / "compare.md", out_dir / "compare.html"
    write_text(md, to_markdown(c))
    write_text(html, to_html(c))
    return md, html
