"""The model card: what a trained model is, what it was trained on, and how well it does.

Written in two steps because the facts arrive at different stages:
- the train stage renders the card (`render_card`) with what is known then — architecture,
  parameter counts, input and preprocessing, classes, training-data fingerprint and class counts,
  training summary, augmentations — and a placeholder evaluation section between two markers;
- once `data/eval/all_metrics.json` exists, `complete_card` (pure) swaps the placeholder for the headline
  metrics (with their bootstrap intervals, at `bootstrap.level`, when evaluate computed them) and
  the weakest classes. `completed_card` does that from files, for the report stage and
  `classlens card`.

The card is Markdown, so it reads well in MLflow's artifact view, on GitHub and in the report.
Every name from the data or the model (classes, layers, the title) goes through
`classlens.naming.markdown_text`: a class named `<img src=x>` or `a|b` shows as written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Union

from classlens.evaluation import results
from classlens.evaluation.results import MetricsLike
from classlens.formatting import format_value
from classlens.naming import markdown_code, markdown_text
from classlens.reporting.card_task import ENDINGS, decision_section
from classlens.reporting.model_summary import ModelSummary
from classlens.task import MULTICLASS, MULTILABEL

EVALUATION_BEGIN = "<!-- classlens:evaluation:begin -->"
EVALUATION_END = "<!-- classlens:evaluation:end -->"
WEAK_CLASSES = 3  # classes listed as weakest (lowest F1)
RESIZE_WORDS = {"stretch": "stretched to the size", "crop": "centre-cropped to the aspect ratio",
                "pad": "padded with black to the aspect ratio"}


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
    title: Optional[str] = None,
) -> str:
    """The card as Markdown, its evaluation section a placeholder (see `complete_card`).

    Args:
        summary: from `classlens.reporting.model_summary.summarize_model`.
        preprocessing: the preprocessing record (`PreprocessingRecord.to_json()`).
        fingerprint: `data/prepared/fingerprint.json` (digest, image_shape, counts per split).
        data_source: the configured data source name.
        training: headline training facts, e.g. best_epoch, epochs_run, best_val_accuracy.
        run_id, model_uri: where the run and the logged model are in MLflow.
        title: what the card is about, e.g. "cnn_small on digits (run small)"; default: the
            Keras model's name on `data_source`.
    """
    classes = list(preprocessing["class_names"])
    task = preprocessing.get("task", MULTICLASS)
    counts = fingerprint.get("counts", {})
    splits = [s for s in ("train", "val", "test") if s in counts]
    images = fingerprint.get("images") or {s: sum(counts[s].values()) for s in splits}
    total = summary.trainable_params + summary.frozen_params + summary.statistics_params
    lines = [
        f"# Model card: {markdown_text(title or f'{summary.name} on {data_source}')}",
        "",
        "Written by the classlens train stage. "
        + (f"MLflow run {markdown_code(run_id)}" if run_id else "")
        + (f", model {markdown_code(model_uri)}." if model_uri else ("." if run_id else "")),
        "",
        "## Model",
        "",
        f"- Architecture: {markdown_code(summary.name)}, {len(summary.layers)} top-level layers, "
        f"ending in {ENDINGS[task](classes, preprocessing)}.",
        f"- Parameters: {total:,} in all — {summary.trainable_params:,} trainable, "
        f"{summary.frozen_params:,} frozen, {summary.statistics_params:,} non-trainable "
        "statistics (BatchNorm moving mean/variance).",
        "- Augmentation (training only): "
        + (", ".join(markdown_code(a) for a in summary.augmentations) if summary.augmentations
           else "none") + ".",
        "",
        "<details><summary>Layers</summary>",
        "",
        "| layer | type | output shape | params | trainable |",
        "|---|---|---|---:|---|",
        *(f"| {markdown_text(r.name)} | {markdown_text(r.kind)} | "
          f"{markdown_text(r.output_shape)} | {r.params:,} | "
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
        f"- Source: {markdown_code(data_source)}; prepared images "
        f"{fingerprint.get('image_shape')}; "
        f"fingerprint (SHA-256) {markdown_code(fingerprint.get('digest', '?'))}.",
        "- Images per split: " + ", ".join(f"{s} {images[s]:,}" for s in splits) + "."
        + (" Without any label: " + ", ".join(
            f"{s} {fingerprint['no_label'].get(s, 0):,}" for s in splits) + "; the table "
           "counts the images carrying each label." if "no_label" in fingerprint else ""),
        "",
        f"| {'label' if task == MULTILABEL else 'class'} | " + " | ".join(splits) + " |",
        "|---|" + "---:|" * len(splits),
        *(f"| {markdown_text(name)} | "
          + " | ".join(str(counts[s].get(name, 0)) for s in splits) + " |"
          for name in classes),
        "",
        "## Training",
        "",
        *(f"- {key.replace('_', ' ')}: {_compact(value)}" for key, value in training.items()),
        "",
        *decision_section(preprocessing),
        "## Evaluation",
        "",
        EVALUATION_BEGIN,
        "Not evaluated yet: the evaluate stage writes `data/eval/all_metrics.json`; `classlens card` prints this "
        "card with the headline metrics and the weakest classes filled in.",
        EVALUATION_END,
        "",
        "## Intended use and limits",
        "",
        (f"Tags images with any of the {len(classes)} labels above (or none). "
         if task == MULTILABEL else
         f"Classifies images into the {len(classes)} classes above. ") + "It has only seen images like "
        f"its {markdown_code(data_source)} training data; images of other kinds, sizes or colour "
        "conventions "
        "get confident-looking but meaningless answers, and the probabilities are not calibrated "
        "unless the evaluation says so.",
        "",
    ]
    return "\n".join(lines)


def complete_card(card: str, metrics: MetricsLike, *,
                  confusion: Optional[dict[str, Any]] = None,
                  weak_classes: int = WEAK_CLASSES) -> str:
    """Replace the card's evaluation placeholder with the evaluated metrics (`data/eval/all_metrics.json`).

    Args:
        card: a card from `render_card` (or an already completed one: it is re-completed).
        metrics: `all_metrics.json` (`results.Metrics`, or a dict in its layout) — accuracy,
            top_<k>_accuracy, macro_avg/weighted_avg, per_class and, when evaluate computed
            them, the bootstrap intervals and their level.
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


