"""Multi-label data (an image carries any number of the classes, including none): CSV manifests
with a `labels` column, the digit mosaics checked against scikit-learn's digits tile by tile,
the rarest-label split and sample, the checks, and the prepared files' layout."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from classlens import paths
from classlens.config import load_params, write_params
from classlens.data.checks import check_dataset
from classlens.data.ingest import select_per_class
from classlens.data.options import DataConfig
from classlens.data import label_sets
from classlens.data.prepared import (is_multilabel, load_classes,
                                     load_fingerprint, load_manifest, load_split, write_prepared)
from classlens.data.sources import (class_names_before_prepare, load_catalog,
                                    multilabel_before_prepare)
from classlens.data.sources.csv_manifest import read_manifest
from classlens.data.sources.digits import load_digits
from classlens.data.sources.mosaics import BLANK_NOISE, mosaic_catalog
from classlens.data.split import assign_splits, stratified_split
from classlens.errors import InputError
from classlens.pipeline import prepare
from tests.conftest import REPO, run
from tests.data_builders import make_folder
from tests.helpers import digits

NAMES = ["c0", "c1", "c2"]


def _prepare(project: Path, *overrides: str) -> dict:
    write_params(project / "params.yaml", project / "conf", list(overrides))
    return prepare.run(load_params(project / "params.yaml"))


def _manifest(tmp_path: Path, cells: list[str], *, header: str = "labels") -> Path:
    """A manifest over real digit images, one row per `cells` entry (its labels cell)."""
    written = sorted(make_folder(tmp_path / "imgs", per_class=max(len(cells), 3) // 3 + 1,
                                 formats=("png-L",)))
    manifest = tmp_path / "manifest.csv"
    pd.DataFrame({"path": [f"imgs/{p}" for p in written[:len(cells)]], header: cells}
                 ).to_csv(manifest, index=False)
    return manifest


# ---------------------------------------------------------------- CSV manifest

def test_a_labels_column_gives_multi_hot_labels_with_empty_sets_kept(tmp_path):
    manifest = _manifest(tmp_path, ["c1|c0", "", " c2 | c0 ", "c1", "c2|c2", "c3|c1"])
    catalog = read_manifest(manifest)
    assert catalog.multilabel and catalog.labels.dtype == np.uint8
    assert catalog.class_names == ["c0", "c1", "c2", "c3"]  # the names found, sorted
    assert catalog.labels.tolist() == [[1, 1, 0, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 1, 0, 0],
                                       [0, 0, 1, 0], [0, 1, 0, 1]]
    assert [w for w in catalog.warnings if "more than once" in w] == [
        "1 manifest row(s) name a label more than once (e.g. line 6: 'c2|c2'); each label "
        "counts once per image"]
    fixed = read_manifest(manifest, class_names=["c3", "c2", "c1", "c0"])
    np.testing.assert_array_equal(fixed.labels[:, ::-1], catalog.labels)  # columns follow it


@pytest.mark.parametrize("cells,header,class_names,needles", [
    (["c0", "c0|dog"], "labels", NAMES,
     ["manifest.csv:3: label 'dog' is not in data.class_names (3 names: 'c0', 'c1', 'c2')",
      "fix the row"]),
    ([f"c{i}" for i in range(8)] + ["x"], "labels", [f"c{i}" for i in range(8)],
     ["manifest.csv:10: label 'x'", "(8 names: 'c0', 'c1', 'c2', 'c3', 'c4', ...)"]),
    (["c0", "c0||c1"], "labels", [], ["manifest.csv:3: labels 'c0||c1' has an empty name"]),
    (["c1|", "c0"], "labels", [], ["manifest.csv:2: labels 'c1|' has an empty name"]),
    (["c0", "c1"], "both", [], ["has both a 'label' and a 'labels' column"]),
])
def test_bad_label_sets_are_one_line_errors_and_nothing_is_written(
        project, tmp_path, cells, header, class_names, needles):
    manifest = _manifest(tmp_path, cells, header="labels")
    if header == "both":
        table = pd.read_csv(manifest)
        table["label"] = table["labels"]
        table.to_csv(manifest, index=False)
    with pytest.raises(InputError) as caught:
        read_manifest(manifest, class_names=class_names)
    line = str(caught.value)
    assert "\n" not in line and str(manifest) in line
    for needle in needles:
        assert needle in line, line
    with pytest.raises(InputError):  # the prepare stage stops on it before writing anything
        _prepare(project, "data=csv", f"data.manifest={manifest}", "data.image_size=[8,8]",
                 "data.channels=1", f"data.class_names=[{','.join(class_names)}]")
    assert not (project / paths.PREPARED_DIR).exists()


def test_a_folder_of_two_class_folders_is_already_binary_single_label_data(tmp_path):
    from classlens.data.sources.folder import list_folder

    written = make_folder(tmp_path / "two", classes=(3, 8), per_class=5, formats=("png-L",))
    catalog = list_folder(tmp_path / "two")
    assert not catalog.multilabel and catalog.class_names == ["digit3", "digit8"]
    assert catalog.labels.dtype == np.int64
    assert dict(zip(catalog.ids, catalog.labels.tolist())) == {
        path: [3, 8].index(label) for path, label in written.items()}


# ---------------------------------------------------------------- digit mosaics

@pytest.fixture(scope="module")
def mosaics():
    catalog = mosaic_catalog(load_digits(), "digits_mosaics", val_fraction=0.15,
                             test_fraction=0.2)
    return catalog, np.stack(list(catalog.read(np.arange(len(catalog)))))


def _tiles(images: np.ndarray) -> np.ndarray:
    """(N, 4) index into scikit-learn's digits of each 8x8 tile (row-major), -1 for blank,
    found by matching the pixels against scikit-learn's own images."""
    source, _ = digits()
    index = {image.tobytes(): i for i, image in enumerate(source)}

    def tile(pixels: np.ndarray) -> int:
        if pixels.tobytes() in index:
            return index[pixels.tobytes()]
        assert pixels.max() < BLANK_NOISE, "a tile neither a digit image nor blank noise"
        return -1

    return np.array([[tile(image[r:r + 8, c:c + 8]) for r in (0, 8) for c in (0, 8)]
                     for image in images])


