"""The prepared dataset on disk: the one format every later stage reads.

    data/prepared/
      {train,val,test}_images.npy   uint8 (N, H, W, C), read as memory maps
      {train,val,test}_labels.npy   int64 (N,)
      manifest.csv                  id, split, position, label, class, path
      classes.json                  ["name of label 0", "name of label 1", ...]
      fingerprint.json              content hash of all of the above, counts per split

`position` is the row of an image in its split's arrays, so any prediction traces back to its id
and source file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classlens import paths
from classlens.atomic import save_npy, write_csv, write_json
from classlens.errors import InputError


@dataclass
class Split:
    images: np.ndarray
    labels: np.ndarray


def write_prepared(
    out_dir: Path,
    *,
    images: np.ndarray,
    labels: np.ndarray,
    class_names: list[str],
    ids: list[str],
    source_paths: list[str],
    split_indices: dict[str, np.ndarray],
) -> dict:
    """Write the split arrays, manifest, classes and fingerprint into `out_dir`; return the
    fingerprint record."""
    import pandas as pd

    rows = []
    for split in paths.SPLITS:
        idx = split_indices[split]
        save_npy(paths.split_images(split, out_dir), np.ascontiguousarray(images[idx]))
        save_npy(paths.split_labels(split, out_dir), labels[idx].astype(np.int64))
        for position, i in enumerate(idx):
            rows.append((ids[i], split, position, int(labels[i]), class_names[labels[i]],
                         source_paths[i]))
    manifest = pd.DataFrame(rows, columns=["id", "split", "position", "label", "class", "path"])
    write_csv(out_dir / paths.MANIFEST.name, manifest)
    write_json(out_dir / paths.CLASSES.name, list(class_names))
    record = {
        "digest": dataset_digest(out_dir),
        "image_shape": list(images.shape[1:]),
        "num_classes": len(class_names),
        "counts": {
            split: {name: int((labels[split_indices[split]] == c).sum())
                    for c, name in enumerate(class_names)}
            for split in paths.SPLITS
        },
    }
    write_json(out_dir / paths.FINGERPRINT.name, record)
    return record


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
