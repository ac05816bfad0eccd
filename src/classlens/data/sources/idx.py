"""IDX files, the format MNIST, Fashion-MNIST, KMNIST and EMNIST are published in (gzipped or
not), read directly and streamed: images are decoded a chunk at a time, never all at once.

IDX layout (http://yann.lecun.com/exdb/mnist/): two zero bytes, a type code (0x08 = unsigned
byte), the number of dimensions, then one big-endian uint32 per dimension and the data in C
order. Hand-written because no maintained library reads it (Keras ships MNIST as .npz).

A folder holds `*train-images*` and `*train-labels*` files and, optionally, `*t10k-images*` or
`*test-images*` and their labels (then the test split is the source's own). Note: EMNIST stores
each image transposed; its images come out mirrored along the diagonal, as published.
"""

from __future__ import annotations

import gzip
import re
import struct
from pathlib import Path
from typing import BinaryIO, Iterator, Optional

import numpy as np

from classlens.data.catalog import CLASS_NAMES, Catalog
from classlens.errors import ConfigError, InputError

_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_PATTERNS = {
    ("train", "images"): re.compile(r"train-images"),
    ("train", "labels"): re.compile(r"train-labels"),
    ("test", "images"): re.compile(r"(t10k|test)-images"),
    ("test", "labels"): re.compile(r"(t10k|test)-labels"),
}
_CHUNK_ROWS = 4096


def _open(path: Path) -> BinaryIO:
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


def read_header(fh: BinaryIO, path: Path) -> tuple[np.dtype, tuple[int, ...]]:
    """(dtype, shape) from an IDX header; InputError naming `path` on a bad magic number."""
    magic = fh.read(4)
    if len(magic) < 4 or magic[:2] != b"\0\0" or magic[2] not in _TYPES or magic[3] == 0:
        raise InputError(
            f"{path}: bad magic number 0x{magic.hex() or '(empty)'}; not an IDX file "
            "(expected 0x0000 then a type code 08/09/0B/0C/0D/0E and the number of dimensions)"
        )
    ndim = magic[3]
    dims = fh.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise InputError(f"{path}: IDX header ends early (truncated file)")
    return _TYPES[magic[2]], struct.unpack(f">{ndim}I", dims)


def read_labels(path: Path) -> np.ndarray:
    """A 1-D IDX label file as int64, checked to hold exactly what its header says."""
    with _open(path) as fh:
        dtype, shape = read_header(fh, path)
        if len(shape) != 1:
            raise InputError(f"{path}: labels must be 1-dimensional; header says {shape}")
        data = fh.read()
    count = shape[0]
    if len(data) != count * dtype.itemsize:
        raise InputError(f"{path}: header says {count} labels, the file holds "
                         f"{len(data) / dtype.itemsize:g}; truncated or mismatched file")
    return np.frombuffer(data, dtype=dtype).astype(np.int64)


def image_header(path: Path) -> tuple[int, int, int]:
    """(count, height, width) of an IDX image file (unsigned bytes, 3 dimensions)."""
    with _open(path) as fh:
        dtype, shape = read_header(fh, path)
    if dtype != np.uint8 or len(shape) != 3:
        raise InputError(f"{path}: expected unsigned-byte images (type 0x08, 3 dimensions); "
                         f"header says {dtype.str} with shape {shape}")
    return shape  # type: ignore[return-value]


def iter_images(path: Path, indices: np.ndarray) -> Iterator[np.ndarray]:
    """The (H, W) images at the sorted `indices`, reading the file front to back in chunks."""
    wanted = np.asarray(indices, dtype=np.int64)
    with _open(path) as fh:
        _, (count, height, width) = read_header(fh, path)
        row = height * width
        pos = 0  # next wanted index
        for start in range(0, count, _CHUNK_ROWS):
            if pos >= len(wanted):
                return
            n = min(_CHUNK_ROWS, count - start)
            data = fh.read(n * row)
            if len(data) != n * row:
                raise InputError(f"{path}: header says {count} images, the file ends after "
                                 f"{start + len(data) // row}; truncated or mismatched file")
            if wanted[pos] >= start + n:
                continue
            chunk = np.frombuffer(data, dtype=np.uint8).reshape(n, height, width)
            while pos < len(wanted) and wanted[pos] < start + n:
                yield chunk[wanted[pos] - start]
                pos += 1


