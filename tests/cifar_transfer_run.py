"""Fine-tune MobileNet (alpha 0.25) on a small CIFAR-10 JPEG subset, once with ImageNet weights
and once with `weights: null`, on the same data, schedule and seed; print both test accuracies
as JSON. Run as a subprocess (`python -m tests.cifar_transfer_run <tar.gz>`) because Keras reads
KERAS_HOME when it is imported (tests/test_transfer_imagenet.py sets it)."""

from __future__ import annotations

import io
import json
import sys
import tarfile
from pathlib import Path

import numpy as np

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck")
PER_CLASS = {"train": 40, "val": 20, "test": 30}


def load_subset(archive: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The first images of each class: train/val from `train/<class>/`, test from `test/`."""
    from PIL import Image

    wanted = {"train": PER_CLASS["train"] + PER_CLASS["val"], "test": PER_CLASS["test"]}
    found: dict[tuple[str, int], list[np.ndarray]] = {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            parts = member.name.split("/")
            if not member.isfile() or len(parts) != 3 or parts[1] not in CLASSES:
                continue
            key = (parts[0], CLASSES.index(parts[1]))
            bucket = found.setdefault(key, [])
            if len(bucket) < wanted[parts[0]]:
                data = tar.extractfile(member).read()
                bucket.append(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    splits = {}
    for name, source, start, count in (("train", "train", 0, PER_CLASS["train"]),
                                       ("val", "train", PER_CLASS["train"], PER_CLASS["val"]),
                                       ("test", "test", 0, PER_CLASS["test"])):
        images, labels = [], []
        for label in range(len(CLASSES)):
            chosen = found[(source, label)][start:start + count]
            images += chosen
            labels += [label] * len(chosen)
        splits[name] = (np.stack(images).astype(np.uint8), np.asarray(labels, dtype=np.int64))
    return splits


def train_and_score(splits, weights) -> float:
    from classlens.config import AugmentConfig, FineTuneConfig, MobileNetOptions, TrainConfig
    from classlens.models.inference import predict_probabilities
    from classlens.models import build_model
    from classlens.models.transfer import fine_tune_plan
    from classlens.training.loop import fit, seed_everything

    seed_everything(0, deterministic=False)
    cfg = MobileNetOptions(architecture="mobilenet", weights=weights, alpha=0.25, input_size=128,
                           head_dropout=0.2,
                           augment=AugmentConfig(translate=0.0, rotate=0.0, zoom=0.0,
                                                 flip_horizontal=True),
                           fine_tune=FineTuneConfig(epochs=3, learning_rate=1e-4,
                                                    unfreeze="conv_dw_12"))
    model = build_model(cfg, input_shape=(32, 32, 3), num_classes=len(CLASSES), seed=0)
    train = TrainConfig(epochs=5, batch_size=32, learning_rate=1e-3, early_stopping_patience=10,
                        reduce_lr_patience=10, reduce_lr_factor=0.5, min_learning_rate=1e-6,
                        deterministic=False, mixed_precision=False)
    fit(model, splits["train"], splits["val"], train, seed=0,
        fine_tune=fine_tune_plan(model, cfg))
    test_images, test_labels = splits["test"]
    probabilities = predict_probabilities(model, test_images, batch_size=100)
    return float((probabilities.argmax(axis=1) == test_labels).mean())


def main(archive: str) -> None:
    splits = load_subset(Path(archive))
    result = {"imagenet": train_and_score(splits, "imagenet"),
              "null": train_and_score(splits, None),
              "sizes": {name: len(labels) for name, (_, labels) in splits.items()}}
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
