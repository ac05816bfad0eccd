"""A CSV manifest: columns `path,label[,split]`, one row per image, paths relative to the
manifest's folder. Class names are the labels (or `data.class_names`, when given, which then
also fixes their order); `split` (train | val | validation | test), when present, pre-splits.

Rows whose file is missing, lies outside the data root, repeats an earlier row or carries a
label outside the class list are skipped with their line number and reason; a manifest that
cannot be read as such fails with one line naming it.

Multi-label: a `labels` column instead of `label` lists each image's classes separated by "|"
("cat|dog"; spaces around a name are stripped; an empty cell is an image with no label, which
is kept). A name repeated in one cell counts once (a warning says where). A malformed cell (an
empty name, as in "cat||dog" or "cat|") or, with `data.class_names` set, a name outside it
fails with one line naming the file and line: a label set is one fact about an image, so a row
is never kept with part of it dropped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from classlens.data.catalog import (CLASS_NAMES, LABEL_SEPARATOR, SPLIT_NAMES, Catalog,
                                    Skipped, natural_class_order)
from classlens.errors import InputError


def read_manifest(manifest: Path, *, root: Optional[Path] = None,
                  class_names: Optional[list[str]] = None) -> Catalog:
    """Catalog of the images `manifest` lists.

    Args:
        manifest: the CSV file.
        root: paths must resolve inside this folder (default: the manifest's folder).
        class_names: the class list, in label order; [] or None = the labels found, sorted.
    """
    import pandas as pd

    if not manifest.is_file():
        raise InputError(f"data.manifest: {manifest} not found; point it at a CSV file with "
                         "columns path,label[,split]")
    try:
        table = pd.read_csv(manifest, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(f"data.manifest: {manifest} is not a readable CSV file "
                         f"({str(err).splitlines()[0]})") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    if "label" in table.columns and "labels" in table.columns:
        raise InputError(f"data.manifest: {manifest} has both a 'label' and a 'labels' column; "
                         "keep 'label' for one class per image, or 'labels' for class names "
                         "separated by '|' (multi-label)")
    multilabel = "labels" in table.columns
    missing = [c for c in ("path", "labels" if multilabel else "label") if c not in table.columns]
    if missing:
        raise InputError(f"data.manifest: {manifest} lacks column(s) {', '.join(missing)}; "
                         f"expected path,label[,split] (or path,labels[,split] for multi-label), "
                         f"found {', '.join(table.columns)}")
    if table.empty:
        raise InputError(f"data.manifest: {manifest} has no rows")
    base = manifest.parent
    root = root or base
    real_root = root.resolve()
    lines = np.arange(len(table)) + 2  # header is line 1
    splits = _splits(table, manifest, lines)
    fixed = list(class_names or [])
    CLASS_NAMES.check("data.class_names", fixed)
    warnings: list[str] = []
    if multilabel:
        label_sets = _label_sets(table["labels"], manifest, lines, fixed, warnings)

    skipped: list[Skipped] = []
    seen: dict[str, int] = {}
    keep: list[int] = []
    rel_paths: list[str] = []
    # a multi-label row's label set was checked above, and may be empty (no label)
    single = table["labels" if multilabel else "label"]
    for row, (raw_path, label, line) in enumerate(zip(table["path"], single, lines)):
        where = f"{manifest.name}:{line} {raw_path}"
        raw_path, label = raw_path.strip(), label.strip()
        if not raw_path:
            skipped.append(Skipped(where, "empty path"))
            continue
        path = Path(raw_path) if os.path.isabs(raw_path) else base / raw_path
        real = Path(os.path.realpath(path))
        if real != real_root and real_root not in real.parents:
            skipped.append(Skipped(where, f"path outside the data root {root}: refused"))
            continue
        if not multilabel and not label:
            skipped.append(Skipped(where, "empty label"))
            continue
        if not multilabel and fixed and label not in fixed:
            skipped.append(Skipped(where, f"label {label!r} not in data.class_names"))
            continue
        if not path.is_file():
            skipped.append(Skipped(where, "file not found"))
            continue
        rel = real.relative_to(real_root).as_posix()
        if rel in seen:
            skipped.append(Skipped(where, f"same file as line {seen[rel]}: duplicate row"))
            continue
        seen[rel] = int(line)
        keep.append(row)
        rel_paths.append(rel)
    if not keep:
        raise InputError(f"data.manifest: {manifest}: none of its {len(table)} rows is usable "
                         f"(first: line {lines[0]}: {skipped[0].reason})")
    if multilabel:
        labels_found = [name for r in keep for name in label_sets[r]]
    else:
        labels_found = [table["label"].iloc[r].strip() for r in keep]
    names = fixed or natural_class_order(labels_found)
    if len(names) < 2:
        raise InputError(f"data.manifest: {manifest} has only class {names!r}; a classifier "
                         "needs at least 2")
    index = {name: i for i, name in enumerate(names)}

    def read(indices: np.ndarray) -> Iterator[Path]:
        for i in indices:
            yield real_root / rel_paths[i]

    if multilabel:
        labels = np.zeros((len(keep), len(names)), dtype=np.uint8)
        for row, r in enumerate(keep):
            labels[row, [index[name] for name in label_sets[r]]] = 1
    else:
        labels = np.asarray([index[lab] for lab in labels_found], dtype=np.int64)
    return Catalog(ids=rel_paths, paths=list(rel_paths), labels=labels,
                   class_names=names, splits=None if splits is None else [splits[r] for r in keep],
                   read=read, skipped=skipped, warnings=warnings)


def _label_sets(cells, manifest: Path, lines: np.ndarray, fixed: list[str],
                warnings: list[str]) -> list[tuple[str, ...]]:
    """Each row's `labels` cell as its distinct class names, in the cell's order; InputError
    naming the file and line for a malformed cell or (with `fixed`) an unknown name."""
    accepted = set(fixed)
    sets, repeated = [], []
    for cell, line in zip(cells, lines):
        cell = cell.strip()
        names = [name.strip() for name in cell.split(LABEL_SEPARATOR)] if cell else []
        if any(not name for name in names):
            raise InputError(
                f"data.manifest: {manifest}:{line}: labels {cell!r} has an empty name (between "
                f"two '{LABEL_SEPARATOR}' or at an end); write class names separated by "
                f"'{LABEL_SEPARATOR}', e.g. 'cat{LABEL_SEPARATOR}dog', or leave the cell empty "
                "for an image with no label")
        unknown = [name for name in names if accepted and name not in accepted]
        if unknown:
            shown = ", ".join(map(repr, fixed[:5])) + (", ..." if len(fixed) > 5 else "")
            raise InputError(
                f"data.manifest: {manifest}:{line}: label {unknown[0]!r} is not in "
                f"data.class_names ({len(fixed)} names: {shown}); fix the row, or add the name "
                "to data.class_names (or set it to [] to take the names found)")
        distinct = tuple(dict.fromkeys(names))
        if len(distinct) < len(names):
            repeated.append(f"line {line}: {cell!r}")
        sets.append(distinct)
    if repeated:
        warnings.append(f"{len(repeated)} manifest row(s) name a label more than once (e.g. "
                        f"{repeated[0]}); each label counts once per image")
    return sets


def _splits(table, manifest: Path, lines: np.ndarray) -> Optional[list[str]]:
    """The split column, normalised; None when absent or empty throughout."""
    if "split" not in table.columns:
        return None
    values = [v.strip().lower() for v in table["split"]]
    if not any(values):
        return None
    for value, line in zip(values, lines):
        if value not in SPLIT_NAMES:
            raise InputError(
                f"data.manifest: {manifest}:{line}: split {value!r} is not one of "
                f"train, val, validation, test (leave the column out, or empty, to split by "
                "data.val_fraction/test_fraction)"
            )
    return [SPLIT_NAMES[v] for v in values]
