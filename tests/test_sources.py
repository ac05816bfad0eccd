"""Real data in: image folders (every format and mode, plus broken files), CSV manifests and IDX
files written by the tests from the digits data, through the real prepare stage."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from classlens import paths
from classlens.config import load_params, write_params
from classlens.data.conform import ConformSpec, SkipImage, conform_array, conform_file
from classlens.data.sources.folder import list_folder
from classlens.data.sources.idx import list_idx_folder
from classlens.data.prepared import load_classes, load_fingerprint, load_manifest, load_split
from classlens.data.report import SKIPPED, SUMMARY
from classlens.errors import ConfigError, InputError
from classlens.pipeline import prepare
from tests.data_builders import FORMATS, digit_images, make_folder, save_image, write_idx
from tests.helpers import digits


@pytest.fixture(autouse=True)
def _no_leaked_tracking_uri():
    """The in-process stage runs below open an MLflow store, and mlflow.set_tracking_uri exports
    MLFLOW_TRACKING_URI, which classlens reads as the user's override: keep it out of later
    tests (the same guard as main's conftest)."""
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    yield
    import mlflow

    mlflow.set_tracking_uri(None)
    os.environ.pop("MLFLOW_TRACKING_URI", None)


def _prepare(project: Path, *overrides: str) -> dict:
    write_params(project / "params.yaml", project / "conf", list(overrides))
    return prepare.run(load_params(project / "params.yaml"))


def _report(project: Path) -> tuple[dict, pd.DataFrame]:
    report = project / paths.PREPARED_DIR / "report"
    summary = json.loads((report / SUMMARY).read_text())
    return summary, pd.read_csv(report / SKIPPED, keep_default_na=False)


# ---------------------------------------------------------------- decoding


def test_every_format_and_mode_decodes_to_the_configured_shape(tmp_path):
    gray = digit_images((3,), 1)[3][0]
    spec = ConformSpec(size=(20, 24), channels=3, interpolation="bicubic")
    for fmt in FORMATS:
        image, info = conform_file(save_image(gray, tmp_path / fmt, fmt), spec)
        assert image.shape == (20, 24, 3) and image.dtype == np.uint8, fmt
        assert (info.width, info.height) == (16, 16)
        assert image.max() > 100, f"{fmt}: the digit must survive decoding"
    gray_spec = ConformSpec(size=None, channels=1)
    image, _ = conform_file(save_image(gray, tmp_path / "g", "png-L"), gray_spec)
    np.testing.assert_array_equal(image[..., 0], gray)  # lossless PNG: exact pixels


def test_16bit_images_are_scaled_not_clipped(tmp_path):
    ramp = (np.arange(256, dtype=np.uint16).reshape(16, 16)) * 257
    path = tmp_path / "ramp.png"
    Image.fromarray(ramp).save(path)
    image, info = conform_file(path, ConformSpec(size=None, channels=1))
    assert info.mode.startswith("I")
    np.testing.assert_array_equal(image[..., 0].ravel(), np.arange(256))


def test_transparent_pixels_become_black_and_gif_takes_the_first_frame(tmp_path):
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., :3] = 255  # white but fully transparent ...
    rgba[0, 0] = (10, 200, 30, 255)  # ... except one opaque pixel
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    image, _ = conform_file(tmp_path / "a.png", ConformSpec(size=None, channels=3))
    assert image[0, 0].tolist() == [10, 200, 30] and image[1:, 1:].max() == 0
    first = Image.new("L", (4, 4), 255)
    first.save(tmp_path / "b.gif", save_all=True, append_images=[Image.new("L", (4, 4), 0)])
    image, _ = conform_file(tmp_path / "b.gif", ConformSpec(size=None, channels=1))
    assert image.min() == 255


@pytest.mark.parametrize("mode,expected", [("stretch", (8, 32)), ("crop", (8, 8)),
                                           ("pad", (8, 32))])
def test_resize_modes_keep_or_fill_the_aspect_ratio(mode, expected):
    wide = np.full((8, 32), 255, dtype=np.uint8)  # a 4:1 white bar
    image, _ = conform_array(wide, ConformSpec(size=(16, 16), channels=1, resize=mode,
                                               interpolation="nearest"))
    assert image.shape == (16, 16, 1)
    white_rows = int((image[..., 0] == 255).all(axis=1).sum())
    if mode == "pad":  # scaled to 4x16, black bars above and below
        assert white_rows == 4 and image[0].max() == 0
    else:  # stretched or cropped: white everywhere
        assert white_rows == 16