def test_digits_mosaics_are_deterministic_and_independent_of_the_run(mosaics):
    catalog, images = mosaics
    again = mosaic_catalog(load_digits(), "digits_mosaics", val_fraction=0.15, test_fraction=0.2)
    np.testing.assert_array_equal(np.stack(list(again.read(np.arange(len(again))))), images)
    np.testing.assert_array_equal(again.labels, catalog.labels)
    assert again.splits == catalog.splits and again.ids == catalog.ids
    assert images.shape == (1797, 16, 16, 1) and images.dtype == np.uint8
    assert catalog.ids[:2] == ["digits_mosaics:0", "digits_mosaics:1"]
    assert catalog.labels.shape == (1797, 10) and catalog.class_names == [str(i) for i in range(10)]


def test_mosaic_labels_are_the_distinct_digits_of_their_tiles(mosaics):
    catalog, images = mosaics
    _, targets = digits()
    tiles = _tiles(images)  # KeyError if a tile is neither blank nor a digit image
    expected = np.zeros_like(catalog.labels)
    for row, picks in enumerate(tiles):
        expected[row, targets[picks[picks >= 0]]] = 1
    np.testing.assert_array_equal(catalog.labels, expected)
    per_image = catalog.labels.sum(axis=1)
    assert set(per_image) == {0, 1, 2, 3, 4}  # some with no label, some with four
    # blank: a whole mosaic with probability 0.05, else a tile with probability 0.25
    assert 0.25 < (tiles == -1).mean() < 0.33


