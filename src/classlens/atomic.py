"""Write outputs atomically: to a temporary sibling, then `os.replace` into place.

A crash, a Ctrl-C or a failing check therefore never leaves a half-written metrics file, table,
figure or model where DVC, MLflow or a person would read it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target` (same suffix); move it onto `target` on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}",
                                dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _remove_leftovers(folder: Path, name: str) -> None:
    """Staging left by a writer of `name` that was killed (SIGKILL runs no `finally`): removed
    before the next one starts, so a dead run's half-written model never piles up. Safe because
    one stage writes its outputs at a time (DVC locks the workspace)."""
    for stale in (*folder.glob(f".{name}.*.tmp"), folder / f".{name}.old"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)


@contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary folder beside `target`; on success it replaces `target` whole."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(target.parent, target.name)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def atomic_files(folder: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary folder beside `folder`; on success each entry written into it
    replaces its namesake in `folder` (a file by `os.replace`, a sub-folder whole), and every
    other entry of `folder` stays: for a folder that holds several stage outputs beside files
    the stage does not own (DVC's `.gitignore`, a user's own model file in `models/`).

    Nothing is moved until the `with` body has finished, so a failure anywhere in it (a bad
    input, the tracking server dying, Ctrl-C) leaves `folder` exactly as it was; the moves
    themselves are renames within one file system, done one after another at the very end."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(folder, folder.name)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        for entry in sorted(tmp.iterdir()):
            target = folder / entry.name
            if entry.is_dir() and not entry.is_symlink():
                old = folder / f".{entry.name}.old"
                shutil.rmtree(old, ignore_errors=True)
                if target.exists():
                    target.rename(old)
                entry.rename(target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(entry, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_text(target: str | Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(target: str | Path, obj: Any, *, sort_keys: bool = True) -> None:
    """JSON with sorted keys (unless the order is the point) and no NaN (NaN is not JSON;
    callers turn undefined into None)."""
    write_text(target, json.dumps(obj, indent=2, sort_keys=sort_keys, allow_nan=False) + "\n")


def write_csv(target: str | Path, frame) -> None:
    """Write a pandas DataFrame as CSV without its index."""
    with atomic_path(target) as tmp:
        frame.to_csv(tmp, index=False)


def save_npy(target: str | Path, array) -> None:
    import numpy as np

    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, array)


def save_figure(target: str | Path, figure) -> None:
    """Save a matplotlib figure as PNG and close it."""
    import matplotlib.pyplot as plt

    with atomic_path(target) as tmp:
        figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
