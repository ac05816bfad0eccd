"""Property-based tests of ingest (Hypothesis): random bytes, every Pillow mode the sources meet,
odd sizes, truncated and bit-flipped files, headers declaring 0 or huge sizes, and random class
names, through the decoding and the listing the prepare stage uses. Each case either works or
ends in a recorded skip or one line (InputError / ConfigError); no other exception escapes, and
no file is dropped without a reason. No TensorFlow here: the prepare path never imports it."""

from __future__ import annotations

import io
import struct
import tempfile
import warnings
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from classlens.data.catalog import Catalog
from classlens.data.checks import check_dataset
from classlens.data.conform import (INTERPOLATIONS, RESIZE_MODES, ConformSpec, SkipImage,
                                    conform_file, pixel_limit)
from classlens.data.ingest import check_skipped_share, ingest, select_per_class
from classlens.data.sources.csv_manifest import read_manifest
from classlens.data.sources.folder import list_folder
from classlens.data.split import assign_splits
from classlens.errors import ClassLensError

MODES = ("L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F", "1")
FORMATS = ("PNG", "TIFF", "JPEG", "BMP", "GIF", "WEBP", "ICO", "PPM", "TGA")
# What real files start with, so random bytes get past format detection into the decoders.
MAGICS = (b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"BM", b"II*\x00",
          b"MM\x00*", b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"\x00\x00\x01\x00", b"P5\n",
          b"8BPS", b"\x0a\x05\x01\x08", b"icns")
DECLARED = (0, 1, 3, 4097, 65535, 2**31 - 1, 2**32 - 1)  # sizes written into headers
# Small limits keep a file that declares a large size from being decoded (slowly) at all.
LIMITS = (4096, 1 << 20)
FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=20, deadline=None, database=None,
               suppress_health_check=[HealthCheck.too_slow])


def _image(mode: str, width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, (height, width), dtype=np.uint16))
    if mode == "I":
        return Image.fromarray(rng.integers(-2**31, 2**31 - 1, (height, width), dtype=np.int32))
    if mode == "F":  # values in and out of 0..1
        return Image.fromarray((rng.random((height, width)) * 3 - 1).astype(np.float32))
    rgb = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")
    return rgb.quantize(8) if mode == "P" else rgb.convert(mode)


def _encode(image: Image.Image, fmt: str) -> bytes:
    """The image as `fmt`, or as TIFF (which takes every mode) when Pillow cannot write it so."""
    out = io.BytesIO()
    try:
        image.save(out, fmt)
    except (OSError, ValueError, KeyError, TypeError):
        out = io.BytesIO()
        image.save(out, "TIFF")
    return out.getvalue()


def _declare_size(data: bytes, width: int, height: int) -> bytes:
    """`data` with its header declaring width x height (PNG with a valid CRC, BMP, GIF)."""
    if data.startswith(b"\x89PNG") and len(data) >= 33:
        ihdr = data[12:16] + struct.pack(">II", width, height) + data[24:29]
        return data[:16] + ihdr[4:] + struct.pack(">I", zlib.crc32(ihdr)) + data[33:]
    if data.startswith(b"BM") and len(data) >= 26:
        return data[:18] + struct.pack("<ii", width % 2**31, height % 2**31) + data[26:]
    if data.startswith(b"GIF") and len(data) >= 10:
        return data[:6] + struct.pack("<HH", width % 2**16, height % 2**16) + data[10:]
    return data


