"""An image folder: `root/<class>/<image>` (the layout `keras.utils.image_dataset_from_directory`
reads), or pre-split as `root/{train,val,test}/<class>/<image>` (`validation` is read as `val`).

Every file under a class folder (sub-folders included) is a candidate image; what cannot be
decoded is skipped later with its reason. Files and symlinks that resolve outside the root are
refused, and nothing found is dropped silently: every file not used is listed with why.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np

from classlens.data.catalog import SPLIT_NAMES, Catalog, Skipped, natural_class_order
from classlens.errors import InputError


def list_folder(root: Path) -> Catalog:
    """Catalog of the images under `root` (see the module docstring)."""
    if not root.is_dir():
        raise InputError(f"data.root: {root} is not a folder; point it at a folder of class "
                         "sub-folders (root/<class>/<image>)")
    real_root = root.resolve()
    skipped: list[Skipped] = []
    warnings: list[str] = []
    top = _subfolders(root, root, real_root, skipped)
    _loose_files(root, root, skipped)
    split_dirs = {name: path for name, path in top.items() if name.lower() in SPLIT_NAMES}
    presplit = "train" in {n.lower() for n in split_dirs} and len(split_dirs) >= 2
    if presplit and len(split_dirs) != len(top):
        others = sorted(set(top) - set(split_dirs))
        raise InputError(
            f"data.root: {root} mixes split folders ({', '.join(sorted(split_dirs))}) with other "
            f"folders ({', '.join(others[:5])}); use root/<split>/<class>/ or root/<class>/, "
            "not both"
        )
    # (split or None, folder of class folders)
    layouts = ([(SPLIT_NAMES[name.lower()], path) for name, path in sorted(split_dirs.items())]
               if presplit else [(None, root)])
    if len({split for split, _ in layouts}) != len(layouts):
        raise InputError(f"data.root: {root} has both 'val' and 'validation'; keep one")

    class_dirs: list[tuple[str | None, str, Path]] = []
    for split, folder in layouts:
        subdirs = top if split is None else _subfolders(folder, root, real_root, skipped)
        if split is not None:
            _loose_files(folder, root, skipped)
        class_dirs += [(split, name, path) for name, path in subdirs.items()]
    class_names = natural_class_order(name for _, name, _ in class_dirs)
    if len(class_names) < 2:
        found = f"only {class_names[0]!r}" if class_names else "no class folders"
        raise InputError(
            f"data.root: {root} has {found}; a classifier needs at least 2 classes, as "
            f"root/<class>/<image> (e.g. root/cat/1.jpg, root/dog/2.jpg)"
        )
    index = {name: i for i, name in enumerate(class_names)}

    ids: list[str] = []
    labels: list[int] = []
    splits: list[str] = []
    for split, name, path in sorted(class_dirs, key=lambda t: (t[0] or "", index[t[1]])):
        before = len(ids)
        for rel in _walk_files(path, root, real_root, skipped):
            ids.append(rel)
            labels.append(index[name])
            splits.append(split or "")
        if len(ids) == before:
            where = f"{split}/{name}" if split else name
            warnings.append(f"class folder '{where}' has no image files")
    if not ids:
        raise InputError(f"data.root: {root} has class folders but no files in them")

    def read(indices: np.ndarray) -> Iterator[Path]:
        for i in indices:
            yield root / ids[i]

    return Catalog(ids=ids, paths=list(ids), labels=np.asarray(labels, dtype=np.int64),
                   class_names=class_names, splits=splits if presplit else None, read=read,
                   skipped=skipped, warnings=warnings)


def _inside(path: Path, real_root: Path) -> bool:
    real = Path(os.path.realpath(path))
    return real == real_root or real_root in real.parents


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _subfolders(folder: Path, root: Path, real_root: Path,
                skipped: list[Skipped]) -> dict[str, Path]:
    """Visible sub-folders of `folder` by name (symlinked ones only when they stay inside)."""
    found = {}
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        path = Path(entry.path)
        if not entry.is_dir(follow_symlinks=True):
            continue
        if entry.name.startswith("."):
            skipped.append(Skipped(_rel(path, root) + "/", "hidden folder", counted=False))
            continue
        if not _inside(path, real_root):
            skipped.append(Skipped(_rel(path, root) + "/", "symlinked folder pointing outside "
                                   f"the data root (-> {os.path.realpath(path)}): refused"))
            continue
        found[entry.name] = path
    return found


def _loose_files(folder: Path, root: Path, skipped: list[Skipped]) -> None:
    """Files lying beside the class (or split) folders: listed as skipped, never read."""
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_dir(follow_symlinks=True):
            continue
        hidden = entry.name.startswith(".")
        skipped.append(Skipped(_rel(Path(entry.path), root),
                               "hidden file" if hidden else "not inside a class folder",
                               counted=not hidden))


def _walk_files(class_dir: Path, root: Path, real_root: Path,
                skipped: list[Skipped]) -> Iterator[str]:
    """Relative paths (from `root`) of the files under `class_dir`, sorted, recursively;
    hidden files and symlinks out of the root are listed as skipped instead."""
    seen = {os.path.realpath(class_dir)}
    for current, dirnames, filenames in os.walk(class_dir, followlinks=True):
        here = Path(current)
        keep = []
        for name in sorted(dirnames):
            path = here / name
            real = os.path.realpath(path)
            if name.startswith("."):
                skipped.append(Skipped(_rel(path, root) + "/", "hidden folder", counted=False))
            elif not _inside(path, real_root):
                skipped.append(Skipped(_rel(path, root) + "/", "symlinked folder pointing "
                                       f"outside the data root (-> {real}): refused"))
            elif real not in seen:  # a symlink loop or a second link to a folder: read once
                seen.add(real)
                keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            path = here / name
            rel = _rel(path, root)
            if name.startswith("."):
                skipped.append(Skipped(rel, "hidden file", counted=False))
            elif not _inside(path, real_root):
                skipped.append(Skipped(rel, "symlink pointing outside the data root "
                                       f"(-> {os.path.realpath(path)}): refused"))
            elif not os.path.exists(path):
                skipped.append(Skipped(rel, "broken symlink"))
            else:
                yield rel