def evaluation_section(metrics: MetricsLike, *, confusion: Optional[dict[str, Any]] = None,
                       weak_classes: int = WEAK_CLASSES) -> str:
    """Headline metrics (with intervals when present) and the weakest classes, as Markdown."""
    metrics = results.Metrics.of(metrics)
    rows = [("exact match (accuracy)" if metrics.multilabel else "accuracy", metrics.accuracy,
             "accuracy")]
    if metrics.multilabel:
        rows += [("mAP", metrics.headline.get("mean_average_precision"),
                  "mean_average_precision"),
                 ("Hamming loss", metrics.headline.get("hamming_loss"), "hamming_loss"),
                 ("micro F1", metrics.average("micro_avg", "f1"), "micro_avg.f1"),
                 ("samples F1", metrics.average("samples_avg", "f1"), "samples_avg.f1")]
    rows += [(k.replace("_accuracy", " accuracy").replace("_", "-"), v, k)
             for k, v in metrics.top_k()]
    for avg in ("macro_avg", "weighted_avg"):
        for metric in ("f1", "precision", "recall"):
            rows.append((f"{avg.replace('_avg', '')} {metric}", metrics.average(avg, metric),
                         f"{avg}.{metric}"))
    n_samples = metrics.n_samples
    lines = [f"Test images: {'?' if n_samples is None else n_samples}.", "",
             f"| metric | value | {metrics.interval_label} |", "|---|---:|---|"]
    for label, value, key in rows:
        if value is None:
            continue
        interval = metrics.interval(key)
        span = f"{_compact(interval[0])} – {_compact(interval[1])}" if interval else "—"
        lines.append(f"| {label} | {_compact(value)} | {span} |")
    macro_f1 = metrics.average("macro_avg", "f1")
    weak = weakest_classes(metrics.per_class, n=weak_classes, below=macro_f1)
    if not weak:
        lines += ["", "Weakest classes: none below the macro F1."]
    else:
        mistaken = _most_confused_with(confusion) if confusion else {}
        lines += ["", "Weakest classes (lowest F1 below the macro F1; undefined counts as 0):",
                  "",
                  "| class | F1 | precision | recall | support | most often predicted as |",
                  "|---|---:|---:|---:|---:|---|"]
        for name, values in weak:
            lines.append(f"| {markdown_text(name)} | {_compact(values.get('f1'))} | "
                         f"{_compact(values.get('precision'))} | "
                         f"{_compact(values.get('recall'))} | {values.get('support', '?')} | "
                         f"{markdown_text(mistaken.get(name, '—'))} |")
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


def _compact(value: Any) -> str:
    """Card text of a number: trailing zeros dropped, thousands separated."""
    return format_value(value, compact=True)


# ---------------------------------------------------------------- files


def completed_card(card_path: Path, metrics: Union[Path, results.Metrics], *,
                   confusion_path: Optional[Path] = None,
                   confusion: Optional[dict] = None) -> str:
    """The train stage's card completed from `all_metrics.json` (its path, or the file already
    read) and the confusion matrix (`confusion`, already read, or the file at `confusion_path`
    when present): for the report stage and `classlens card`."""
    import json

    from classlens.errors import InputError

    if not Path(card_path).is_file():
        raise InputError(f"{card_path}: not found; run `dvc repro` (train writes the card, "
                         "evaluate the metrics)")
    if not isinstance(metrics, results.Metrics):
        metrics = results.load(metrics)
    if confusion is None and confusion_path is not None and Path(confusion_path).is_file():
        confusion = json.loads(Path(confusion_path).read_text(encoding="utf-8"))
    return complete_card(Path(card_path).read_text(encoding="utf-8"), metrics,
                         confusion=confusion)
