"""Training speed on Fashion-MNIST, against the usual tutorial way, measured side by side:

- `train`: images/s of the train stage's own input pipeline and step (`classlens.training.loop.fit`:
  tf.data from the uint8 arrays, prefetch, the batch size and schedule of `conf/train/fast.yaml`)
  against the tutorial's `model.fit` on the float NumPy array at batch 32, on the same model
  (the tutorial's two-block CNN) and data, for the same epochs. Goal: >= 1.5x, with test
  accuracy within 0.5 points of the tutorial's.
- `time_to_accuracy`: the `experiment=fashion_fast` preset (its model, batch, schedule and
  precision, trained by the same `fit` as the stage) until >= 0.91 test accuracy, against the
  tutorial's training time. Goal: at most half the tutorial's time.

    python benchmarks/train.py                 # both, 3 tutorial epochs (about 3 minutes)
    python benchmarks/train.py --only train

Only the training batches are timed on both sides (validation passes of `fit` excluded, the
data already in memory on both sides); the time-to-accuracy side also reports its wall time
with validation.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (REPO, EpochTimer, emit, fashion_mnist, figure, machine,  # noqa: E402
                    tutorial_cnn, tutorial_fit)

TRAIN_GOAL = 1.5
ACCURACY_POINTS = 0.5
TARGET_ACCURACY = 0.91
TIME_GOAL = 2.0  # tutorial time / ours


def _compose(*overrides: str):
    from classlens.config import compose, validate

    return validate(compose(REPO / "conf", list(overrides)), source="conf/ (composed)")


def _test_accuracy(model, images, labels, *, batch_size: int) -> float:
    from classlens.models.inference import predict_probabilities

    probabilities = predict_probabilities(model, images, batch_size=batch_size)
    return float((probabilities.argmax(axis=1) == labels).mean())


def _split_val(x, y, *, fraction: float, seed: int):
    order = np.random.default_rng(seed).permutation(len(y))
    cut = int(len(y) * fraction)
    val, train = np.sort(order[:cut]), np.sort(order[cut:])
    return (x[train], y[train]), (x[val], y[val])


def _input_pipeline_rate(x, y, *, batch_size: int, seed: int) -> float:
    """Images/s of the stage's tf.data pipeline alone (one shuffled epoch, no model): how far
    it is from being what limits a step."""
    from classlens.training.loop import make_dataset

    dataset = make_dataset(x, y, batch_size=batch_size, shuffle=True, seed=seed)
    started = time.perf_counter()
    for _ in dataset:
        pass
    return len(y) / (time.perf_counter() - started)


def bench_train(data, reference: dict, *, epochs: int, seed: int, overrides=()) -> dict:
    """The tutorial model through the stage's own fit (conf/train/fast.yaml), same epochs."""
    from classlens.models.precision import apply_policy
    from classlens.training.loop import fit

    (x_train, y_train), (x_test, y_test) = data
    cfg = _compose("train=fast", f"train.epochs={epochs}", *overrides)
    policy = apply_policy(cfg.train.mixed_precision)
    model = tutorial_cnn(x_train.shape[1:], 10, seed=seed, rescale=True)
    timer = EpochTimer()
    # the same training images as the tutorial, all of them; the stage's fit needs a validation
    # split for its best-epoch checkpoint: 2,000 of the training images (no say in the result
    # beyond that, and no test images), whose passes are not timed
    train, val = (x_train, y_train), (x_train[-2000:], y_train[-2000:])
    fit(model, train, val, cfg.train, seed=seed, extra_callbacks=[timer])
    accuracy = _test_accuracy(model, x_test, y_test, batch_size=cfg.predict.batch_size)
    apply_policy(False)
    ours = len(train[1]) * epochs / timer.train_seconds
    pipeline = _input_pipeline_rate(x_train, y_train, batch_size=cfg.train.batch_size, seed=seed)
    row = figure("train", "train images/s (stage fit vs model.fit numpy)", ours=ours,
                 reference=reference["images_per_s"], unit="images/s", goal=TRAIN_GOAL,
                 epochs=epochs, batch_size=cfg.train.batch_size, dtype_policy=policy,
                 train_images=len(train[1]), reference_train_images=len(y_train),
                 reference_batch_size=32, test_accuracy=round(accuracy, 4),
                 reference_test_accuracy=round(reference["test_accuracy"], 4),
                 input_pipeline_alone_images_per_s=round(pipeline))
    points = 100 * (reference["test_accuracy"] - accuracy)
    row["accuracy_points_below_reference"] = round(points, 2)
    row["meets_goal"] = bool(row["meets_goal"] and points <= ACCURACY_POINTS)
    return row


def bench_time_to_accuracy(data, reference: dict, *, seed: int, overrides=()) -> dict:
    """The preset, trained by the stage's fit on a 10% validation split of the training set."""
    from classlens.models import build_model
    from classlens.models.precision import apply_policy
    from classlens.training.loop import fit

    (x_train, y_train), (x_test, y_test) = data
    cfg = _compose("experiment=fashion_fast", *overrides)
    (train, val) = _split_val(x_train, y_train, fraction=cfg.data.val_fraction, seed=seed)
    policy = apply_policy(cfg.train.mixed_precision)
    model = build_model(cfg.model, input_shape=x_train.shape[1:], num_classes=10, seed=seed)
    timer = EpochTimer()
    started = time.perf_counter()
    fit(model, train, val, cfg.train, seed=seed, extra_callbacks=[timer])
    wall = time.perf_counter() - started
    accuracy = _test_accuracy(model, x_test, y_test, batch_size=cfg.predict.batch_size)
    apply_policy(False)
    reached = accuracy >= TARGET_ACCURACY
    row = figure("time_to_accuracy", f"seconds to >= {TARGET_ACCURACY} test accuracy",
                 ours=timer.train_seconds, reference=reference["train_seconds"], unit="s",
                 goal=TIME_GOAL, higher_is_better=False, preset="experiment=fashion_fast",
                 epochs=cfg.train.epochs, batch_size=cfg.train.batch_size, dtype_policy=policy,
                 wall_seconds_with_validation=round(wall, 2), test_accuracy=round(accuracy, 4),
                 reference_test_accuracy=round(reference["test_accuracy"], 4),
                 reference_epochs=reference["epochs"])
    row["meets_goal"] = bool(row["meets_goal"] and reached)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="tutorial (and train figure) epochs")
    parser.add_argument("--only", choices=["train", "time_to_accuracy"], default=None)
    parser.add_argument("--limit", type=int, default=0,
                        help="use the first N training images (a quick smoke run)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="Hydra overrides for our side (e.g. train.learning_rate=0.003)")
    args = parser.parse_args(argv)

    data = fashion_mnist()
    if args.limit:
        (x, y), test = data
        data = ((x[:args.limit], y[:args.limit]), (test[0][:args.limit], test[1][:args.limit]))
    (x_train, y_train), (x_test, y_test) = data
    reference = tutorial_fit(x_train, y_train, x_test, y_test, epochs=args.epochs,
                             seed=args.seed)
    reference["epochs"] = args.epochs
    emit({"benchmark": "reference", "figure": "tutorial model.fit(numpy), batch 32",
          **{k: round(v, 4) for k, v in reference.items()}, **machine()})
    rows = []
    if args.only in (None, "train"):
        rows.append(emit(bench_train(data, reference, epochs=args.epochs, seed=args.seed,
                                     overrides=args.set)))
    if args.only in (None, "time_to_accuracy"):
        rows.append(emit(bench_time_to_accuracy(data, reference, seed=args.seed,
                                                overrides=args.set)))
    return 0 if all(r["meets_goal"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
