"""Prediction speed: the predict stage's own path (`classlens.models.inference.predict_probabilities`,
streaming batches of `predict.batch_size` from a prepared split's `.npy` file with positioned
reads) against the tutorial way, `model.predict` on the float array already in memory (Keras'
default batch of 32), on the same weights and the same Fashion-MNIST images. Goal: at least
0.9x (the streaming overhead at most 10%).

    python benchmarks/predict.py               # 60,000 images, best of 3 for each side

The two sides alternate, and each figure is the best of the repeats (the machine is shared);
a like-for-like line at the stage's batch size on the in-memory array is printed too.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit, fashion_mnist, figure, machine, tutorial_cnn  # noqa: E402

GOAL = 0.9


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=60000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    import time

    from classlens.config import compose, validate
    from classlens.models.inference import predict_probabilities
    from common import REPO

    batch_size = validate(compose(REPO / "conf")).predict.batch_size
    (x, _), _ = fashion_mnist()
    x = x[:args.images]
    ours_model = tutorial_cnn(rescale=True)  # takes the prepared uint8 images
    tutorial_model = tutorial_cnn()  # takes x / 255
    tutorial_model.set_weights(ours_model.get_weights())
    floats = x.astype(np.float32) / 255.0
    timings = {"ours": [], "tutorial": [], "in_memory_same_batch": []}
    with tempfile.TemporaryDirectory(prefix="classlens-bench-predict-") as tmp:
        path = Path(tmp) / "images.npy"
        np.save(path, x)
        split = np.load(path, mmap_mode="r")  # what prepared.load_split hands the stage
        runs = {
            "ours": lambda: predict_probabilities(ours_model, split, batch_size=batch_size),
            "tutorial": lambda: tutorial_model.predict(floats, verbose=0),
            "in_memory_same_batch": lambda: ours_model.predict(x, batch_size=batch_size,
                                                               verbose=0),
        }
        results = {name: run() for name, run in runs.items()}  # warm up (trace) every path
        np.testing.assert_allclose(results["ours"], results["tutorial"], atol=1e-4)
        for _ in range(args.repeats):
            for name, run in runs.items():
                started = time.perf_counter()
                run()
                timings[name].append(time.perf_counter() - started)
    rate = {name: len(x) / min(seconds) for name, seconds in timings.items()}
    row = emit(figure("predict", "predict images/s (stage streaming from .npy vs "
                      "model.predict in memory)", ours=rate["ours"], reference=rate["tutorial"],
                      unit="images/s", goal=GOAL, images=len(x), batch_size=batch_size,
                      reference_batch_size=32,
                      in_memory_at_stage_batch_images_per_s=round(rate["in_memory_same_batch"]),
                      **machine()))
    return 0 if row["meets_goal"] else 1


if __name__ == "__main__":
    sys.exit(main())
