"""The model card: what a trained model is, what it was trained on, and how well it does.

Written in two steps because the facts arrive at different stages:
- the train stage renders the card (`render_card`) with what is known then — architecture,
  parameter counts, input and preprocessing, classes, training-data fingerprint and class counts,
  training summary, augmentations — and a placeholder evaluation section between two markers;
- once `metrics.json` exists, `complete_card` (pure) swaps the placeholder for the headline
  metrics (with their bootstrap intervals when evaluate computed them) and the weakest classes.
  `write_completed_card` does that from files; `classlens card` prints it at report time.

The card is Markdown, so it reads well in MLflow's artifact view, on GitHub and in the report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

EVALUATION_BEGIN = "<!-- classlens:evaluation:begin -->"
EVALUATION_END = "<!-- classlens:evaluation:end -->"
WEAK_CLASSES = 3  # classes listed as weakest (lowest F1)
RESIZE_WORDS = {"stretch": "stretched to the size", "crop": "centre-cropped to the aspect ratio",
                "pad": "padded with black to the aspect ratio"}


@dataclass(frozen=True)
class LayerRow:
    name: str
    kind: str
    output_shape: str
    params: int
    trainable: bool


@dataclass(frozen=True)
class ModelSummary:
    """Architecture facts read off a Keras model (see `summarize_model`)."""

    name: str
    layers: list[LayerRow]
    trainable_params: int
    frozen_params: int  # weights of layers frozen for training (e.g. a pretrained backbone)
    statistics_params: int  # non-trainable state of trainable layers (BatchNorm moving stats)
    augmentations: list[str] = field(default_factory=list)


def summarize_model(model) -> ModelSummary:
    """Top-level layers, parameter counts and augmentation layers (`aug_*`) of a Keras model.

    Keras reports trainable vs non-trainable weights; non-trainable mixes frozen layers with
    BatchNorm's moving statistics, so they are split here by whether the owning layer is frozen.
    """
    import numpy as np

    def count(weights) -> int:
        return int(sum(int(np.prod(w.shape)) for w in weights))

    rows, frozen, statistics, augmentations = [], 0, 0, []
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        try:
            shape = str(tuple(layer.output.shape))
        except (AttributeError, ValueError):
            shape = "?"
        rows.append(LayerRow(layer.name, type(layer).__name__, shape.replace("None", "N"),
                             count(layer.weights), bool(layer.trainable)))
        if not layer.trainable:
            frozen += count(layer.weights)
        else:
            statistics += count(layer.non_trainable_weights)
        if layer.name.startswith("aug_"):
            augmentations.append(_describe_augmentation(layer))
    return ModelSummary(name=model.name, layers=rows,
                        trainable_params=count(model.trainable_weights),
                        frozen_params=frozen, statistics_params=statistics,
                        augmentations=augmentations)


def _describe_augmentation(layer) -> str:
    config = layer.get_config()
    shown = {k: v for k, v in config.items()
             if k in ("mode", "factor", "height_factor", "width_factor", "fill_mode")}
    return f"{type(layer).__name__}({', '.join(f'{k}={v}' for k, v in shown.items())})"


# ---------------------------------------------------------------- rendering (pure)


def render_card(
    *,
    summary: ModelSummary,
    preprocessing: dict[str, Any],
    fingerprint: dict[str, Any],
    data_source: str,
    training: dict[str, Any],
    run_id: Optional[str] = None,
    model_uri: Optional[str] = None,
) -> str:
    """The card as Markdown, its evaluation section a placeholder (see `complete_card`).

    Args:
        summary: from `summarize_model`.
        preprocessing: the preprocessing record (`PreprocessingRecord.to_json()`).
        fingerprint: `data/prepared/fingerprint.json` (digest, image_shape, counts per split).
        data_source: the configured data source name.
        training: headline training facts, e.g. best_epoch, epochs_run, best_val_accuracy.
        run_id, model_uri: where the run and the logged model are in MLflow.
    """
    classes = list(preprocessing["class_names"])
    counts = fingerprint.get("counts", {})
    splits = [s for s in ("train", "val", "test") if s in counts]
    total = summary.trainable_params + summary.frozen_params + summary.statistics_params
    lines = [
        f"# Model card: {summary.name} on {data_source}",
        "",
        "Written by the classlens train stage. "
        + (f"MLflow run `{run_id}`" if run_id else "")
        + (f", model `{model_uri}`." if model_uri else ("." if run_id else "")),
        "",
        "## Model",
        "",
        f"- Architecture: `{summary.name}`, {len(summary.layers)} top-level layers, ending in a "
        f"softmax over {len(classes)} classes.",
        f"- Parameters: {total:,} in all — {summary.trainable_params:,} trainable, "
        f"{summary.frozen_params:,} frozen, {summary.statistics_params:,} non-trainable "
        "statistics (BatchNorm moving mean/variance).",
        "- Augmentation (training only): "
        + (", ".join(f"`{a}`" for a in summary.augmentations) if summary.augmentations
           else "none") + ".",
        "",
        "<details><summary>Layers</summary>",
        "",
        "| layer | type | output shape | params | trainable |",
        "|---|---|---|---:|---|",
        *(f"| {r.name} | {r.kind} | {r.output_shape} | {r.params:,} | "
          f"{'yes' if r.trainable else 'no'} |" for r in summary.layers),
        "",
        "</details>",
        "",
        "## Input and preprocessing",
        "",
        f"- Input: {preprocessing['height']}×{preprocessing['width']} "
        f"{preprocessing['color_mode']} ({preprocessing['channels']} channel"
        f"{'s' if preprocessing['channels'] != 1 else ''}), {preprocessing['dtype']} pixels "
        f"{preprocessing['value_range'][0]}..{preprocessing['value_range'][1]}; "
        f"scaling {preprocessing['scaling']}.",
        f"- New images: decoded with Pillow, EXIF orientation applied, converted to "
        f"{preprocessing['color_mode']}, resized ("
        f"{RESIZE_WORDS.get(preprocessing.get('resize'), 'stretched to the size')}) "
        f"with {preprocessing['interpolation']} interpolation, by the same code that prepared "
        "the training images — stored in `preprocessing.json` with the model; `classlens "
        "predict` and the MLflow model apply it.",
        "",
        "## Training data",
        "",
        f"- Source: `{data_source}`; prepared images {fingerprint.get('image_shape')}; "
        f"fingerprint (SHA-256) `{fingerprint.get('digest', '?')}`.",
        "- Images per split: " + ", ".join(
            f"{s} {sum(counts[s].values()):,}" for s in splits) + ".",
        "",
        "| class | " + " | ".join(splits) + " |",
        "|---|" + "---:|" * len(splits),
        *(f"| {name} | " + " | ".join(str(counts[s].get(name, 0)) for s in splits) + " |"
          for name in classes),
        "",
        "## Training",
        "",
        *(f"- {key.replace('_', ' ')}: {_fmt(value)}" for key, value in training.items()),
        "",
        "## Evaluation",
        "",
        EVALUATION_BEGIN,
        "Not evaluated yet: the evaluate stage writes `metrics.json`; `classlens card` prints this "
        "card with the headline metrics and the weakest classes filled in.",
        EVALUATION_END,
        "",
        "## Intended use and limits",
        "",
        f"Classifies images into the {len(classes)} classes above. It has only seen images like "
        f"its `{data_source}` training data; images of other kinds, sizes or colour conventions "
        "get confident-looking but meaningless answers, and the probabilities are not calibrated "
        "unless the evaluation says so.",
        "",
    ]
    return "\n".join(lines)


def complete_card(card: str, metrics: dict[str, Any], *,
                  confusion: Optional[dict[str, Any]] = None,
                  weak_classes: int = WEAK_CLASSES) -> str:
    """Replace the card's evaluation placeholder with metrics from `metrics.json`.

    Args:
        card: a card from `render_card` (or an already completed one: it is re-completed).
        metrics: `metrics.json` — accuracy, macro_avg/weighted_avg, per_class, top_k_accuracy,
            and, when evaluate computed them, `bootstrap.intervals.<metric>.{low, high}`.
        confusion: `confusion_matrix.json` ({"classes", "counts"}), to name what each weak
            class is mistaken for (optional).
        weak_classes: how many of the lowest-F1 classes to list.
    """
    if EVALUATION_BEGIN not in card or EVALUATION_END not in card:
        raise ValueError("card has no evaluation section markers; render it with render_card")
    head, rest = card.split(EVALUATION_BEGIN, 1)
    _, tail = rest.split(EVALUATION_END, 1)
    section = evaluation_section(metrics, confusion=confusion, weak_classes=weak_classes)
    return f"{head}{EVALUATION_BEGIN}\n{section}\n{EVALUATION_END}{tail}"


def evaluation_section(metrics: dict[str, Any], *, confusion: Optional[dict[str, Any]] = None,
                       weak_classes: int = WEAK_CLASSES) -> str:
    """Headline metrics (with intervals when present) and the weakest classes, as Markdown."""
    intervals = (metrics.get("bootstrap") or {}).get("intervals") or {}
    level = (metrics.get("bootstrap") or {}).get("confidence")
    rows = [("accuracy", metrics.get("accuracy"), "accuracy")]
    rows += [(k.replace("_accuracy", " accuracy").replace("_", "-"), v, k)
             for k, v in metrics.items()
             if k.startswith("top_") and k.endswith("_accuracy")]
    for avg in ("macro_avg", "weighted_avg"):
        for metric in ("f1", "precision", "recall"):
            value = (metrics.get(avg) or {}).get(metric)
            rows.append((f"{avg.replace('_avg', '')} {metric}", value, f"{avg}.{metric}"))
    interval_head = f"{_fmt(level * 100 if level and level <= 1 else level)}% interval" \
        if level else "interval"
    lines = [f"Test images: {metrics.get('n_samples', '?')}.", "",
             f"| metric | value | {interval_head} |", "|---|---:|---|"]
    for label, value, key in rows:
        if value is None:
            continue
        interval = intervals.get(key) or {}
        span = (f"{_fmt(interval['low'])} – {_fmt(interval['high'])}"
                if {"low", "high"} <= set(interval) else "—")
        lines.append(f"| {label} | {_fmt(value)} | {span} |")
    macro_f1 = (metrics.get("macro_avg") or {}).get("f1")
    weak = weakest_classes(metrics.get("per_class") or {}, n=weak_classes, below=macro_f1)
    if not weak:
        lines += ["", "Weakest classes: none below the macro F1."]
    else:
        mistaken = _most_confused_with(confusion) if confusion else {}
        lines += ["", "Weakest classes (lowest F1 below the macro F1; undefined counts as 0):",
                  "",
                  "| class | F1 | precision | recall | support | most often predicted as |",
                  "|---|---:|---:|---:|---:|---|"]
        for name, values in weak:
            lines.append(f"| {name} | {_fmt(values.get('f1'))} | {_fmt(values.get('precision'))} "
                         f"| {_fmt(values.get('recall'))} | {values.get('support', '?')} | "
                         f"{mistaken.get(name, '—')} |")
    return "\n".join(lines)


def weakest_classes(per_class: dict[str, dict[str, Any]], *, n: int,
                    below: Optional[float] = None) -> list[tuple[str, dict[str, Any]]]:
    """Up to `n` classes with the lowest F1 (None as 0), only those under `below` when given
    (a class at the average is not "weak"); ties keep the input's class order."""
    ranked = sorted(per_class.items(), key=lambda item: item[1].get("f1") or 0.0)
    if below is not None:
        ranked = [item for item in ranked if (item[1].get("f1") or 0.0) < below]
    return ranked[:max(0, n)]


