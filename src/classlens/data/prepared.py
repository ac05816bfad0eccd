"""The prepared dataset on disk: the one format every later stage reads.

    data/prepared/
      {train,val,test}_images.npy   uint8 (N, H, W, C), read as memory maps
      {train,val,test}_labels.npy   int64 (N,); multi-label: uint8 (N, K) multi-hot
      manifest.csv                  id, split, position, label, class, path;
                                    multi-label: id, split, position, labels, path
      classes.json                  ["name of label 0", "name of label 1", ...]
      fingerprint.json              content hash of all of the above, counts per split
      report/                       the data report (see classlens.data.report)

`position` is the row of an image in its split's arrays, so any prediction traces back to its id
and source file. Multi-label data (an image carries any number of the K classes, including
none) is marked `"multilabel": true` in the fingerprint (`is_multilabel`); its `counts` are the
images carrying each label, its `no_label` the images carrying none, per split; the manifest's
`labels` cell is the image's class names joined by "|" in class order ("" for none).
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
from classlens.data import label_sets
from classlens.data.rows import NpyRowWriter, read_rows
from classlens.errors import InputError

BATCH_BYTES = 16 << 20  # rows copied per batch when writing a split
MANIFEST_COLUMNS = ["id", "split", "position", "label", "class", "path"]
MULTILABEL_MANIFEST_COLUMNS = ["id", "split", "position", "labels", "path"]


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
    Multi-hot uint8 (N, K) `labels` write the multi-label layout (see the module's docstring).
    """
    import pandas as pd

    multilabel = labels.ndim == 2
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
        save_npy(paths.split_labels(split, out_dir),
                 labels[idx].astype(np.uint8 if multilabel else np.int64))
        for position, i in enumerate(idx):
            if multilabel:
                rows.append((ids[i], split, position, label_sets.cell(labels[i], class_names),
                             source_paths[i]))
            else:
                rows.append((ids[i], split, position, int(labels[i]), class_names[labels[i]],
                             source_paths[i]))
    manifest = pd.DataFrame(rows, columns=MULTILABEL_MANIFEST_COLUMNS if multilabel
                            else MANIFEST_COLUMNS)
    write_csv(out_dir / paths.MANIFEST.name, manifest)
    write_json(out_dir / paths.CLASSES.name, list(class_names))
    record = {
        "digest": dataset_digest(out_dir),
        "image_shape": list(row_shape),
        "num_classes": len(class_names),
        "counts": class_counts(labels, split_indices, class_names),
        # only for multi-label data: single-label fingerprints stay as they were
        # (counts add up to label occurrences there, so the images per split are given too)
        **({"multilabel": True, "no_label": no_label_counts(labels, split_indices),
            "images": {s: int(len(split_indices[s])) for s in paths.SPLITS}}
           if multilabel else {}),
        **(extra or {}),
    }
    write_json(out_dir / paths.FINGERPRINT.name, record)
    return record


def class_counts(labels: np.ndarray, split_indices: dict[str, np.ndarray],
                 class_names: list[str]) -> dict[str, dict[str, int]]:
    """{split: {class name: number of images}} for every split and class (zeros included);
    multi-label: the images carrying each label."""
    def per_class(part: np.ndarray) -> np.ndarray:
        if part.ndim == 2:
            return part.sum(axis=0, dtype=np.int64)
        return np.bincount(part, minlength=len(class_names))

    return {
        split: {name: int(n) for name, n in zip(
            class_names, per_class(labels[split_indices[split]]))}
        for split in paths.SPLITS
    }


def no_label_counts(labels: np.ndarray, split_indices: dict[str, np.ndarray]) -> dict[str, int]:
    """{split: images carrying no label} of multi-hot (N, K) `labels`."""
    return {split: int((~labels[split_indices[split]].any(axis=1)).sum())
            for split in paths.SPLITS}


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

    # `labels` as text: a column of single digit names ("3") would otherwise read as numbers
    return pd.read_csv(_require(prepared_dir / paths.MANIFEST.name),
                       dtype={"path": str, "labels": str}, keep_default_na=False)


def load_fingerprint(prepared_dir: Path = paths.PREPARED_DIR) -> dict:
    return json.loads(_require(prepared_dir / paths.FINGERPRINT.name).read_text())


def is_multilabel(prepared_dir: Path = paths.PREPARED_DIR) -> bool:
    """Whether the prepared data is multi-label (uint8 (N, K) labels, a `labels` manifest
    column), from its fingerprint: later stages ask this before reading labels."""
    return bool(load_fingerprint(prepared_dir).get("multilabel", False))


def cache_in_memory(split: Split, *, limit_mb: int) -> Split:
    """The split with its images read into memory when they take at most `limit_mb` MiB, else
    as it is (a memory map that readers stream from in batches)."""
    if split.images.nbytes > limit_mb * (1 << 20):
        return split
    return Split(images=read_rows(split.images, slice(None)), labels=split.labels)
