"""GPU figures (run on a machine where TensorFlow sees a GPU): the train stage's step under
mixed precision as a fraction of a bare loop over data already on the device, and predict.

- `gpu_train`: images/s of `classlens.training.loop.fit` (the stage's tf.data pipeline from host
  uint8 arrays, `conf/train/fast.yaml`, mixed_float16) against a bare loop: the same model's
  own `train_step` in one `tf.function`, over batches already in GPU memory (no input pipeline
  at all: the most the model allows). Goal: >= 0.9 of it.
- `gpu_predict`: the predict stage's streaming from a `.npy` file against `model.predict` on
  the array in memory (as benchmarks/predict.py, on the GPU). Goal: >= 0.9x.

    python benchmarks/gpu.py                       # Fashion-MNIST, 3 epochs each
    python benchmarks/gpu.py --allow-cpu --limit 4096 --epochs 2   # a smoke run on a CPU

Without a GPU it prints one JSON line saying so (no figures) and exits 0, unless --allow-cpu.
The second and later epochs are timed (the first traces and compiles).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (REPO, EpochTimer, emit, fashion_mnist, figure, machine,  # noqa: E402
                    tutorial_cnn)

GOAL = 0.9


def _gpu_name() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return ""
    details = tf.config.experimental.get_device_details(gpus[0])
    return f"{details.get('device_name', gpus[0].name)} x{len(gpus)}"


def bare_loop_rate(model, x, y, *, batch_size: int, epochs: int) -> float:
    """Images/s of the model's own train_step over batches already on the device."""
    import tensorflow as tf

    count = len(y) // batch_size * batch_size
    images = tf.constant(x[:count])  # placed on the GPU when there is one
    labels = tf.constant(y[:count])
    batches = [(images[i:i + batch_size], labels[i:i + batch_size])
               for i in range(0, count, batch_size)]
    step = tf.function(model.train_step)
    for batch in batches[:2]:  # trace and warm up
        step(batch)
    seconds = []
    for _ in range(epochs):
        started = time.perf_counter()
        for batch in batches:
            logs = step(batch)
        float(logs["loss"])  # wait for the device
        seconds.append(time.perf_counter() - started)
    return count / min(seconds)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0, help="first N training images only")
    parser.add_argument("--allow-cpu", action="store_true", help="run without a GPU (smoke)")
    args = parser.parse_args(argv)

    from classlens.config import compose, validate
    from classlens.models.inference import predict_probabilities
    from classlens.models.precision import apply_policy
    from classlens.training.loop import fit

    gpu = _gpu_name()
    if not gpu and not args.allow_cpu:
        emit({"benchmark": "gpu", "skipped": "TensorFlow sees no GPU on this machine"})
        return 0
    cfg = validate(compose(REPO / "conf", ["train=fast", f"train.epochs={args.epochs}"]))
    (x, y), _ = fashion_mnist()
    if args.limit:
        x, y = x[:args.limit], y[:args.limit]
    policy = apply_policy(cfg.train.mixed_precision)
    info = {"device": gpu or "CPU (smoke run)", "dtype_policy": policy, **machine()}

    model = tutorial_cnn(x.shape[1:], 10, seed=0, rescale=True)
    timer = EpochTimer()
    cut = len(y) // 10
    fit(model, (x[cut:], y[cut:]), (x[:cut], y[:cut]), cfg.train, seed=0,
        extra_callbacks=[timer])
    stage_rate = (len(y) - cut) / min(timer.epoch_seconds[1:] or timer.epoch_seconds)
    bare_model = tutorial_cnn(x.shape[1:], 10, seed=0, rescale=True)
    bare_model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                       metrics=["accuracy"])
    bare = bare_loop_rate(bare_model, x[cut:], y[cut:], batch_size=cfg.train.batch_size,
                          epochs=max(args.epochs - 1, 1))
    rows = [emit(figure("gpu", "train images/s: stage fit vs bare loop on device data", ours=stage_rate,
                reference=bare, unit="images/s", goal=GOAL, batch_size=cfg.train.batch_size,
                **info))]

    with tempfile.TemporaryDirectory(prefix="classlens-bench-gpu-") as tmp:
        np.save(Path(tmp) / "images.npy", x)
        split = np.load(Path(tmp) / "images.npy", mmap_mode="r")
        runs = {"ours": lambda: predict_probabilities(model, split,
                                                      batch_size=cfg.predict.batch_size),
                "in_memory": lambda: model.predict(x, batch_size=cfg.predict.batch_size,
                                                   verbose=0)}
        best = {}
        for name, run in runs.items():
            run()
            times = []
            for _ in range(3):
                started = time.perf_counter()
                run()
                times.append(time.perf_counter() - started)
            best[name] = len(x) / min(times)
    rows.append(emit(figure("gpu", "predict images/s: stage streaming vs model.predict in memory",
                ours=best["ours"], reference=best["in_memory"], unit="images/s", goal=GOAL,
                batch_size=cfg.predict.batch_size, **info)))
    apply_policy(False)
    return 0 if all(r["meets_goal"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