def _most_confused_with(confusion: dict[str, Any]) -> dict[str, str]:
    """class -> 'other (count)' for its most frequent wrong prediction, from the count matrix."""
    names, counts = confusion.get("classes") or [], confusion.get("counts") or []
    result = {}
    for i, row in enumerate(counts):
        wrong = [(c, j) for j, c in enumerate(row) if j != i and c > 0]
        if wrong and i < len(names):
            c, j = max(wrong)
            result[names[i]] = f"{names[j]} ({c})"
    return result


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if math.isnan(value):
        return "—"
    return f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.1f}"


# ---------------------------------------------------------------- files


def completed_card(card_path: Path, metrics_path: Path, *,
                   confusion_path: Optional[Path] = None) -> str:
    """The train stage's card completed from `metrics.json` (and the confusion matrix, when
    given and present): for the evaluate stage (write it as its own output and log it), a
    report, or `classlens card`."""
    import json

    from classlens.errors import InputError

    for path in (card_path, metrics_path):
        if not Path(path).is_file():
            raise InputError(f"{path}: not found; run `dvc repro` (train writes the card, "
                             "evaluate the metrics)")
    confusion = None
    if confusion_path is not None and Path(confusion_path).is_file():
        confusion = json.loads(Path(confusion_path).read_text(encoding="utf-8"))
    return complete_card(Path(card_path).read_text(encoding="utf-8"),
                         json.loads(Path(metrics_path).read_text(encoding="utf-8")),
                         confusion=confusion)
