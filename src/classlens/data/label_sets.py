"""How a multi-label image's label set is written as text, the one way: class names joined by
"|" in class order, "" for an image without a label (the prepared manifest's `labels` cell, the
prediction table's `true_labels` / `pred_labels` / `missed` / `extra`). A source's own `labels`
column is read more strictly by its source (`data/sources/csv_manifest.py`: stripped names, an
empty name an error); every later reader reads the files written here."""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from classlens.errors import InputError

SEPARATOR = "|"


def cell(row: np.ndarray, class_names: Sequence[str]) -> str:
    """A multi-hot row (K,) as its cell: the names of its labels, in class order."""
    return SEPARATOR.join(class_names[c] for c in np.flatnonzero(row))


def cells(rows: np.ndarray, class_names: Sequence[str]) -> list[str]:
    """Every row of an (N, K) multi-hot array as its cell."""
    return [cell(row, class_names) for row in np.asarray(rows)]


def names(text) -> list[str]:
    """A cell's label names ([] for ""), in the cell's order."""
    return [name for name in str(text).split(SEPARATOR) if name]


def matrix(column: Iterable, class_names: Sequence[str], *, unknown: str = "error",
           source: str = "label sets") -> np.ndarray:
    """A column of cells as (N, K) bool in class order. A name not in `class_names` is an
    InputError naming `source` (`unknown="error"`: a stale or edited file), or left out
    (`"ignore"`: another run's label this one cannot score)."""
    index = {name: i for i, name in enumerate(class_names)}
    texts = list(column)
    out = np.zeros((len(texts), len(index)), dtype=bool)
    strange = set()
    for row, text in enumerate(texts):
        for name in names(text):
            if name in index:
                out[row, index[name]] = True
            else:
                strange.add(name)
    if strange and unknown == "error":
        raise InputError(f"{source}: label sets must name labels of "
                         f"{list(class_names)[:10]}{' ...' if len(index) > 10 else ''}; "
                         f"received {sorted(strange)[:5]}; re-run `dvc repro`")
    return out


def difference(a, b) -> str:
    """The labels of cell `a` that cell `b` lacks, as a cell (in `a`'s order)."""
    lacking = set(names(b))
    return SEPARATOR.join(name for name in names(a) if name not in lacking)
