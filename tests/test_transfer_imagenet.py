"""Done-when check of transfer learning: with KERAS_HOME pointing at the shared Keras cache,
`MobileNet(alpha=0.25, weights="imagenet")` loads real ImageNet weights offline, and fine-tuning
it on a small CIFAR-10 JPEG subset beats the same network with `weights: null` at the same
budget, so the weights are loaded and used."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import run

REPO = Path(__file__).resolve().parents[1]
# relative to the checkout, as README tells users to set it
KERAS_HOME = Path("../shared/datasets/keras-home")
CIFAR = Path("../shared/datasets/cifar10-jpg.tar.gz")
WEIGHTS = "models/mobilenet_2_5_128_tf_no_top.h5"


@pytest.mark.slow  # two trainings of 8 epochs: about 1-2 minutes on 2 cores
@pytest.mark.skipif(not ((REPO / KERAS_HOME / WEIGHTS).exists() and (REPO / CIFAR).exists()),
                    reason="shared datasets absent (../shared/datasets/keras-home, "
                           "cifar10-jpg.tar.gz): the offline ImageNet check needs them")
def test_imagenet_weights_beat_random_init_on_cifar10_subset():
    proc = run([sys.executable, "-m", "tests.cifar_transfer_run", str(CIFAR)], cwd=REPO,
               env={"KERAS_HOME": str(KERAS_HOME), "PYTHONPATH": str(REPO)}, timeout=900)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    result = json.loads(line[len("RESULT "):])
    assert result["sizes"] == {"train": 400, "val": 200, "test": 300}
    # 10 classes: chance is 0.10. Measured: ImageNet 0.42, random init 0.10.
    assert result["imagenet"] >= 0.3, result
    assert result["imagenet"] >= result["null"] + 0.15, result
