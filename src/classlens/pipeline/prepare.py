"""Stage `prepare`: source -> stratified split -> data/prepared/ (see classlens.data.prepared).

It runs before the MLflow run exists; the train stage records its fingerprint and class counts.
"""

from __future__ import annotations

from classlens import paths
from classlens.atomic import atomic_dir
from classlens.config import Config
from classlens.data.prepared import write_prepared
from classlens.data.source import load_source
from classlens.data.split import stratified_split


def run(cfg: Config) -> dict:
    source = load_source(cfg.data.source)
    parts = stratified_split(source.labels, val_fraction=cfg.data.val_fraction,
                             test_fraction=cfg.data.test_fraction, seed=cfg.seed)
    with atomic_dir(paths.PREPARED_DIR) as out:
        record = write_prepared(out, images=source.images, labels=source.labels,
                                class_names=source.class_names, ids=source.ids,
                                source_paths=source.paths, split_indices=parts)
    sizes = {split: len(idx) for split, idx in parts.items()}
    print(f"prepare: {len(source.labels)} images, {len(source.class_names)} classes, "
          f"split {sizes}, digest {record['digest'][:12]}")
    return record
