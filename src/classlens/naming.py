"""File-name stems for per-class and per-pair outputs: safe on every file system, unique."""

from __future__ import annotations

import re


def file_stems(names: list[str]) -> dict[str, str]:
    """Each name -> a unique stem of letters, digits, `_ - .` ("hot dog!" -> "hot_dog_");
    a stem already taken gets its position appended ("a_b" and "a b" -> "a_b", "a_b-1")."""
    stems: dict[str, str] = {}
    taken: set[str] = set()
    for i, name in enumerate(names):
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip(".") or "_"
        if stem in taken:
            stem = f"{stem}-{i}"
        taken.add(stem)
        stems[name] = stem
    return stems
