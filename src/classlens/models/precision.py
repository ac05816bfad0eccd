"""Mixed precision, when the config asks for it: float16 compute with float32 weights on a GPU,
bfloat16 compute on a CPU that has bfloat16 instructions (AVX512-BF16 or AMX), float32 otherwise.

float16 on a CPU is emulated and slower, so a CPU without bfloat16 support stays float32 even
when `train.mixed_precision` is true; with it, oneDNN runs the convolutions in bfloat16 (measured
about 2x the float32 images/s on a 2-core AMD EPYC with AVX512-BF16, benchmarks/README.md).
Every model keeps its `logits` and `probabilities` layers in float32, so the loss, the
predictions and the explanations are computed in full precision.
"""

from __future__ import annotations

import logging
from pathlib import Path

MIXED = "mixed_float16"
MIXED_CPU = "mixed_bfloat16"
FULL = "float32"
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")

log = logging.getLogger(__name__)


def cpu_supports_bfloat16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU lists a bfloat16 instruction set (Linux' /proc/cpuinfo; False elsewhere)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return any(flag in line.split() for flag in BF16_CPU_FLAGS)
    return False


def choose_policy(mixed_precision: bool, *, gpu_count: int, cpu_bfloat16: bool = False) -> str:
    """The Keras dtype policy name for a run: mixed_float16 if asked for and a GPU exists,
    mixed_bfloat16 if asked for on a CPU with bfloat16 instructions, else float32."""
    if not mixed_precision:
        return FULL
    if gpu_count > 0:
        return MIXED
    return MIXED_CPU if cpu_bfloat16 else FULL


def apply_policy(mixed_precision: bool) -> str:
    """Set Keras' global dtype policy for models built from now on; returns its name.

    Call before building the model. Sets float32 explicitly otherwise, so an earlier mixed run
    in the same process does not leak into this one.
    """
    import keras
    import tensorflow as tf

    policy = choose_policy(mixed_precision, gpu_count=len(tf.config.list_physical_devices("GPU")),
                           cpu_bfloat16=cpu_supports_bfloat16())
    keras.mixed_precision.set_global_policy(policy)
    if mixed_precision and policy == FULL:
        log.warning("train: mixed_precision is on but there is no GPU and the CPU has no bfloat16 "
              "instructions; training in float32")
    return policy
