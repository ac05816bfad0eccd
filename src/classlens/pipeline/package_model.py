"""The end of the train stage: make the fitted model usable and self-describing.

Writes into train's staging folder (moved onto `models/` with the model once all is written):
- `preprocessing.json` — how new images become model input (`classlens.serving.preprocessing`);
- `model_card.md` — what the model is and was trained on (`classlens.reporting.model_card`);
- `augmentation_preview.png` — training images with augmented versions (`classlens.figures.augment`);
and logs, inside the open training run, the pyfunc model that `classlens predict` and
`mlflow models serve` use (`classlens.serving.pyfunc`), the Keras model itself through MLflow's
Keras flavour. (Train logs the three files under `train/` once they are in place.)
"""

from __future__ import annotations

import numpy as np

from classlens import paths
from pathlib import Path

from classlens.atomic import save_figure, write_text
from classlens.config import Config
from classlens.serving.logged_model import log_image_model, log_keras_model
from classlens.task import BINARY, positive_index
from classlens.training.summary import headline

PREVIEW_IMAGES = 4
PREVIEW_VERSIONS = 5
EXAMPLE_IMAGES = 2  # in the logged model's input example


def package_model(model, cfg: Config, out: Path, *, classes: list[str], fingerprint: dict, history,
                  best_epoch: int, train_images: np.ndarray, train_labels: np.ndarray,
                  example_images: np.ndarray, run_id: str, thresholds=None) -> str:
    """Write the record, card and preview into `out` (where train staged `model.keras`), log
    the served model from there; returns its URI. `thresholds` (binary, multilabel: the
    validation-fitted `Thresholds`) go into the record, which every consumer reads."""
    from classlens.figures import augment as augment_preview
    from classlens.reporting import model_card
    from classlens.reporting.model_summary import summarize_model
    from classlens.serving.preprocessing import encode_png, record_for_training

    kind = cfg.task.kind
    record = record_for_training(
        image_shape=fingerprint["image_shape"], class_names=classes, data_options=cfg.data,
        task=kind, positive_index=positive_index(classes, cfg.task.positive_class)
        if kind == BINARY else 1, thresholds=None if thresholds is None else thresholds.to_json())
    record.write(out / paths.PREPROCESSING.name)
    model_uri = log_image_model(
        out / paths.MODEL.name, out / paths.PREPROCESSING.name,
        [encode_png(image) for image in np.asarray(example_images[:EXAMPLE_IMAGES])])
    log_keras_model(model, np.asarray(example_images[:EXAMPLE_IMAGES]))

    training = {**headline(history, best_epoch),  # the facts MLflow logs, too
                "batch_size": cfg.train.batch_size, "learning_rate": cfg.train.learning_rate,
                "seed": cfg.seed}
    card = model_card.render_card(summary=summarize_model(model),
                                  preprocessing=record.to_json(), fingerprint=fingerprint,
                                  data_source=cfg.data.source, training=training,
                                  run_id=run_id, model_uri=model_uri,
                                  title=f"{cfg.model.name} on {cfg.data.name}")
    write_text(out / paths.MODEL_CARD.name, card)

    layers = augment_preview.augmentation_layers(model)
    multilabel = np.ndim(train_labels) == 2
    # multi-label: one key per image (its first label, -1 for none) so the preview varies
    keys = (np.where(np.any(train_labels, axis=1), np.argmax(train_labels, axis=1), -1)
            if multilabel else train_labels)
    picked = augment_preview.pick_examples(keys, n=PREVIEW_IMAGES)
    originals = np.asarray(train_images[picked])
    augmented = (augment_preview.augmented_versions(layers, originals, versions=PREVIEW_VERSIONS)
                 if layers else np.repeat(originals[:, None], PREVIEW_VERSIONS, axis=1))
    description = ("augmentations: " + ", ".join(layer.name for layer in layers) if layers
                   else "no augmentation configured (versions equal the original)")
    save_figure(out / paths.AUGMENT_PREVIEW.name, augment_preview.preview_figure(
        originals, augmented, titles=[_title(train_labels[i], classes) for i in picked],
        description=description))
    return model_uri



def _title(label, classes: list[str]) -> str:
    """A preview image's title: its class, or its labels (multi-label)."""
    if np.ndim(label) == 0:
        return f"class {classes[int(label)]}"
    names = [classes[i] for i in np.flatnonzero(label)]
    return "labels " + ", ".join(names) if names else "no label"
