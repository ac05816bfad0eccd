"""What a failed stage's one line says about its outputs: still the previous ones, or already
this run's (then how to get the previous ones back). Read from the stage's outputs in dvc.yaml,
before and after the stage ran."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional


def outputs_state(name: str) -> Optional[dict[str, tuple[int, int]]]:
    """Size and mtime of every file under stage `name`'s outputs in dvc.yaml (None without a
    dvc.yaml at the project root): what a failure message compares against."""
    import yaml

    # where DVC runs the stage command (a --temp or queued experiment's own folder; DVC_ROOT,
    # which project_root() follows, points at the main workspace there)
    root = Path.cwd()
    try:
        stage = yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8"))["stages"][name]
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return None
    state = {}
    for entry in (*stage.get("outs", []), *stage.get("metrics", [])):
        top = root / (entry if isinstance(entry, str) else next(iter(entry)))
        for file in ([top] if top.is_file() else sorted(top.rglob("*")) if top.is_dir() else []):
            if file.is_file():
                info = file.stat()
                state[str(file)] = (info.st_size, info.st_mtime_ns)
    return state


def failure_note(name: str, before: Optional[dict]) -> str:
    """The end of a failed stage's one line: whether its previous outputs are still there (every
    stage moves its outputs into place only at its end, and dvc.yaml keeps DVC from deleting
    them first), or this run's replaced them before the failure (MLflow logging comes last)."""
    if before is None:
        return ""
    if name == "check":  # dvc.yaml's first stage: under DVC nothing else has run yet
        return "; no stage ran, every output is as it was" if os.environ.get("DVC_STAGE") else ""
    if outputs_state(name) == before:
        return "; this stage's previous outputs are untouched"
    return (f"; this stage's new outputs are written but DVC has not recorded them: "
            f"`dvc repro` finishes the stage, `dvc checkout {name}` puts back the previous ones")
