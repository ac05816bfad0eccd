"""Attribution speed: each method on a batch of images at once versus a one-image-at-a-time loop
(the way the usual tutorials do it), on the CPU.

Two loops are timed against the batched explainer:
- `tutorial`: one image at a time, eager `tf.GradientTape`, as the usual tutorials write it
  (Keras' Grad-CAM example rebuilding its gradient model per image; SmoothGrad looping over noise
  samples as PAIR's `saliency` does; the TensorFlow Integrated Gradients tutorial's path steps in
  one call per image; occlusion patches of one image through `model.predict`, as tf-explain).
  The goal (>= 5x) is stated against this loop.
- `own loop`: the same explainer object (compiled, traced) called on one image at a time, which
  isolates what batching across images adds; methods that already batch samples, path steps or
  patches within an image gain less here, and the table says so.
The model is the default scratch CNN (conf/model/cnn.yaml) with random
weights (speed does not depend on training); the options are the stage's defaults
(conf/explain/default.yaml). Prints one JSON line per measured figure, then a table.

    python benchmarks/explain.py                        # 64 digits images, 8x8x1
    python benchmarks/explain.py --shape 32 32 3        # CIFAR-sized random images
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # the goal is stated for the CPU
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, emit, figure  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GOAL = 5.0


def _images(shape: tuple[int, int, int], n: int) -> np.ndarray:
    if shape == (8, 8, 1):
        from sklearn.datasets import load_digits

        return np.rint(load_digits().images[:n] * 255 / 16).astype(np.uint8)[..., None]
    return np.random.default_rng(0).integers(0, 256, (n, *shape)).astype(np.uint8)


def tutorial_loop(name: str, model, explainer, images, targets) -> None:
    """Reference implementations in the tutorials' style: eager, one image per call."""
    import keras
    import tensorflow as tf

    from classlens.explain.layers import find_last_conv_layer, get_layer

    logits = explainer.logits
    for image, target in zip(images.astype(np.float32), targets):
        x = tf.constant(image[None])
        if name == "gradients":
            with tf.GradientTape() as tape:
                tape.watch(x)
                score = logits(x)[:, target]
            np.abs(tape.gradient(score, x).numpy()).max(axis=-1)
        elif name == "smoothgrad":
            total = np.zeros_like(image)
            spread = float(image.max() - image.min()) or 1.0
            for _ in range(explainer.samples):
                noisy = tf.constant(image[None] + np.random.normal(
                    0, explainer.noise * spread, image.shape).astype(np.float32))
                with tf.GradientTape() as tape:
                    tape.watch(noisy)
                    score = logits(noisy)[:, target]
                total += tape.gradient(score, noisy).numpy()[0]
        elif name == "integrated_gradients":
            alphas = tf.reshape(tf.linspace(0.0, 1.0, explainer.steps + 1), (-1, 1, 1, 1))
            path = alphas * x
            with tf.GradientTape() as tape:
                tape.watch(path)
                score = logits(path)[:, target]
            grads = tape.gradient(score, path)
            (x[0] * tf.reduce_mean(grads, axis=0)).numpy()
        elif name in ("gradcam", "gradcam_plus_plus"):
            layer = get_layer(model, find_last_conv_layer(model))
            grad_model = keras.Model(model.inputs, [layer.output, logits.output])
            with tf.GradientTape() as tape:
                conv, preds = grad_model(x)
                score = preds[:, target]
            grads = tape.gradient(score, conv)
            weights = tf.reduce_mean(grads, axis=(0, 1, 2))
            tf.nn.relu(tf.reduce_sum(conv[0] * weights, axis=-1)).numpy()
        elif name == "occlusion":
            occluded = np.where(explainer.masks[..., None], 0.0, image[None])
            model.predict(occluded, verbose=0)[:, target]
        else:
            raise ValueError(f"no tutorial loop for {name!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--shape", type=int, nargs=3, default=[8, 8, 1])
    parser.add_argument("--repeats", type=int, default=3, help="best of this many timings")
    parser.add_argument("--methods", nargs="*", default=None)
    args = parser.parse_args()

    import keras
    import tensorflow as tf

    from classlens.config import compose, validate
    from classlens.explain import make_explainer
    from classlens.models import build_model
    from classlens.pipeline.explain import method_options

    cfg = validate(compose(ROOT / "conf"), source="conf/ (composed)")
    shape = tuple(args.shape)
    model = build_model(cfg.model, input_shape=shape, num_classes=10, seed=cfg.seed)
    images = _images(shape, args.images)
    targets = model.predict(images, verbose=0).argmax(axis=1)
    options = method_options(cfg.explain, seed=cfg.seed)
    rows = []
    for name in args.methods or cfg.explain.methods:
        explainer = make_explainer(name, model, batch_size=cfg.explain.batch_size,
                                   **options[name])
        explainer.explain(images[:2], targets[:2])  # trace once; both sides reuse it
        batched = best_of(args.repeats, lambda: explainer.explain(images, targets))
        own = best_of(args.repeats, lambda: [explainer.explain(images[i:i + 1],
                                                               targets[i:i + 1])
                                             for i in range(len(images))])
        # eager loops are slow and far from the batched figure: one timing is enough
        tutorial = best_of(1, lambda: tutorial_loop(name, model, explainer, images, targets))
        row = figure("explain", f"{name}: batched vs tutorial one-image loop",
                     ours=len(images) / batched, reference=len(images) / tutorial,
                     unit="images/s", goal=GOAL, method=name, images=len(images),
                     shape=list(shape), batch_size=cfg.explain.batch_size,
                     own_loop_images_per_s=round(len(images) / own, 1),
                     speedup_vs_own_loop=round(own / batched, 2))
        rows.append(emit(row))

    print(f"\n{len(images)} images {shape[0]}x{shape[1]}x{shape[2]}, CPU, "
          f"tensorflow {tf.__version__}, keras {keras.__version__}, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"{'method':<22}{'batched':>10}{'tutorial loop':>15}{'speedup':>9}"
          f"{'own loop':>10}{'speedup':>9}   (images/s; goal >= {GOAL}x vs the tutorial loop)")
    for row in rows:
        print(f"{row['method']:<22}{row['ours']:>10.1f}"
              f"{row['reference']:>15.1f}{row['ratio']:>8.1f}x"
              f"{row['own_loop_images_per_s']:>10.1f}{row['speedup_vs_own_loop']:>8.1f}x   "
              f"{'ok' if row['meets_goal'] else 'BELOW GOAL'}")
    return 0 if all(row["meets_goal"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