def test_mosaics_without_labels_are_in_every_split_and_never_identical(mosaics):
    catalog, images = mosaics
    splits = np.asarray(catalog.splits)
    empty = ~catalog.labels.any(axis=1)
    for split in ("train", "val", "test"):
        assert empty[splits == split].mean() > 0.03, split
    flat = images.reshape(len(images), -1)
    assert len(np.unique(flat, axis=0)) == len(images)  # no two mosaics alike (blank noise)


def test_no_tile_image_is_shared_between_splits(mosaics):
    catalog, images = mosaics
    tiles, splits = _tiles(images), np.asarray(catalog.splits)
    used = {s: set(tiles[splits == s].ravel()) - {-1} for s in ("train", "val", "test")}
    assert not used["test"] & used["train"] and not used["val"] & used["train"]
    assert not used["test"] & used["val"]
    # the pools are 20% / 15% of the 1,797 digits, one mosaic per pool image
    assert (splits == "test").sum() == 360 and (splits == "val").sum() == 270
    assert len(used["test"]) <= 360 and len(used["train"]) > 1000


def test_mosaic_sources_say_their_classes_and_kind_without_reading_pixels():
    code = ("import sys\nfrom classlens.data.options import DataConfig\n"
            "from classlens.data.sources import class_names_before_prepare as names, "
            "multilabel_before_prepare as multi\n"
            "for source in ('fashion_mnist_mosaics', 'digits_mosaics'):\n"
            "    cfg = DataConfig(source=source, class_names=[])\n"
            "    print(names(cfg)[0], names(cfg)[-1], multi(cfg))\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'sklearn')))\n")
    out = run([sys.executable, "-c", code], cwd=REPO).stdout.splitlines()
    assert out == ["T-shirt/top Ankle boot True", "0 9 True", "[]"]


def test_a_csv_manifest_is_multi_label_when_its_header_says_labels(tmp_path):
    single = _manifest(tmp_path / "a", ["c0", "c1"], header="label")
    multi = _manifest(tmp_path / "b", ["c0", "c1"], header=" Labels")
    assert not multilabel_before_prepare(DataConfig(source="csv", manifest=str(single)))
    assert multilabel_before_prepare(DataConfig(source="csv", manifest=str(multi)))
    assert class_names_before_prepare(
        DataConfig(source="csv", manifest=str(multi), root="", class_names=[])) == ["c0", "c1"]


# ---------------------------------------------------------------- split, sample, checks

