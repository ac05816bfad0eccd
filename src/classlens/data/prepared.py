"""The prepared dataset on disk: the one format every later stage reads.

    data/prepared/
      {train,val,test}_images.npy   uint8 (N, H, W, C), read as memory maps
      {train,val,test}_labels.npy   int64 (N,)
      manifest.csv                  id, split, position, label, class, path
      classes.json                  ["name of label 0", "name of label 1", ...]
      fingerprint.json              content hash of all of the above, counts per split
      report/                       the data report (see classlens.data.report)

`position` is the row of an image in its split's arrays, so any prediction traces back to its id
and source file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from classlens import paths
from classlens.atomic import atomic_path, save_npy, write_csv, write_json
from classlens.data.rows import NpyRowWriter, read_rows
from classlens.errors import InputError

BATCH_BYTES = 16 << 20  # rows copied per batch when writing a split


@dataclass
class Split:
    images: np.ndarray
    labels: np.ndarray


def write_prepared(
    out_dir: Path,
    *,
    images,
    labels: np.ndarray,
    class_names: list[str],
    ids: list[str],
    source_paths: list[str],
    split_indices: dict[str, np.ndarray],
    extra: Optional[dict] = None,
) -> dict:
    """Write the split arrays, manifest, classes and fingerprint into `out_dir`; return the
    fingerprint record.

    `images` is anything indexable by a sorted index array with a `shape` (an array, a memory
    map, a `RowFile`): each split is copied over in batches of about `BATCH_BYTES`, so memory
    does not grow with the number of images. `extra` is merged into the fingerprint record.
    """
    import pandas as pd

    row_shape = tuple(images.shape[1:])
    row_bytes = max(int(np.prod(row_shape, dtype=np.int64)), 1)
    batch = max(1, BATCH_BYTES // row_bytes)
    rows = []
    for split in paths.SPLITS:
        idx = np.asarray(split_indices[split], dtype=np.int64)
        with atomic_path(paths.split_images(split, out_dir)) as tmp:
            with NpyRowWriter(tmp, rows=len(idx), row_shape=row_shape) as out:
                for start in range(0, len(idx), batch):
                    out.write(read_rows(images, idx[start:start + batch]))
        save_npy(paths.split_labels(split, out_dir), labels[idx].astype(np.int64))
        for position, i in enumerate(idx):
            rows.append((ids[i], split, position, int(labels[i]), class_names[labels[i]],
                         source_paths[i]))
    manifest = pd.DataFrame(rows, columns=["id", "split", "position", "label", "class", "path"])
    write_csv(out_dir / paths.MANIFEST.name, manifest)
    write_json(out_dir / paths.CLASSES.name, list(class_names))
    record = {
        "digest": dataset_digest(out_dir),
        "image_shape": list(row_shape),
        "num_classes": len(class_names),
        "counts": class_counts(labels, split_indices, class_names),
        **(extra or {}),
    }
    write_json(out_dir / paths.FINGERPRINT.name, record)
    return record


def class_counts(labels: np.ndarray, split_indices: dict[str, np.ndarray],
                 class_names: list[str]) -> dict[str, dict[str, int]]:
    """{split: {class name: number of images}} for every split and class (zeros included)."""
    return {
        split: {name: int(n) for name, n in zip(
            class_names, np.bincount(labels[split_indices[split]], minlength=len(class_names)))}
        for split in paths.SPLITS
    }


def dataset_digest(prepared_dir: Path) -> str:
    """SHA-256 over the split arrays, manifest and classes (streamed in 1 MiB chunks), so any
    changed pixel, label, id or class name changes it."""
    digest = hashlib.sha256()
    names = [paths.split_images(s, Path("")).name for s in paths.SPLITS]
    names += [paths.split_labels(s, Path("")).name for s in paths.SPLITS]
    names += [paths.MANIFEST.name, paths.CLASSES.name]
    for name in names:
        digest.update(name.encode() + b"\0")
        with open(prepared_dir / name, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _require(path: Path) -> Path:
    if not path.exists():
        raise InputError(
            f"{path}: not found; run the stage that writes it first (`dvc repro`)"
        )
    return path


def load_split(split: str, prepared_dir: Path = paths.PREPARED_DIR) -> Split:
    """One split's images (memory-mapped, read-only) and labels."""
    images = np.load(_require(paths.split_images(split, prepared_dir)), mmap_mode="r")
    labels = np.load(_require(paths.split_labels(split, prepared_dir)))
    return Split(images=images, labels=labels)


def load_classes(prepared_dir: Path = paths.PREPARED_DIR) -> list[str]:
    path = _require(prepared_dir / paths.CLASSES.name)
    names = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InputError(f"{path}: expected a JSON list of class names")
    return names


def load_manifest(prepared_dir: Path = paths.PREPARED_DIR):
    import pandas as pd

    return pd.read_csv(_require(prepared_dir / paths.MANIFEST.name), dtype={"path": str},
                       keep_default_na=False)


def load_fingerprint(prepared_dir: Path = paths.PREPARED_DIR) -> dict:
    return json.loads(_require(prepared_dir / paths.FINGERPRINT.name).read_text())


def cache_in_memory(split: Split, *, limit_mb: int) -> Split:
    """The split with its images read into memory when they take at most `limit_mb` MiB, else
    as it is (a memory map that readers stream from in batches)."""
    if split.images.nbytes > limit_mb * (1 << 20):
        return split
    return Split(images=read_rows(split.images, slice(None)), labels=split.labels)
