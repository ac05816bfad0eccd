"""Digits source, stratified split, prepared files and their fingerprint."""

from __future__ import annotations

import numpy as np
import pytest

from classlens import paths
from classlens.data.sources.digits import load_digits
from classlens.data.prepared import (
    dataset_digest,
    load_classes,
    load_manifest,
    load_split,
    write_prepared,
)
from classlens.data.split import assign_splits, stratified_split
from classlens.errors import InputError


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_digits_are_real_uint8_images(digits):
    assert digits.images.shape == (1797, 8, 8, 1)
    assert digits.images.dtype == np.uint8
    assert digits.images.max() == 255 and digits.images.min() == 0
    assert digits.class_names == [str(i) for i in range(10)]
    assert len(set(digits.ids)) == 1797


def test_split_is_deterministic_disjoint_complete_and_stratified(digits):
    a = stratified_split(digits.labels, val_fraction=0.15, test_fraction=0.2, seed=3)
    b = stratified_split(digits.labels, val_fraction=0.15, test_fraction=0.2, seed=3)
    c = stratified_split(digits.labels, val_fraction=0.15, test_fraction=0.2, seed=4)
    for split in paths.SPLITS:
        np.testing.assert_array_equal(a[split], b[split])
    assert not np.array_equal(a["test"], c["test"])
    joined = np.concatenate([a[s] for s in paths.SPLITS])
    assert sorted(joined.tolist()) == list(range(1797))
    assert len(a["test"]) == pytest.approx(0.2 * 1797, abs=2)
    overall = np.bincount(digits.labels) / 1797
    for split in paths.SPLITS:
        share = np.bincount(digits.labels[a[split]], minlength=10) / len(a[split])
        assert np.abs(share - overall).max() < 0.02


def test_split_names_the_classes_too_small_to_stratify_and_their_counts():
    labels = np.array([0] * 10 + [1] * 2 + [2] * 10 + [3] * 1)
    with pytest.raises(InputError, match=r"fewer than 3 images: 'dog' has 2, 'yak' has 1; "):
        stratified_split(labels, val_fraction=0.2, test_fraction=0.2, seed=0,
                         class_names=["cat", "dog", "emu", "yak"])
    with pytest.raises(InputError, match=r"fewer than 3 images: label 1 has 2, label 3 has 1"):
        stratified_split(labels, val_fraction=0.2, test_fraction=0.2, seed=0)  # no names given


def test_carving_a_split_out_of_train_names_the_classes_with_one_train_image():
    labels = np.array([0] * 6 + [1] * 1 + [0, 1])
    splits = ["train"] * 7 + ["test", "test"]
    with pytest.raises(InputError, match=r"fewer than 2 train images: 'dog' has 1; carving a "
                                         r"stratified val split"):
        assign_splits(labels, splits, val_fraction=0.2, test_fraction=0.2, seed=0,
                      class_names=["cat", "dog"])


def _write(tmp_path, digits, images=None):
    parts = stratified_split(digits.labels, val_fraction=0.15, test_fraction=0.2, seed=0)
    return write_prepared(tmp_path, images=digits.images if images is None else images,
                          labels=digits.labels, class_names=digits.class_names, ids=digits.ids,
                          source_paths=digits.paths, split_indices=parts), parts


def test_prepared_files_trace_back_to_source_ids(tmp_path, digits):
    record, parts = _write(tmp_path, digits)
    manifest = load_manifest(tmp_path)
    assert load_classes(tmp_path) == digits.class_names
    test = load_split("test", tmp_path)
    assert isinstance(test.images, np.memmap)
    rows = manifest[manifest.split == "test"].sort_values("position")
    for row in rows.head(20).itertuples():
        source_index = int(row.id.split(":")[1])
        np.testing.assert_array_equal(test.images[row.position], digits.images[source_index])
        assert test.labels[row.position] == digits.labels[source_index] == row.label
    assert record["counts"]["test"]["0"] == int((digits.labels[parts["test"]] == 0).sum())
    assert sum(sum(c.values()) for c in record["counts"].values()) == 1797


def test_fingerprint_is_stable_and_changes_with_one_pixel(tmp_path, digits):
    first, _ = _write(tmp_path / "a", digits)
    second, _ = _write(tmp_path / "b", digits)
    assert first["digest"] == second["digest"] == dataset_digest(tmp_path / "a")
    changed = digits.images.copy()
    changed[5, 3, 3, 0] ^= 1
    third, _ = _write(tmp_path / "c", digits, images=changed)
    assert third["digest"] != first["digest"]


def test_missing_prepared_data_is_one_clear_line(tmp_path):
    with pytest.raises(InputError, match="not found; run the stage"):
        load_split("train", tmp_path / "nowhere")