def _label_sets(seed: int = 0, n: int = 400) -> np.ndarray:
    """Five common labels at random, a rare one on 8 images, about 10% with no label."""
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, 6)) < 0.3).astype(np.uint8)
    labels[:, 5] = 0
    labels[rng.choice(n, 8, replace=False), 5] = 1
    labels[rng.choice(n, n // 10, replace=False)] = 0
    return labels


def _rarest(labels: np.ndarray) -> np.ndarray:
    """Each image's rarest label by hand (fewest images, then class order), K for none."""
    counts = labels.sum(axis=0)
    return np.array([min(np.flatnonzero(row), key=lambda c: (counts[c], c)) if row.any()
                     else labels.shape[1] for row in labels])


@pytest.mark.parametrize("seed", range(5))
def test_split_keeps_every_label_in_train_and_label_shares_even(seed):
    labels = _label_sets(seed)
    labels[:, 4] = 0
    labels[[0, 1], 4] = 1  # and a label on only 2 images: no error, pooled with the others
    parts = stratified_split(labels, val_fraction=0.15, test_fraction=0.2, seed=seed)
    joined = np.sort(np.concatenate(list(parts.values())))
    np.testing.assert_array_equal(joined, np.arange(len(labels)))
    assert labels[parts["train"]].any(axis=0)[[0, 1, 2, 3, 5]].all()
    assert labels[parts["train"], 5].sum() >= 4  # the rare label mostly stays to learn from
    for split, idx in parts.items():  # every split has images without a label
        assert (~labels[idx].any(axis=1)).sum() > 0, split
    # the test cut keeps each rarest-label stratum's share (strata found here by hand)
    strata = _rarest(labels)
    in_test = np.bincount(strata[parts["test"]], minlength=7)
    for stratum, size in enumerate(np.bincount(strata, minlength=7)):
        if size >= 6:
            assert abs(in_test[stratum] - 0.2 * size) <= 2, (stratum, in_test, size)
    again = stratified_split(labels, val_fraction=0.15, test_fraction=0.2, seed=seed)
    assert all(np.array_equal(parts[s], again[s]) for s in parts)


def test_a_presplit_multi_label_source_gets_its_val_carved_from_train():
    labels = _label_sets()
    splits = ["test"] * 80 + ["train"] * 320
    parts = assign_splits(labels, splits, val_fraction=0.2, test_fraction=0.2, seed=1)
    np.testing.assert_array_equal(parts["test"], np.arange(80))
    assert len(parts["val"]) == 64 and set(parts["val"]) <= set(range(80, 400))


def test_max_per_class_caps_each_rarest_label_stratum():
    labels = _label_sets()
    rarest = _rarest(labels)
    chosen = select_per_class(labels, None, max_per_class=10, seed=0)
    assert (np.bincount(rarest[chosen], minlength=7) == np.minimum(
        np.bincount(rarest, minlength=7), 10)).all()
    assert labels[chosen].any(axis=0).all()
    assert labels[chosen, 5].sum() == labels[:, 5].sum() > 0  # the rarest label: all kept


def test_identical_images_with_different_label_sets_conflict():
    labels = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 0], [0, 0, 0], [1, 0, 1], [0, 1, 1]],
                      np.uint8)
    hashes = np.array([7, 7, 9, 9, 1, 2], np.uint64)  # img1 = img0 (a|b vs a), img3 = img2
    checks = check_dataset(labels, {"train": np.array([0, 1, 4, 5]), "val": np.array([2]),
                                    "test": np.array([3])}, ["a", "b", "c"], hashes=hashes,
                           ids=[f"img{i}" for i in range(6)])
    assert checks.label_conflicts[["id", "label", "conflicts_with", "conflicting_label"]
                                  ].values.tolist() == [["img1", "a", "img0", "a|b"],
                                                        ["img3", "", "img2", "a|b"]]
    assert checks.duplicates["id"].tolist() == ["img3"]
    with pytest.raises(InputError, match="carry no label that only some of them have"):
        check_dataset(labels[[0, 2]], {"train": np.array([0]), "val": np.array([1]),
                                       "test": np.array([1])}, ["a", "b", "c"],
                      hashes=np.array([1, 2], np.uint64), ids=["x", "y"])


# ---------------------------------------------------------------- prepared files

def test_prepared_multi_label_files_have_the_documented_layout(project):
    record = _prepare(project, "data=digits_mosaics")
    catalog = load_catalog(load_params(project / "params.yaml").data)
    prepared = project / paths.PREPARED_DIR
    assert is_multilabel(prepared) and record["multilabel"] is True
    assert load_fingerprint(prepared) == record and load_classes(prepared) == catalog.class_names
    manifest = load_manifest(prepared)
    assert list(manifest.columns) == ["id", "split", "position", "labels", "path"]
    by_id = dict(zip(catalog.ids, range(len(catalog))))
    for split in paths.SPLITS:
        part = load_split(split, prepared)
        rows = manifest[manifest.split == split].sort_values("position")
        assert part.labels.dtype == np.uint8 and part.labels.shape == (len(rows), 10)
        source = catalog.labels[[by_id[i] for i in rows["id"]]]
        np.testing.assert_array_equal(part.labels, source)  # pre-split: ids keep their split
        assert rows["id"].map(lambda i: catalog.splits[by_id[i]]).eq(split).all()
        texts = [[str(c) for c in np.flatnonzero(r)] for r in source]
        assert [label_sets.names(cell) for cell in rows["labels"]] == texts
        assert record["counts"][split] == {str(c): int(n) for c, n in
                                           enumerate(source.sum(axis=0))}
        assert record["no_label"][split] == int((source.sum(axis=1) == 0).sum())
    assert sum(record["no_label"].values()) == (catalog.labels.sum(axis=1) == 0).sum() > 0
    summary = json.loads((prepared / "report" / "summary.json").read_text())
    assert summary["no_label"] == record["no_label"] and summary["multilabel"] is True
    assert (prepared / "report" / "samples.png").stat().st_size > 0


