"""Turn the IMAGES arguments of `classlens predict` (files, folders, glob patterns) into files."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Iterable

_GLOB_CHARS = set("*?[")


def image_extensions() -> set[str]:
    """File extensions Pillow can open (lower case, with the dot)."""
    from PIL import Image

    return {ext.lower() for ext in Image.registered_extensions()}


def expand_inputs(arguments: Iterable[str]) -> tuple[list[Path], list[str]]:
    """Files to predict, in argument order, and one problem line per argument that gave none.

    - a file is taken as it is, whatever its extension (so a corrupt `x.png` is reported, not
      skipped);
    - a folder contributes its image files (by Pillow's extensions), recursively, sorted, hidden
      files and folders left out;
    - a glob pattern (`*`, `?`, `[`; `**` recurses) contributes the files it matches, sorted.
    A file named twice is predicted once.
    """
    extensions = image_extensions()
    files: list[Path] = []
    problems: list[str] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_file():
            found = [path]
        elif path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file()
                           and p.suffix.lower() in extensions
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not found:
                problems.append(f"{argument}: folder holds no image files "
                                f"({', '.join(sorted(e for e in extensions if e in _COMMON))}, ...)")
        elif _GLOB_CHARS & set(argument):
            found = sorted(Path(p) for p in glob.glob(argument, recursive=True)
                           if Path(p).is_file())
            if not found:
                problems.append(f"{argument}: pattern matches no files")
        else:
            problems.append(f"{argument}: file not found")
            found = []
        files.extend(found)
    return list(dict.fromkeys(files)), problems


_COMMON = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