def _check_image_size(path: Path, count: int, height: int, width: int) -> None:
    """Whole-file check up front: uncompressed by size, gzipped by streaming to the end."""
    header = 4 + 4 * 3
    expected = header + count * height * width
    with _open(path) as fh:
        if isinstance(fh, gzip.GzipFile):
            size = 0
            while chunk := fh.read(1 << 22):
                size += len(chunk)
        else:
            size = Path(path).stat().st_size
    if size != expected:
        raise InputError(f"{path}: header says {count} images of {height}x{width} "
                         f"({expected} bytes), the file holds {size} bytes; truncated or "
                         "mismatched file")


def _find(root: Path, split: str, kind: str) -> Optional[Path]:
    matches = sorted(p for p in root.iterdir()
                     if p.is_file() and _PATTERNS[(split, kind)].search(p.name))
    if len(matches) > 1:
        raise InputError(f"data.root: {root} has several {split} {kind} files "
                         f"({', '.join(p.name for p in matches)}); keep one set per folder")
    return matches[0] if matches else None


def list_idx_folder(root: Path, *, class_names: Optional[list[str]] = None) -> Catalog:
    """Catalog of the IDX image/label pairs in `root` (see the module docstring)."""
    if not root.is_dir():
        raise InputError(f"data.root: {root} is not a folder of IDX files")
    files = {(s, k): _find(root, s, k) for s, k in _PATTERNS}
    for split in ("train", "test"):
        have = [k for k in ("images", "labels") if files[(split, k)]]
        if len(have) == 1:
            lacking = "labels" if have == ["images"] else "images"
            raise InputError(f"data.root: {root} has {split} {have[0]} but no {split} {lacking} "
                             f"file (*{'t10k' if split == 'test' else 'train'}-{lacking}*)")
    if files[("train", "images")] is None:
        raise InputError(f"data.root: {root} has no *train-images* IDX file "
                         "(e.g. train-images-idx3-ubyte.gz)")
    parts = [s for s in ("train", "test") if files[(s, "images")]]
    ids: list[str] = []
    splits: list[str] = []
    labels = []
    shapes = {}
    bounds = {}
    for split in parts:
        images_path, labels_path = files[(split, "images")], files[(split, "labels")]
        count, height, width = image_header(images_path)
        _check_image_size(images_path, count, height, width)
        split_labels = read_labels(labels_path)
        if len(split_labels) != count:
            raise InputError(f"{labels_path}: {len(split_labels)} labels but {images_path.name} "
                             f"holds {count} images; the two files must belong together")
        shapes[split] = (height, width)
        bounds[split] = (len(ids), len(ids) + count)
        ids += [f"idx:{split}:{i}" for i in range(count)]
        splits += [split] * count
        labels.append(split_labels)
    if len(set(shapes.values())) > 1:
        raise InputError(f"data.root: {root}: train and test images differ in size {shapes}")
    all_labels = np.concatenate(labels)
    if all_labels.min() < 0:
        raise InputError(f"data.root: {root}: negative labels in the label files")
    names = list(class_names or [])
    CLASS_NAMES.check("data.class_names", names)
    needed = int(all_labels.max()) + 1
    if names and len(names) < needed:
        raise ConfigError(f"data.class_names lists {len(names)} names but the IDX labels go up "
                          f"to {needed - 1}; give one name per label 0..{needed - 1}")
    names = names or [str(i) for i in range(needed)]
    paths = [files[(s, "images")].name for s in splits]

    def read(indices: np.ndarray) -> Iterator[np.ndarray]:
        indices = np.asarray(indices, dtype=np.int64)
        for split in parts:
            first, last = bounds[split]
            mine = indices[(indices >= first) & (indices < last)] - first
            yield from iter_images(files[(split, "images")], mine)

    return Catalog(ids=ids, paths=paths, labels=all_labels, class_names=names,
                   splits=splits if len(parts) == 2 else None, read=read)
