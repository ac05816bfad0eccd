"""Contracts every member of a family keeps, checked for each member the registry lists, so a new
member cannot skip them: every data source lists and reads a dataset as the same kind of
`Catalog`, and every model architecture ends in `logits` then a softmax named `probabilities`.
(Every config group option composing and validating is in test_config.py, beside the schema.)"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from classlens.config import MODEL_ARCHITECTURES, compose, validate
from classlens.data.catalog import Catalog, Skipped
from classlens.data.sources import SOURCES, load_catalog
from tests.conftest import REPO, run
from tests.data_builders import make_folder, write_idx
from tests.helpers import digits, model_config

# ---------------------------------------------------------------- data sources

SPLITS = {"train", "val", "test"}


def assert_catalog_contract(catalog: Catalog, *, size: int | None = None,
                            classes: int | None = None) -> None:
    """What the prepare stage relies on from any source: one id, path and int64 label per image
    (ids unique, labels indexing `class_names`; multi-label: a uint8 0/1 row of one column per
    class), source splits absent or named by SPLITS, and `read` yielding, in order, a readable
    file or a uint8 image array per index asked."""
    assert isinstance(catalog, Catalog)
    n = len(catalog)
    assert n > 0 and len(catalog.paths) == n and len(catalog.labels) == n
    if size is not None:
        assert n == size
    assert all(isinstance(i, str) and i for i in catalog.ids) and len(set(catalog.ids)) == n
    assert all(isinstance(p, str) for p in catalog.paths)
    labels = np.asarray(catalog.labels)
    assert catalog.multilabel == (labels.ndim == 2)
    if catalog.multilabel:
        assert labels.dtype == np.uint8 and labels.shape == (n, len(catalog.class_names))
        assert set(np.unique(labels)) <= {0, 1}
        present = np.flatnonzero(labels.any(axis=0))
    else:
        assert labels.dtype == np.int64 and labels.min() >= 0
        assert labels.max() < len(catalog.class_names)
        present = np.unique(labels)
    assert len(catalog.class_names) >= 2 and all(isinstance(c, str) for c in catalog.class_names)
    if classes is not None:
        assert len(catalog.class_names) == classes and len(present) == classes
    if catalog.splits is not None:
        assert len(catalog.splits) == n and set(catalog.splits) <= SPLITS
    picks = np.unique(np.linspace(0, n - 1, 5).astype(int))
    items = list(catalog.read(picks))
    assert len(items) == len(picks)
    for item in items:
        if isinstance(item, Path):
            assert item.is_file(), item
        else:
            assert isinstance(item, np.ndarray) and item.dtype == np.uint8, type(item)
            # (H, W) or (H, W, C): IDX files give 2-D grayscale, the array sources 3-D
            assert item.ndim == 2 or (item.ndim == 3 and item.shape[-1] in (1, 3)), item.shape
    assert all(isinstance(s, Skipped) for s in catalog.skipped)
    assert all(isinstance(w, str) for w in catalog.warnings)


def _data_config(*overrides: str):
    return validate(compose(REPO / "conf", list(overrides))).data


def _digits_source(tmp_path: Path):
    return _data_config("data=digits"), 1797, 10


def _folder_source(tmp_path: Path):
    make_folder(tmp_path / "folder", classes=(0, 1, 2), per_class=4)
    return _data_config("data=folder", f"data.root={tmp_path / 'folder'}"), 12, 3


def _csv_source(tmp_path: Path):
    written = make_folder(tmp_path / "csv" / "images", classes=(0, 1, 2), per_class=4)
    manifest = tmp_path / "csv" / "manifest.csv"
    pd.DataFrame([(f"images/{path}", f"c{label}") for path, label in sorted(written.items())],
                 columns=["path", "label"]).to_csv(manifest, index=False)
    return _data_config("data=csv", f"data.manifest={manifest}"), 12, 3


def _idx_source(tmp_path: Path):
    images, labels = digits(50)
    root = tmp_path / "idx"
    root.mkdir()
    write_idx(root / "train-images-idx3-ubyte", images[:40, :, :, 0])
    write_idx(root / "train-labels-idx1-ubyte", labels[:40])
    write_idx(root / "t10k-images-idx3-ubyte", images[40:, :, :, 0], gz=True)
    write_idx(root / "t10k-labels-idx1-ubyte", labels[40:], gz=True)
    return _data_config("data=idx", f"data.root={root}"), 50, 10


def _digits_mosaics_source(tmp_path: Path):
    return _data_config("data=digits_mosaics"), 1797, 10


BUILT = {"digits": _digits_source, "folder": _folder_source, "csv": _csv_source,
         "idx": _idx_source, "digits_mosaics": _digits_mosaics_source}
# Keras' own datasets: downloaded into `$KERAS_HOME/datasets` (what Keras 3 keeps there)
KERAS_CACHE = {"mnist": "mnist.npz",
               "fashion_mnist": "fashion-mnist/t10k-labels-idx1-ubyte.gz",
               "cifar10": "cifar-10-batches-py-target",
               "cifar100": "cifar-100-python-target",
               "fashion_mnist_mosaics": "fashion-mnist/t10k-labels-idx1-ubyte.gz"}
SHARED_KERAS_HOME = Path(os.environ.get("CLASSLENS_DATASETS",
                                        REPO.parent / "shared" / "datasets")) / "keras-home"


def test_every_registered_source_is_covered_here():
    assert set(SOURCES) == set(BUILT) | set(KERAS_CACHE)


@pytest.mark.parametrize("name", sorted(BUILT))
def test_source_lists_and_reads_a_catalog(name, tmp_path):
    cfg, size, classes = BUILT[name](tmp_path)
    assert cfg.source == name
    assert_catalog_contract(load_catalog(cfg), size=size, classes=classes)


def keras_contract(name: str) -> None:
    """Run in a fresh process: Keras reads KERAS_HOME once, when it is first imported."""
    catalog = load_catalog(_data_config(f"data={name}"))
    assert_catalog_contract(catalog)
    assert catalog.splits is not None and {"train", "test"} <= set(catalog.splits)
    print("contract kept")


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow)  # 6 s: 70,000 planned
                                  if n == "fashion_mnist_mosaics" else n for n in sorted(KERAS_CACHE)])
def test_keras_dataset_source_lists_and_reads_a_catalog(name):
    home = Path(os.environ.get("KERAS_HOME", SHARED_KERAS_HOME))
    if not (home / "datasets" / KERAS_CACHE[name]).exists():
        pytest.skip(f"{name} is not in the Keras cache {home}/datasets (a download; set "
                    "KERAS_HOME to a cache holding it)")
    proc = run([sys.executable, "-c", "from tests.test_contracts import keras_contract; "
                f"keras_contract({name!r})"], cwd=REPO, env={"KERAS_HOME": str(home)})
    assert proc.stdout.strip().splitlines()[-1] == "contract kept"


# ---------------------------------------------------------------- model architectures


def _provided_model(tmp_path: Path, images: np.ndarray, classes: int):
    """architecture `file`: a small classifier saved by a user, wrapped as the train stage
    wraps it."""
    import keras

    from classlens.models.provided import load_provided

    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(classes, activation="softmax")(x)
    path = tmp_path / "user.keras"
    keras.Model(inputs, outputs).save(path)
    cfg = model_config("file", f"model.path={path}")
    model, _ = load_provided(cfg.path, input_shape=(8, 8, 1), num_classes=classes,
                             input_scaling=cfg.input_scaling, output=cfg.output, sample=images)
    return model


@pytest.mark.parametrize("architecture", MODEL_ARCHITECTURES)
def test_architecture_ends_in_logits_then_softmax_probabilities(architecture, tmp_path):
    # tiny 8x8 input; keras.applications backbones at random init (weights=None, no download)
    import keras

    from classlens.models import build_model

    images, _ = digits(6)
    if architecture == "file":
        model = _provided_model(tmp_path, images, classes=3)
    else:
        model = build_model(model_config(architecture), input_shape=(8, 8, 1), num_classes=3,
                            seed=0)
    assert [layer.name for layer in model.layers[-2:]] == ["logits", "probabilities"]
    both = keras.Model(model.input, [model.get_layer("logits").output, model.output])
    logits, probabilities = (np.asarray(a, np.float64) for a in both.predict(images, verbose=0))
    assert logits.shape == probabilities.shape == (6, 3)
    assert model.get_layer("logits").dtype == model.get_layer("probabilities").dtype == "float32"
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(probabilities, softmax / softmax.sum(axis=1, keepdims=True),
                               atol=1e-6)