def test_images_with_no_label_survive_prepare_from_a_manifest(project, tmp_path):
    cells = ["c0", "", "c1|c2", "c2", ""] * 6
    manifest = _manifest(tmp_path, cells)
    record = _prepare(project, "data=csv", f"data.manifest={manifest}", "data.image_size=[8,8]",
                      "data.channels=1")
    assert sum(record["no_label"].values()) == 12 and record["skipped"] == 0
    prepared = load_manifest(project / paths.PREPARED_DIR)
    assert (prepared["labels"] == "").sum() == 12
    assert sorted(set(prepared["labels"])) == ["", "c0", "c1|c2", "c2"]


def test_single_label_fingerprints_do_not_say_multilabel(tmp_path):
    data = load_digits()
    parts = stratified_split(data.labels, val_fraction=0.15, test_fraction=0.2, seed=0)
    record = write_prepared(tmp_path, images=data.images, labels=data.labels,
                            class_names=data.class_names, ids=data.ids, source_paths=data.paths,
                            split_indices=parts)
    assert "multilabel" not in record and "no_label" not in record and not is_multilabel(tmp_path)
    assert "label" in load_manifest(tmp_path).columns


# ---------------------------------------------------------------- Fashion-MNIST mosaics

KERAS_HOME = Path(os.environ.get("CLASSLENS_DATASETS", REPO.parent / "shared" / "datasets")
                  ) / "keras-home"


@pytest.mark.slow  # a fresh process reading 70,000 Fashion-MNIST images
@pytest.mark.skipif(not (KERAS_HOME / "datasets" / "fashion-mnist").is_dir(),
                    reason=f"{KERAS_HOME} has no Fashion-MNIST (the shared Keras cache)")
def test_fashion_mnist_mosaics_take_test_tiles_from_the_test_images_only():
    # a fresh process: Keras reads KERAS_HOME once, when it is imported
    code = """
import numpy as np, keras
from classlens.data.options import DataConfig
from classlens.data.sources import load_catalog
catalog = load_catalog(DataConfig(source="fashion_mnist_mosaics", val_fraction=0.1,
                                  test_fraction=0.3))
(x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
splits = np.asarray(catalog.splits)
print(len(catalog), (splits == "test").sum(), (splits == "val").sum())
train_tiles = {x.tobytes() for x in x_train}
test_tiles = {x.tobytes(): y for x, y in zip(x_test, y_test)}
picks = np.flatnonzero(splits == "test")[::50]
for i, image in zip(picks, catalog.read(picks)):
    tiles = [image[r:r + 28, c:c + 28, 0] for r in (0, 28) for c in (0, 28)]
    # a tile is a test image, or blank (faint noise); never a train image
    assert all(t.tobytes() in test_tiles or t.max() < 48 for t in tiles), i
    shown = {test_tiles[t.tobytes()] for t in tiles if t.tobytes() in test_tiles}
    assert set(np.flatnonzero(catalog.labels[i])) == shown, i
    assert not any(t.tobytes() in train_tiles for t in tiles), i
print("checked", len(picks), image.shape)
"""
    out = run([sys.executable, "-c", code], cwd=REPO,
              env={"KERAS_HOME": str(KERAS_HOME)}).stdout.splitlines()
    assert out[-2:] == ["70000 10000 6000", "checked 200 (56, 56, 1)"]
