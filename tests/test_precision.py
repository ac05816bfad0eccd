"""Mixed precision: mixed_float16 only when configured and a GPU exists; CPU runs stay float32;
under the mixed policy the logits and probabilities stay float32."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from classlens.config import compose, validate  # noqa: E402
from classlens.models import BACKBONE_LAYER, LOGITS_LAYER, build_model  # noqa: E402
from classlens.models.precision import FULL, MIXED, apply_policy, choose_policy  # noqa: E402
from tests.test_transfer import REPO, model_config  # noqa: E402

HAS_GPU = bool(tf.config.list_physical_devices("GPU"))


@pytest.fixture(autouse=True)
def restore_policy():
    yield
    keras.mixed_precision.set_global_policy(FULL)


@pytest.mark.parametrize("configured,gpus,expected", [
    (True, 1, MIXED), (True, 4, MIXED), (True, 0, FULL), (False, 1, FULL), (False, 0, FULL),
])
def test_policy_is_mixed_only_when_configured_and_a_gpu_exists(configured, gpus, expected):
    assert choose_policy(configured, gpu_count=gpus) == expected


@pytest.mark.skipif(HAS_GPU, reason="checks the CPU path; this machine has a GPU")
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
