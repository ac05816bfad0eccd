"""Checks on a split dataset before prepare writes it: errors for splits nothing can train or be
scored on, warnings for what skews the scores (a class missing from a split or from the data,
the same pixels in two splits or under two labels), and the class list's own check."""

from __future__ import annotations

import numpy as np
import pytest

from classlens.data.catalog import CLASS_NAMES
from classlens.data.checks import check_dataset
from classlens.errors import ConfigError, InputError

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


def test_the_same_image_under_two_labels_is_a_label_conflict_in_any_split():
    labels = [0, 1, 0, 1, 2, 3, 0, 1]
    # img4 (test, emu) = img0 (train, cat): a duplicate across splits AND a label conflict;
    # img2 (train, cat) = img1 (train, dog): same split, so no duplicate, but a conflict;
    # img7 (test, dog) = img3 (val, dog): a duplicate with the same label, no conflict
    hashes = ["a", "b", "b", "c", "a", "d", "e", "c"]
    checks = _check(labels, {"train": [0, 1, 2], "val": [3], "test": [4, 5, 6, 7]}, hashes)
    assert checks.duplicates[["id", "duplicate_of"]].values.tolist() == [
        ["img4", "img0"], ["img7", "img3"]]
    assert checks.label_conflicts.to_dict("records") == [
        {"id": "img4", "split": "test", "label": "emu", "conflicts_with": "img0",
         "conflicting_split": "train", "conflicting_label": "cat"},
        {"id": "img2", "split": "train", "label": "cat", "conflicts_with": "img1",
         "conflicting_split": "train", "conflicting_label": "dog"}]
    [warning] = [w for w in checks.warnings if "under another label" in w]
    assert warning.startswith("2 image(s) have identical pixels under another label (e.g. img4 "
                              "in test labelled 'emu' = img0 in train labelled 'cat')")
    assert "report/label_conflicts.csv" in warning


def test_no_label_conflicts_without_identical_pixels():
    checks = _check([0, 1, 0, 1], {"train": [0, 1], "val": [2], "test": [3]})
    assert checks.label_conflicts.empty and list(checks.label_conflicts.columns) == [
        "id", "split", "label", "conflicts_with", "conflicting_split", "conflicting_label"]
    assert not any("label" in w for w in checks.warnings)


def test_a_repeated_class_name_among_a_thousand_is_named_alone_with_its_positions(tmp_path):
    from classlens.data.sources.csv_manifest import read_manifest

    names = [f"class{i:04d}" for i in range(1000)]
    names[917] = "class0003"
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label\na.png,class0001\n")
    with pytest.raises(ConfigError) as err:
        read_manifest(manifest, class_names=names)
    message = str(err.value)
    assert message == ("data.class_names must list each name once; received 1000 names, repeating "
                       "'class0003' at positions 3, 917 (positions count from 0)")
    with pytest.raises(ConfigError, match="'a' at positions 0, 2; 'b' at positions 1, 3 "):
        CLASS_NAMES.check("data.class_names", ["a", "b", "a", "b", "c"])
    CLASS_NAMES.check("data.class_names", names[:900])  # distinct: accepted


def test_the_check_stage_refuses_a_repeated_class_name_before_prepare_runs():
    from classlens.data.options import DataConfig
    from classlens.data.sources import check_location

    names = ["cat", "dog", "cat"]
    with pytest.raises(ConfigError, match=r"repeating 'cat' at positions 0, 2 "):
        check_location(DataConfig(source="digits", class_names=names))
    assert check_location(DataConfig(source="digits", class_names=names[:2])) == \
        "data.source digits"
