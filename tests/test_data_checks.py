"""Checks on a split dataset before prepare writes it: errors for splits nothing can train or be
scored on, warnings for what skews the scores (a class missing from a split or from the data,
the same pixels in two splits)."""

from __future__ import annotations

import numpy as np
import pytest

from classlens.data.checks import check_dataset
from classlens.errors import InputError

CLASSES = ["cat", "dog", "emu", "yak"]


def _check(labels, parts, hashes=None):
    labels = np.asarray(labels)
    hashes = np.arange(len(labels)).astype(str) if hashes is None else np.asarray(hashes)
    return check_dataset(labels, {k: np.asarray(v) for k, v in parts.items()}, CLASSES,
                         hashes=hashes, ids=[f"img{i}" for i in range(len(labels))])


def test_a_class_absent_from_one_split_and_one_absent_everywhere_are_warned():
    # cat/dog/emu in train; emu never in test; yak has no image at all
    labels = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1]
    checks = _check(labels, {"train": range(6), "val": [6, 7, 8], "test": [9, 10]})
    assert any("'yak' have no usable images" in w for w in checks.warnings), checks.warnings
    test_warning = [w for w in checks.warnings if w.startswith("the test split")]
    assert test_warning == ["the test split has no images of class(es) 'emu'"]
    assert not any(w.startswith(("the train split", "the val split")) for w in checks.warnings)
    assert checks.duplicates.empty


def test_identical_pixels_in_two_splits_are_listed():
    labels = [0, 1, 0, 1, 0, 1]
    hashes = ["a", "b", "c", "d", "a", "e"]  # img4 (test) repeats img0 (train)
    checks = _check(labels, {"train": [0, 1, 2], "val": [3], "test": [4, 5]}, hashes)
    assert checks.duplicates.to_dict("records") == [
        {"id": "img4", "split": "test", "duplicate_of": "img0", "duplicate_split": "train"}]
    assert any("identical pixels in another split" in w for w in checks.warnings)


@pytest.mark.parametrize("parts,message", [
    ({"train": [0, 1], "val": [], "test": [2]}, "the val split is empty"),
    ({"train": [0, 2], "val": [1], "test": [3]}, "holds 1 class(es)"),
])
def test_unusable_splits_are_one_line_errors(parts, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _check([0, 1, 0, 1], parts)
