"""Mixed precision: float16 compute with float32 weights on a GPU, when the config asks for it.

CPUs gain nothing from float16 (it is emulated and slower), so a CPU run stays float32 even when
`train.mixed_precision` is true. Every model keeps its `logits` and `probabilities` layers in
float32, so the loss, the predictions and the explanations are computed in full precision.
"""

from __future__ import annotations

MIXED = "mixed_float16"
FULL = "float32"


def choose_policy(mixed_precision: bool, *, gpu_count: int) -> str:
    """The Keras dtype policy name for a run: mixed_float16 only if asked for and a GPU exists."""
    return MIXED if mixed_precision and gpu_count > 0 else FULL


def apply_policy(mixed_precision: bool) -> str:
    """Set Keras' global dtype policy for models built from now on; returns its name.

    Call before building the model. Sets float32 explicitly otherwise, so an earlier mixed run
    in the same process does not leak into this one.
    """
    import keras
    import tensorflow as tf

    policy = choose_policy(mixed_precision, gpu_count=len(tf.config.list_physical_devices("GPU")))
    keras.mixed_precision.set_global_policy(policy)
    if mixed_precision and policy == FULL:
        print("train: mixed_precision is on but no GPU is visible; training in float32")
    return policy