@pytest.mark.parametrize("content,reason", [
    (b"", "empty file"),
    (b"hello, not an image\n", "not an image"),
])
def test_unusable_bytes_give_a_reason(tmp_path, content, reason):
    path = tmp_path / "x.jpg"
    path.write_bytes(content)
    with pytest.raises(SkipImage, match=reason):
        conform_file(path, ConformSpec(size=(8, 8), channels=1))


def test_truncated_files_and_pixel_bombs_are_skipped(tmp_path):
    gray = digit_images((1,), 1)[1][0]
    for fmt in ("png-L", "jpg-RGB"):
        data = save_image(np.tile(gray, (8, 8)), tmp_path / fmt, fmt).read_bytes()
        cut = tmp_path / f"cut-{fmt}"
        cut.write_bytes(data[: len(data) // 2])
        with pytest.raises(SkipImage, match="truncated or corrupt"):
            conform_file(cut, ConformSpec(size=(8, 8), channels=1))
    Image.new("L", (3000, 3000)).save(tmp_path / "bomb.png")
    with pytest.raises(SkipImage, match="pixel limit: 3000x3000"):
        conform_file(tmp_path / "bomb.png", ConformSpec(size=(8, 8), channels=1,
                                                        max_pixels=1_000_000))


# ---------------------------------------------------------------- folder source


@pytest.fixture
def broken_folder(tmp_path) -> tuple[Path, dict[str, int]]:
    """Three digit classes in every format, plus the broken files a real folder holds."""
    root = tmp_path / "images"
    written = make_folder(root, per_class=14)
    (root / "digit0" / "zero.png").write_bytes(b"")
    (root / "digit1" / "notes.txt").write_text("not an image")
    good = (root / "digit2" / "000.png").read_bytes()
    (root / "digit2" / "cut.png").write_bytes(good[: len(good) // 2])
    (root / "digit2" / ".DS_Store").write_bytes(b"\0\1")
    (root / "README.md").write_text("stray file beside the class folders")
    return root, written


def test_folder_prepares_with_ids_classes_split_and_skip_list(project, broken_folder):
    root, written = broken_folder
    record = _prepare(project, "data=folder", f"data.root={root}", "data.image_size=[16,16]",
                      "data.channels=1", "data.max_skipped_fraction=0.2")
    assert load_classes() == ["digit0", "digit1", "digit2"]
    manifest = load_manifest()
    assert sorted(manifest["id"]) == sorted(written)  # every good file, once, by its path
    assert (manifest["id"] == manifest["path"]).all()
    for image_id, label, name in zip(manifest["id"], manifest["label"], manifest["class"]):
        assert label == written[image_id] and name == f"digit{label}"
    sizes = manifest["split"].value_counts().to_dict()
    assert sizes == {"train": 26, "val": 7, "test": 9}  # 42 images, stratified 0.65/0.15/0.2
    assert all(manifest[manifest.split == s]["label"].nunique() == 3 for s in paths.SPLITS)
    test = load_split("test")
    row = manifest[manifest.split == "test"].iloc[0]
    original = np.asarray(Image.open(root / row["path"]).convert("L"))
    assert np.abs(test.images[row["position"], :, :, 0].astype(int) - original).max() <= 8
    assert record["image_shape"] == [16, 16, 1]

    summary, skipped = _report(project)
    reasons = dict(zip(skipped["path"], skipped["reason"]))
    assert reasons["digit0/zero.png"] == "empty file (0 bytes)"
    assert reasons["digit1/notes.txt"] == "not an image Pillow can read"
    assert reasons["digit2/cut.png"].startswith("truncated or corrupt")
    assert reasons["digit2/.DS_Store"] == "hidden file"
    assert reasons["README.md"] == "not inside a class folder"
    assert summary["images_skipped"] == 4 and summary["files_ignored"] == 1
    assert load_fingerprint()["skipped"] == 4  # the images_skipped metric's source: no .DS_Store
    assert summary["source_sizes"]["width"]["max"] == 16
    assert set(summary["source_formats"]) == {"PNG", "JPEG", "BMP", "GIF"}
    report = project / paths.PREPARED_DIR / "report"
    for png in ("class_counts.png", "samples.png"):
        assert (report / png).read_bytes()[:4] == b"\x89PNG"


def test_the_images_skipped_metric_agrees_with_the_summary(project, broken_folder):
    """Hidden files are not images: neither the summary nor the MLflow metric counts them."""
    import mlflow

    from classlens.tracking.log import log_data_report

    root, _ = broken_folder
    _prepare(project, "data=folder", f"data.root={root}", "data.image_size=[16,16]",
             "data.max_skipped_fraction=0.2")
    summary, skipped = _report(project)
    assert "hidden file" in set(skipped["reason"])  # the .DS_Store is listed, as ignored
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    with mlflow.start_run() as run:
        log_data_report(project / paths.PREPARED_REPORT, load_fingerprint(), load_classes())
    metrics = mlflow.MlflowClient().get_run(run.info.run_id).data.metrics
    assert metrics["images_skipped"] == summary["images_skipped"] == 4


def test_the_pixel_limit_quoted_is_the_configured_one_and_no_raw_warning_leaks(project,
                                                                               tmp_path):
    import warnings

    root = tmp_path / "big"
    make_folder(root, per_class=6, formats=("png-L",))  # 16x16: 256 pixels each
    Image.new("L", (40, 40)).save(root / "digit0" / "warned.png")  # 1x-2x the limit: Pillow warns
    Image.new("L", (50, 50)).save(root / "digit1" / "bomb.png")  # over 2x: Pillow's error
    filters, limit = list(warnings.filters), Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        _prepare(project, "data=folder", f"data.root={root}", "data.image_size=[16,16]",
                 "data.max_image_pixels=1000", "data.max_skipped_fraction=0.2")
    assert not [w for w in seen if issubclass(w.category, Image.DecompressionBombWarning)]
    _, skipped = _report(project)
    reasons = dict(zip(skipped["path"], skipped["reason"]))
    assert reasons == {
        "digit0/warned.png": "over the pixel limit: 1600 pixels > data.max_image_pixels 1000",
        "digit1/bomb.png": "over the pixel limit: 2500 pixels > data.max_image_pixels 1000"}
    # Pillow's limit and the warning filters are as they were: nothing process-wide left behind
    assert Image.MAX_IMAGE_PIXELS == limit and warnings.filters == filters


def test_label_conflicts_across_splits_reach_the_data_report(project, tmp_path, capsys):
    root = tmp_path / "conflicts"
    written = make_folder(root, per_class=12, formats=("png-L",), presplit=True)
    train0 = sorted(p for p, c in written.items() if p.startswith("train/digit0/"))[0]
    (root / "test" / "digit1" / "same.png").write_bytes((root / train0).read_bytes())
    _prepare(project, "data=folder", f"data.root={root}", "data.image_size=[16,16]")
    assert "identical pixels under another label" in capsys.readouterr().err
    report = project / paths.PREPARED_DIR / "report"
    [row] = pd.read_csv(report / "label_conflicts.csv").itertuples(index=False)
    assert {(row.id, row.split, row.label),
            (row.conflicts_with, row.conflicting_split, row.conflicting_label)} == {
        ("test/digit1/same.png", "test", "digit1"), (train0, "train", "digit0")}
    [dup] = pd.read_csv(report / "duplicates.csv").itertuples(index=False)  # also a duplicate
    assert {dup.id, dup.duplicate_of} == {"test/digit1/same.png", train0}
    summary, _ = _report(project)
    assert summary["label_conflicts"] == 1
    from classlens.pipeline.report_inputs import data_part

    notes, _, lists = data_part(report)  # the HTML report's data section, beside duplicates
    shown = {t.caption: len(t.rows) for t in lists}
    assert shown["Identical images, different labels"] == 1
    assert shown["Identical images in two splits"] == 1
    assert any("identical pixels under another label" in n for n in notes)


def test_too_many_bad_files_fail_and_keep_the_previous_data(project, broken_folder, capsys):
    root, _ = broken_folder
    _prepare(project)  # digits: a good prepared folder to keep
    before = load_fingerprint()["digest"]
    with pytest.raises(InputError, match=r"4 of 46 images skipped \(8.7% > "
                                         r"data.max_skipped_fraction 0.05\)"):
        _prepare(project, "data=folder", f"data.root={root}", "data.image_size=[16,16]")
    assert load_fingerprint()["digest"] == before
    assert not list((project / "data").glob(".prepared*"))


def test_fingerprint_is_stable_and_changes_when_one_pixel_does(project, tmp_path):
    root = tmp_path / "png"
    make_folder(root, per_class=6, formats=("png-L",))
    args = ("data=folder", f"data.root={root}", "data.image_size=[16,16]", "data.channels=1")
    first = _prepare(project, *args)["digest"]
    assert _prepare(project, *args)["digest"] == first
    path = root / "digit1" / "002.png"
    pixels = np.asarray(Image.open(path)).copy()
    pixels[5, 5] ^= 1
    Image.fromarray(pixels).save(path)
    assert _prepare(project, *args)["digest"] != first


def test_presplit_folder_keeps_its_test_split(project, tmp_path):
    root = tmp_path / "split"
    written = make_folder(root, per_class=12, formats=("png-L", "jpg-RGB"), presplit=True)
    _prepare(project, "data=folder", f"data.root={root}", "data.image_size=[16,16]")
    manifest = load_manifest()
    test_ids = set(manifest[manifest.split == "test"]["id"])
    assert test_ids == {p for p in written if p.startswith("test/")}
    assert all(i.startswith("train/") for i in manifest[manifest.split != "test"]["id"])
    assert len(manifest[manifest.split == "val"]) > 0
    assert load_split("train").images.shape[1:] == (16, 16, 3)


def test_symlinks_out_of_the_root_are_refused(project, tmp_path):
    root = tmp_path / "linked"
    make_folder(root, per_class=8, formats=("png-L",))
    outside = tmp_path / "secret"
    outside.mkdir()
    save_image(digit_images((5,), 1)[5][0], outside / "x", "png-L")
    os.symlink(outside / "x.png", root / "digit0" / "escape.png")
    os.symlink(outside, root / "digit1" / "escape_dir")
    os.symlink(root / "digit2" / "000.png", root / "digit2" / "inside.png")  # inside: fine
    _prepare(project, "data=folder", f"data.root={root}", "data.image_size=[16,16]",
             "data.max_skipped_fraction=0.1")
    _, skipped = _report(project)
    reasons = dict(zip(skipped["path"], skipped["reason"]))
    assert reasons["digit0/escape.png"].startswith("symlink pointing outside the data root")
    assert reasons["digit1/escape_dir/"].startswith("symlinked folder pointing outside")
    assert "digit2/inside.png" in set(load_manifest()["id"])


def test_duplicates_across_splits_and_empty_classes_are_warned(project, tmp_path, capsys):
    root = tmp_path / "dups"
    make_folder(root, per_class=10, formats=("png-L",))
    (root / "digit9").mkdir()  # an empty class folder
    for n in range(10):  # every image of class 0 twice: some copies land in other splits
        (root / "digit0" / f"copy{n}.png").write_bytes((root / "digit0" / f"{n:03d}.png")
                                                       .read_bytes())
    _prepare(project, "data=folder", f"data.root={root}", "data.image_size=[16,16]")
    err = capsys.readouterr().err
    assert "class folder 'digit9' has no image files" in err
    assert "'digit9' have no usable images" in err
    assert "identical pixels in another split" in err
    dups = pd.read_csv(project / paths.PREPARED_DIR / "report" / "duplicates.csv")
    assert len(dups) > 0 and (dups["split"] != dups["duplicate_split"]).all()
    assert load_classes()[-1] == "digit9"  # the class mapping keeps the folder


@pytest.mark.parametrize("layout,message", [
    ({"only": 5}, "has only 'only'"),
    ({}, "has no class folders"),
])
def test_fewer_than_two_classes_is_an_error(tmp_path, layout, message):
    root = tmp_path / "few"
    root.mkdir()
    for name, count in layout.items():
        (root / name).mkdir()
        for n in range(count):
            save_image(np.zeros((4, 4), np.uint8), root / name / str(n), "png-L")
    with pytest.raises(InputError, match=message):
        list_folder(root)


def test_missing_root_is_a_clear_config_error(project):
    with pytest.raises(ConfigError, match=r"data.root is empty; set it"):
        _prepare(project, "data=folder")
    with pytest.raises(InputError, match="is not a folder"):
        _prepare(project, "data=folder", "data.root=/nonexistent/images")


# ---------------------------------------------------------------- CSV manifest


def test_csv_manifest_with_splits_missing_files_unknown_labels_and_escapes(project, tmp_path):
    root = tmp_path / "csvdata"
    written = make_folder(root / "imgs", per_class=9, formats=("png-L", "bmp-RGB"))
    rows = [(f"imgs/{p}", f"c{label}", "test" if i % 3 == 0 else "train")
            for i, (p, label) in enumerate(sorted(written.items()))]
    rows += [("imgs/missing.png", "c0", "train"), ("../outside.png", "c1", "train"),
             ("imgs/" + sorted(written)[1], "c0", "train"),  # same file again
             ("imgs/" + sorted(written)[2], "c7", "train")]  # label not in the class list
    manifest = root / "manifest.csv"
    pd.DataFrame(rows, columns=["path", "label", "split"]).to_csv(manifest, index=False)
    _prepare(project, "data=csv", f"data.manifest={manifest}", "data.image_size=[12,12]",
             "data.channels=1", "data.class_names=[c0,c1,c2]", "data.max_skipped_fraction=0.2")
    assert load_classes() == ["c0", "c1", "c2"]
    prepared = load_manifest()
    assert len(prepared) == 27
    assert set(prepared[prepared.split == "test"]["id"]) == {
        r[0] for r in rows[:27] if r[2] == "test"}
    _, skipped = _report(project)
    reasons = [r for r in skipped["reason"]]
    assert "file not found" in reasons
    assert any(r.startswith("path outside the data root") for r in reasons)
    assert any(r.startswith("same file as line") for r in reasons)
    assert "label 'c7' not in data.class_names" in reasons
    assert skipped["path"].str.contains(r"manifest.csv:\d+ ").all()  # file and line named


def test_csv_manifest_errors_name_the_file_and_line(tmp_path):
    from classlens.data.sources.csv_manifest import read_manifest

    manifest = tmp_path / "m.csv"
    manifest.write_text("file,label\na.png,x\n")
    with pytest.raises(InputError, match="lacks column\\(s\\) path"):
        read_manifest(manifest)
    manifest.write_text("path,label,split\na.png,x,training\n")
    with pytest.raises(InputError, match=r"m.csv:2: split 'training' is not one of"):
        read_manifest(manifest)


# ---------------------------------------------------------------- IDX


def _idx_folder(root: Path, gz: bool) -> tuple[np.ndarray, np.ndarray]:
    images, labels = digits(300)
    images = images[..., 0]
    root.mkdir(parents=True, exist_ok=True)
    write_idx(root / "train-images-idx3-ubyte", images[:240], gz=gz)
    write_idx(root / "train-labels-idx1-ubyte", labels[:240], gz=gz)
    write_idx(root / "t10k-images-idx3-ubyte", images[240:], gz=gz)
    write_idx(root / "t10k-labels-idx1-ubyte", labels[240:], gz=gz)
    return images, labels


@pytest.mark.parametrize("gz", [False, True])
def test_idx_files_prepare_exactly(project, tmp_path, gz):
    images, labels = _idx_folder(tmp_path / "idx", gz)
    _prepare(project, "data=idx", f"data.root={tmp_path / 'idx'}")
    manifest = load_manifest()
    test = manifest[manifest.split == "test"].sort_values("position")
    assert test["id"].tolist() == [f"idx:test:{i}" for i in range(60)]
    split = load_split("test")
    np.testing.assert_array_equal(split.images[..., 0], images[240:])
    np.testing.assert_array_equal(split.labels, labels[240:])
    train = manifest[manifest.split == "train"]
    first = train.iloc[0]
    index = int(first["id"].split(":")[2])
    np.testing.assert_array_equal(load_split("train").images[first["position"], ..., 0],
                                  images[index])


def test_idx_bad_magic_and_mismatched_counts_are_clear_errors(tmp_path):
    images, labels = _idx_folder(tmp_path / "ok", gz=True)
    bad = tmp_path / "bad"
    bad.mkdir()
    write_idx(bad / "train-images-idx3-ubyte", images, magic=b"\x50\x4b\x03\x04")
    write_idx(bad / "train-labels-idx1-ubyte", labels)
    with pytest.raises(InputError, match="bad magic number 0x504b0304"):
        list_idx_folder(bad)
    write_idx(bad / "train-images-idx3-ubyte", images)
    write_idx(bad / "train-labels-idx1-ubyte", labels[:-1])
    with pytest.raises(InputError, match="299 labels but train-images-idx3-ubyte holds 300"):
        list_idx_folder(bad)
    raw = (bad / "train-images-idx3-ubyte").read_bytes()
    (bad / "train-images-idx3-ubyte").write_bytes(raw[:-10])
    with pytest.raises(InputError, match="truncated or mismatched"):
        list_idx_folder(bad)
    with pytest.raises(ConfigError, match="lists 2 names but the IDX labels go up to 9"):
        list_idx_folder(tmp_path / "ok", class_names=["a", "b"])


# ---------------------------------------------------------------- every stage on a folder


def test_every_stage_runs_on_an_rgb_folder_and_traces_back_to_files(project, tmp_path):
    from classlens.cli import STAGES, run_stage

    root = tmp_path / "rgb"
    make_folder(root, classes=(0, 1, 2, 3), per_class=15,
                formats=("png-RGBA", "jpg-RGB", "png-P", "bmp-RGB"))
    write_params(project / "params.yaml", project / "conf",
                 ["data=folder", f"data.root={root}", "data.image_size=[20,20]"])
    for stage in STAGES:
        run_stage(stage)
    table = pd.read_csv(project / paths.PREDICTIONS)
    assert len(table) == 12 and all((root / p).is_file() for p in table["path"])
    assert set(table["true_label"]) == {"digit0", "digit1", "digit2", "digit3"}
    metrics = json.loads((project / paths.ALL_METRICS).read_text())
    assert set(metrics["per_class"]) == {"digit0", "digit1", "digit2", "digit3"}
    maps = np.load(paths.explain_maps("gradients", project / paths.EXPLAIN_DIR))
    assert maps.shape[1:] == (20, 20)


def test_new_files_get_exactly_the_pixels_prepare_gave_the_model(project, tmp_path):
    """`classlens predict` (and the MLflow model) preprocess a file with the prepare stage's own
    code: for every prepared file (every format and mode, odd sizes and aspect ratios, centre
    crop, Lanczos), the record stored with the model turns the file (as a path and as bytes)
    into exactly the prepared array."""
    from classlens.serving.preprocessing import (PreprocessingRecord, load_image,
                                                 record_for_training)

    root = tmp_path / "images"
    make_folder(root, per_class=8)
    rng = np.random.default_rng(0)
    for n, (height, width, mode) in enumerate([(13, 20, "RGB"), (17, 9, "RGBA"), (11, 23, "L")]):
        noise = rng.integers(0, 256, (height, width, len(mode)), dtype=np.uint8)
        Image.fromarray(noise[..., 0] if mode == "L" else noise, mode).save(
            root / f"digit{n}" / f"odd{n}.{'jpg' if mode == 'RGB' else 'png'}")
    _prepare(project, "data=folder", f"data.root={root}", "data.image_size=[12,10]",
             "data.channels=3", "data.resize=crop", "data.interpolation=lanczos")
    cfg = load_params(project / "params.yaml")
    record_path = tmp_path / "preprocessing.json"
    record_for_training(image_shape=load_fingerprint()["image_shape"],
                        class_names=load_classes(), data_options=cfg.data).write(record_path)
    record = PreprocessingRecord.read(record_path)
    assert (record.resize, record.interpolation, record.input_shape) == ("crop", "lanczos",
                                                                          (12, 10, 3))

    manifest = load_manifest()
    assert len(manifest) == 27 and manifest["path"].str.startswith("digit").all()
    for split, rows in manifest.groupby("split"):
        prepared = load_split(split).images
        for row in rows.itertuples():
            path = root / row.path
            np.testing.assert_array_equal(load_image(path, record), prepared[row.position],
                                          err_msg=row.path)
            np.testing.assert_array_equal(load_image(path.read_bytes(), record),
                                          prepared[row.position], err_msg=row.path)
