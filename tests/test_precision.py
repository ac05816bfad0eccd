"""Mixed precision: mixed_float16 when configured and a GPU exists, mixed_bfloat16 when configured
on a CPU with bfloat16 instructions, float32 otherwise; under a mixed policy the logits and
probabilities stay float32."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from classlens.config import compose, validate  # noqa: E402
from classlens.models import BACKBONE_LAYER, LOGITS_LAYER, build_model  # noqa: E402
from classlens.models.precision import (FULL, MIXED, MIXED_CPU, apply_policy,  # noqa: E402
                                        choose_policy, cpu_supports_bfloat16)
from tests.conftest import REPO  # noqa: E402
from tests.helpers import model_config  # noqa: E402

HAS_GPU = bool(tf.config.list_physical_devices("GPU"))


@pytest.fixture(autouse=True)
def restore_policy():
    yield
    keras.mixed_precision.set_global_policy(FULL)


@pytest.mark.parametrize("configured,gpus,bf16,expected", [
    (True, 1, False, MIXED), (True, 4, True, MIXED), (True, 0, False, FULL),
    (True, 0, True, MIXED_CPU), (False, 1, True, FULL), (False, 0, True, FULL),
])
def test_policy_is_mixed_only_when_configured_and_the_hardware_has_it(configured, gpus, bf16,
                                                                       expected):
    assert choose_policy(configured, gpu_count=gpus, cpu_bfloat16=bf16) == expected


@pytest.mark.parametrize("flags,expected", [
    ("fpu sse avx2 avx512f avx512_bf16 avx512_vnni", True), ("fpu sse amx_bf16 amx_tile", True),
    ("fpu sse avx2 avx512f", False), ("fpu sse avx512_bf16x", False)])
def test_cpu_bfloat16_is_read_from_the_cpu_flags(tmp_path, flags, expected):
    (tmp_path / "cpuinfo").write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert cpu_supports_bfloat16(tmp_path / "cpuinfo") is expected
    assert cpu_supports_bfloat16(tmp_path / "absent") is False


@pytest.mark.skipif(HAS_GPU or cpu_supports_bfloat16(),
                    reason="checks a CPU without bfloat16; this machine has a GPU or bfloat16")
def test_cpu_run_stays_float32_even_when_configured(capsys):
    assert apply_policy(True) == FULL
    assert "no GPU" in capsys.readouterr().out
    model = build_model(model_config("mobilenet", "model.alpha=0.25"), input_shape=(8, 8, 1),
                        num_classes=3, seed=0)
    assert {v.dtype for v in model.variables if "int" not in v.dtype} == {"float32"}
    assert model.get_layer(BACKBONE_LAYER).get_layer("conv1").compute_dtype == "float32"


def test_an_earlier_mixed_policy_does_not_leak_into_a_float32_run():
    keras.mixed_precision.set_global_policy(MIXED)
    assert apply_policy(False) == FULL
    assert keras.mixed_precision.global_policy().name == FULL


@pytest.mark.parametrize("model_option,overrides,conv", [
    ("cnn_small", [], "block1_conv1"),
    ("mobilenet", ["model.weights=null", "model.alpha=0.25"], "conv1"),
])
def test_mixed_policy_computes_in_float16_but_outputs_float32(model_option, overrides, conv):
    # what apply_policy sets on a GPU machine; float16 runs (slowly) on CPU too
    keras.mixed_precision.set_global_policy(MIXED)
    cfg = validate(compose(REPO / "conf", [f"model={model_option}", *overrides])).model
    model = build_model(cfg, input_shape=(8, 8, 1), num_classes=3, seed=0)
    owner = model.get_layer(BACKBONE_LAYER) if cfg.architecture != "cnn" else model
    layer = owner.get_layer(conv)
    assert layer.compute_dtype == "float16" and layer.variable_dtype == "float32"
    assert model.get_layer(LOGITS_LAYER).compute_dtype == "float32"
    out = model.predict(np.full((2, 8, 8, 1), 128, np.uint8), verbose=0)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.skipif(HAS_GPU or not cpu_supports_bfloat16(),
                    reason="checks a CPU with bfloat16 instructions")
def test_bfloat16_cpu_computes_in_bfloat16_and_trains(tmp_path):
    assert apply_policy(True) == MIXED_CPU
    cfg = validate(compose(REPO / "conf", ["model=cnn_small"])).model
    model = build_model(cfg, input_shape=(8, 8, 1), num_classes=3, seed=0)
    assert model.get_layer("block1_conv1").compute_dtype == "bfloat16"
    assert model.get_layer("logits").compute_dtype == "float32"
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    images = np.random.default_rng(0).integers(0, 255, (64, 8, 8, 1)).astype("uint8")
    labels = np.arange(64) % 3
    history = model.fit(images, labels, epochs=2, verbose=0).history
    assert np.isfinite(history["loss"]).all()
    assert model.predict(images[:4], verbose=0).dtype == np.float32
