"""What every benchmark script shares: the figure record it prints (one JSON line each), the
machine description, the tutorial reference model, and Fashion-MNIST from the shared Keras cache.

A figure is a dict with at least `benchmark`, `figure`, `ours`, `reference`, `unit`, `ratio`
(ours relative to the reference, oriented so that higher is better), `goal` and `meets_goal`;
`benchmarks/run.py` collects them into one table.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Callable, Optional

REPO = Path(__file__).resolve().parents[1]
SHARED_KERAS_HOME = REPO.parent / "shared" / "datasets" / "keras-home"


def use_shared_keras_cache() -> None:
    """Point Keras at ../shared/datasets/keras-home (offline Fashion-MNIST) unless KERAS_HOME is
    set; elsewhere Keras downloads into its usual cache, as it does for users."""
    if "KERAS_HOME" not in os.environ and SHARED_KERAS_HOME.exists():
        os.environ["KERAS_HOME"] = str(SHARED_KERAS_HOME)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


use_shared_keras_cache()  # before anything imports Keras, which reads KERAS_HOME once


def figure(benchmark: str, name: str, *, ours: float, reference: float, unit: str, goal: float,
           higher_is_better: bool = True, **detail) -> dict:
    """One figure; `ratio` is ours/reference (or reference/ours when lower is better)."""
    ratio = (ours / reference if higher_is_better else reference / ours) if ours and reference \
        else float("nan")
    return {"benchmark": benchmark, "figure": name, "ours": round(ours, 4),
            "reference": round(reference, 4), "unit": unit, "ratio": round(ratio, 3),
            "goal": goal, "meets_goal": bool(ratio >= goal), **detail}


def limit(benchmark: str, name: str, *, value: float, unit: str, at_most: float,
          **detail) -> dict:
    """A figure with an absolute goal (`value <= at_most`): ratio is at_most/value."""
    return {"benchmark": benchmark, "figure": name, "ours": round(value, 4), "reference": None,
            "unit": unit, "ratio": round(at_most / value, 3) if value else float("inf"),
            "goal": f"<= {at_most} {unit}", "meets_goal": bool(value <= at_most), **detail}


def emit(row: dict) -> dict:
    print(json.dumps(row), flush=True)
    return row


def machine() -> dict:
    """What the figures were measured on."""
    import importlib.metadata as md

    versions = {}
    for package in ("tensorflow", "tensorflow-cpu", "keras", "dvc", "mlflow"):
        try:
            versions[package] = md.version(package)
        except md.PackageNotFoundError:
            pass
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count(), "python": platform.python_version(),
            "load_average_1min": round(os.getloadavg()[0], 2), **versions,
            "date": time.strftime("%Y-%m-%d")}


def fashion_mnist():
    """((x_train, y_train), (x_test, y_test)) as uint8 (N, 28, 28, 1) and int64 labels."""
    import keras
    import numpy as np

    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    return ((x_train[..., np.newaxis], y_train.astype("int64")),
            (x_test[..., np.newaxis], y_test.astype("int64")))


def tutorial_cnn(input_shape=(28, 28, 1), num_classes: int = 10, *, seed: int = 0,
                 rescale: bool = False):
    """The usual tutorials' small two-block CNN (Keras' "Simple MNIST convnet" example):
    conv32-pool-conv64-pool-flatten-dropout-dense softmax. `rescale` puts the /255 inside the
    model (for pipelines that feed uint8), which the tutorial does on the array instead."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=input_shape)
    x = layers.Rescaling(1.0 / 255.0)(inputs) if rescale else inputs
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs)


def tutorial_fit(x_train, y_train, x_test, y_test, *, epochs: int, batch_size: int = 32,
                 seed: int = 0) -> dict:
    """The reference: `model.fit` on the float array scaled to 0..1, batch 32, Adam at Keras'
    default rate, then `model.evaluate` on the test array. Times only the training batches."""
    import keras
    import numpy as np

    model = tutorial_cnn(x_train.shape[1:], int(y_train.max()) + 1, seed=seed)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    timer = EpochTimer()
    started = time.perf_counter()
    model.fit(x_train.astype(np.float32) / 255.0, y_train, batch_size=batch_size,
              epochs=epochs, verbose=0, callbacks=[timer])
    wall = time.perf_counter() - started
    accuracy = model.evaluate(x_test.astype(np.float32) / 255.0, y_test, verbose=0)[1]
    del keras
    return {"train_seconds": timer.train_seconds, "wall_seconds": wall,
            "images_per_s": len(x_train) * epochs / timer.train_seconds,
            "test_accuracy": float(accuracy)}


class EpochTimer:
    """A Keras callback summing the time of each epoch's training batches (from the epoch's
    start to its validation, or to its end when there is none)."""

    def __new__(cls, *args, **kwargs):  # built lazily so importing this module needs no Keras
        import keras

        class _Timer(keras.callbacks.Callback):
            def __init__(self) -> None:
                super().__init__()
                self.train_seconds = 0.0
                self.epoch_seconds: list[float] = []
                self._start: Optional[float] = None

            def on_epoch_begin(self, epoch, logs=None):
                self._start = time.perf_counter()

            def on_test_begin(self, logs=None):
                self._stop()

            def on_epoch_end(self, epoch, logs=None):
                self._stop()

            def _stop(self) -> None:
                if self._start is not None:
                    seconds = time.perf_counter() - self._start
                    self.train_seconds += seconds
                    self.epoch_seconds.append(seconds)
                    self._start = None

        return _Timer()


def best_of(repeats: int, work: Callable[[], object]) -> float:
    """The shortest of `repeats` wall-clock timings of `work()` (seconds)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)