@st.composite
def image_files(draw) -> bytes:
    """The bytes of an image file: a real one in a random mode, size and format, left whole,
    truncated, with flipped bytes or with a header declaring another size; or random bytes."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.sampled_from(MAGICS)) + draw(st.binary(max_size=2048))
    image = _image(draw(st.sampled_from(MODES)), draw(st.integers(1, 40)),
                   draw(st.integers(1, 40)), draw(st.integers(0, 2**16)))
    data = _encode(image, draw(st.sampled_from(FORMATS)))
    damage = draw(st.sampled_from(("none", "truncate", "flip", "declare")))
    if damage == "truncate":
        return data[:draw(st.integers(0, max(len(data) - 1, 0)))]
    if damage == "flip":
        raw = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            raw[draw(st.integers(0, len(raw) - 1))] ^= draw(st.integers(1, 255))
        return bytes(raw)
    if damage == "declare":
        return _declare_size(data, draw(st.sampled_from(DECLARED)), draw(st.sampled_from(DECLARED)))
    return data


specs = st.builds(
    ConformSpec,
    size=st.one_of(st.none(), st.tuples(st.integers(1, 24), st.integers(1, 24))),
    channels=st.sampled_from((0, 1, 3)), resize=st.sampled_from(RESIZE_MODES),
    interpolation=st.sampled_from(INTERPOLATIONS), max_pixels=st.sampled_from(LIMITS))
# Names a file system takes as a folder name (no '/', no NUL, not '.' or '..', short).
folder_names = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\0"),
                       min_size=1, max_size=12).filter(lambda n: n not in (".", "..")
                                                       and len(n.encode()) < 200)
labels = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


def _one_line(err: BaseException) -> None:
    message = str(err)
    assert message.strip() and "\n" not in message and "\r" not in message, repr(message)


def _conformed_as_specified(array: np.ndarray, spec: ConformSpec) -> None:
    assert array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] in (1, 3)
    if spec.size is not None:
        assert array.shape[:2] == spec.size
    if spec.channels:
        assert array.shape[2] == spec.channels


@FUZZ
@given(data=image_files(), spec=specs)
def test_any_file_conforms_to_the_spec_or_is_skipped_with_one_line(data, spec):
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        path = Path(folder) / "image"
        path.write_bytes(data)
        try:
            with pixel_limit(spec.max_pixels):  # as ingest decodes
                array, info = conform_file(path, spec)
        except SkipImage as skip:
            _one_line(skip)
            if "pixel limit" in str(skip):  # the configured limit, never Pillow's own number
                assert f"data.max_image_pixels {spec.max_pixels}" in str(skip), str(skip)
        else:
            _conformed_as_specified(array, spec)
            assert info.width * info.height <= spec.max_pixels
    assert not seen, [f"{w.category.__name__}: {w.message}" for w in seen]  # no raw warning


def _good_png(folder: Path, name: str, seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    _image("L", 8, 8, seed).save(folder / f"{name}.png")


def _prepare_path(catalog_of, spec: ConformSpec) -> None:
    """What the prepare stage does with a source before writing: list, sample, conform, check
    the skipped share, split, check; every listed file kept or skipped with a reason."""
    with tempfile.TemporaryDirectory() as scratch:
        try:
            catalog: Catalog = catalog_of()
            selected = select_per_class(catalog.labels, catalog.splits, max_per_class=0, seed=0)
            found = ingest(catalog, selected, spec, scratch=Path(scratch) / "rows.bin",
                           workers=2)
            assert len(found.kept) + len(found.skipped) == len(selected)
            assert all(s.reason.strip() and "\n" not in s.reason for s in found.skipped)
            check_skipped_share(catalog.skipped + found.skipped, len(found.kept), limit=0.9)
            kept_labels = catalog.labels[found.kept]
            parts = assign_splits(kept_labels, None, val_fraction=0.2, test_fraction=0.2, seed=0,
                                  class_names=catalog.class_names)
            check_dataset(kept_labels, parts, catalog.class_names, hashes=found.hashes,
                          ids=[catalog.ids[i] for i in found.kept])
        except ClassLensError as err:
            _one_line(err)


@FEW
@given(names=st.lists(folder_names, min_size=1, max_size=3, unique=True),
       bad=st.lists(image_files(), max_size=3), spec=specs)
def test_a_folder_of_random_class_names_and_files_prepares_or_says_why(names, bad, spec):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for c, name in enumerate(names):
            for n in range(4):
                _good_png(root / name, f"good{n}", seed=10 * c + n)
        for n, data in enumerate(bad):
            (root / names[n % len(names)] / f"bad{n}.img").write_bytes(data)
        spec = ConformSpec(size=spec.size or (8, 8), channels=spec.channels or 1,
                           resize=spec.resize, max_pixels=spec.max_pixels)
        _prepare_path(lambda: list_folder(root), spec)


@FEW
@given(rows=st.lists(st.tuples(labels, st.sampled_from(("good", "bad", "missing"))),
                     min_size=1, max_size=8),
       class_names=st.one_of(st.just([]), st.lists(labels, max_size=4)),
       bad=image_files(), spec=specs)
def test_a_manifest_of_random_labels_prepares_or_says_why(rows, class_names, bad, spec):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        _good_png(root, "good", seed=1)
        (root / "bad.img").write_bytes(bad)
        manifest = root / "manifest.csv"
        table = [(f"{kind}.{'png' if kind == 'good' else 'img'}", label) for label, kind in rows]
        pd.DataFrame(table, columns=["path", "label"]).to_csv(manifest, index=False)
        spec = ConformSpec(size=spec.size or (8, 8), channels=spec.channels or 3,
                           max_pixels=spec.max_pixels)
        _prepare_path(lambda: read_manifest(manifest, root=root, class_names=class_names), spec)


def test_the_folder_strategy_is_not_vacuous(tmp_path):
    """A control for the properties above: good files do prepare, with the configured shape."""
    for c, name in enumerate(("cat", "dog")):
        for n in range(4):
            _good_png(tmp_path / name, f"good{n}", seed=10 * c + n)
    catalog = list_folder(tmp_path)
    found = ingest(catalog, np.arange(len(catalog)), ConformSpec(size=(6, 5), channels=3),
                   scratch=tmp_path / "rows.bin", workers=1)
    assert len(found.kept) == 8 and found.image_shape == (6, 5, 3) and not found.skipped
