"""Stage `prepare`: source -> decoded, conformed images streamed to disk -> split -> checks ->
data/prepared/ (see classlens.data.prepared) with its data report.

Memory holds one chunk of images at a time: images are conformed into a scratch file inside
the new output folder, then copied split by split into the final arrays. Everything is written
into a temporary folder that replaces data/prepared only when all of it succeeded, so a failure
(too many bad files, an empty split) leaves the previous prepared data whole.

It runs before the MLflow run exists; the train stage records its fingerprint, class counts
and report. Multi-label data (multi-hot labels, `Catalog.multilabel`) passes through the same
steps; `data/prepared/fingerprint.json` then says `"multilabel": true`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from classlens import paths
from classlens.atomic import atomic_dir, save_figure, write_csv, write_json
from classlens.config import Config
from classlens.data.catalog import Skipped, skip_counts
from classlens.data.checks import check_dataset
from classlens.data.conform import ConformSpec
from classlens.data.ingest import check_skipped_share, ingest, select_per_class
from classlens.data.prepared import class_counts, no_label_counts, write_prepared
from classlens.data.report import (CLASS_COUNTS_PNG, DUPLICATES, LABEL_CONFLICTS,
                                   MAX_CLASSES_SHOWN, NO_LABEL, REPORT_DIR, SAMPLES_PNG, SKIPPED,
                                   SUMMARY, counts_with_no_label, sample_positions,
                                   size_statistics)
from classlens.data.rows import RowFile, read_rows
from classlens.data.sources import load_catalog
from classlens.data.split import assign_splits


def run(cfg: Config) -> dict:
    data = cfg.data
    spec = ConformSpec.from_config(image_size=list(data.image_size), channels=data.channels,
                                   resize=data.resize, interpolation=data.interpolation,
                                   max_image_pixels=data.max_image_pixels)
    started = time.perf_counter()
    catalog = load_catalog(data)
    selected = select_per_class(catalog.labels, catalog.splits,
                                max_per_class=data.max_per_class, seed=cfg.seed)
    with atomic_dir(paths.PREPARED_DIR) as out:
        scratch = out / ".conformed.bin"
        try:
            found = ingest(catalog, selected, spec, scratch=scratch, workers=data.workers)
            skipped = catalog.skipped + found.skipped
            share = check_skipped_share(skipped, len(found.kept), limit=data.max_skipped_fraction)
            kept = found.kept
            labels = catalog.labels[kept]
            ids = [catalog.ids[i] for i in kept]
            parts = assign_splits(
                labels, None if catalog.splits is None else [catalog.splits[i] for i in kept],
                val_fraction=data.val_fraction, test_fraction=data.test_fraction, seed=cfg.seed,
                class_names=catalog.class_names)
            checks = check_dataset(labels, parts, catalog.class_names, hashes=found.hashes,
                                   ids=ids)
            warnings = catalog.warnings + checks.warnings
            skips = skip_counts(skipped)
            record = write_prepared(
                out, images=found.rows, labels=labels, class_names=catalog.class_names, ids=ids,
                source_paths=[catalog.paths[i] for i in kept], split_indices=parts,
                extra={"source": data.source, "skipped": skips["images_skipped"]})
        finally:
            scratch.unlink(missing_ok=True)
        rate = len(selected) / max(time.perf_counter() - started, 1e-9)
        counts = class_counts(labels, parts, catalog.class_names)
        # multi-label only, so that a single-label report stays byte-identical
        labelled = ({"multilabel": True, "no_label": no_label_counts(labels, parts)}
                    if catalog.multilabel else {})
        summary = {
            "source": data.source,
            "root": data.root,
            "manifest": data.manifest,
            "digest": record["digest"],
            "image_shape": record["image_shape"],
            "images_listed": len(catalog) + sum(s.counted for s in catalog.skipped),
            "images_sampled_out": len(catalog) - len(selected),
            "images_used": int(len(kept)),
            "images_skipped": skips["images_skipped"],
            "skipped_share": round(share, 6),
            "files_ignored": skips["files_ignored"],
            "split_sizes": {s: int(len(parts[s])) for s in paths.SPLITS},
            "source_split": catalog.splits is not None,
            "counts": counts,
            **labelled,
            "source_sizes": size_statistics(found.widths, found.heights),
            "source_modes": dict(found.modes.most_common()),
            "source_formats": dict(found.formats.most_common()),
            "duplicates_across_splits": int(len(checks.duplicates)),
            "label_conflicts": int(len(checks.label_conflicts)),
            "warnings": warnings,
        }  # no timings here: the report must be byte-identical when the data is
        train_images = RowFile.from_npy(paths.split_images("train", out))
        _write_report(out / REPORT_DIR, summary=summary, skipped=skipped,
                     duplicates=checks.duplicates, label_conflicts=checks.label_conflicts,
                     counts=counts_with_no_label(counts, labelled["no_label"]) if labelled
                     else counts,
                     class_names=catalog.class_names, train_images=train_images,
                     train_labels=np.load(paths.split_labels("train", out)))
        train_images.close()
    for line in warnings:
        print(f"classlens prepare: warning: {line}", file=sys.stderr)
    for item in [s for s in skipped if s.counted][:10]:
        print(f"classlens prepare: skipped {item.path}: {item.reason}", file=sys.stderr)
    sizes = {split: len(idx) for split, idx in parts.items()}
    kind = " multi-label" if catalog.multilabel else ""
    print(f"prepare: {len(kept)}{kind} images ({summary['images_skipped']} skipped, see "
          f"{paths.PREPARED_DIR / REPORT_DIR}), {len(catalog.class_names)} classes, split "
          f"{sizes}, shape {record['image_shape']}, {rate:.0f} images/s, "
          f"digest {record['digest'][:12]}")
    return record


def _write_report(out_dir: Path, *, summary: dict, skipped: list[Skipped], duplicates,
                  label_conflicts, counts: dict[str, dict[str, int]], class_names: list[str],
                  train_images, train_labels: np.ndarray) -> None:
    """Write the data report into `out_dir` (the files `classlens.data.report` lists)."""
    import pandas as pd

    from classlens.figures import images as figures

    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / SUMMARY, summary)
    write_csv(out_dir / SKIPPED, pd.DataFrame(
        [(s.path, s.reason, s.counted) for s in skipped], columns=["path", "reason", "counted"]))
    write_csv(out_dir / DUPLICATES, duplicates)
    write_csv(out_dir / LABEL_CONFLICTS, label_conflicts)
    save_figure(out_dir / CLASS_COUNTS_PNG, figures.class_counts_chart(counts))

    shown = min(len(class_names), MAX_CLASSES_SHOWN)
    multilabel = train_labels.ndim == 2
    samples = [read_rows(train_images, np.asarray(positions, dtype=np.int64))
               for positions in sample_positions(train_labels, shown)]
    more = f" (first {shown} of {len(class_names)} classes)" if shown < len(class_names) else ""
    save_figure(out_dir / SAMPLES_PNG, figures.class_samples_grid(
        samples, class_names[:shown] + ([NO_LABEL] if multilabel else []),
        title=f"Training images {'carrying each label' if multilabel else 'per class'}{more}"))
