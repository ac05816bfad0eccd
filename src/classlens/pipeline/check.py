"""Stage `check`, first in dvc.yaml: what can go wrong before any work is checked here, cheaply,
so that `dvc repro` / `dvc exp run` stops before DVC starts a stage that would fail.

Every param's type and range and any unknown key (`load_params`, before this runs), where the
data are (without listing them), a provided model file (loaded and checked against the classes
and the input size conf/ fixes; only then is the source listed, to count its classes when
`data.class_names` is empty) and the tracking store (a server must answer). Writes
`data/checked.json`, whose content never changes: prepare depends on it only so that DVC runs
this stage first, and nothing downstream re-runs because of it.
"""

from __future__ import annotations

from classlens import paths
from classlens.atomic import write_json
from classlens.config import Config
from classlens.data.sources import (LISTED_SOURCES, check_location,
                                    class_names_before_prepare, multilabel_before_prepare)
from classlens.task import BINARY, check_fits_data
from classlens.tracking.store import use_store

# The file's whole content (constant on purpose: see the module docstring).
CHECKED = {"checked_by": "stages/check.py",
           "what": ["params", "data location", "model file", "tracking store"],
           "note": "written when params.yaml passes the checks; it orders the stages"}


def run(cfg: Config) -> None:
    done = ["params", check_location(cfg.data), _check_task(cfg)]
    if cfg.model.architecture == "file":
        done.append(_check_model_file(cfg))
    done.append(f"tracking store {use_store(cfg.tracking.uri)}")
    write_json(paths.CHECKED, CHECKED)
    print("check: " + "; ".join(done))


def _check_task(cfg: Config) -> str:
    """The task fits the data as far as is known without listing images: multi-label data
    (a mosaic source, a manifest with a `labels` column) needs task=multilabel and the reverse;
    binary's two classes are checked here when conf/ names them or the source is not a folder
    of files to list (else by train, after prepare listed them)."""
    data, kind = cfg.data, cfg.task.kind
    known = kind == BINARY and (data.class_names or data.source not in LISTED_SOURCES)
    check_fits_data(kind, multilabel_data=multilabel_before_prepare(data),
                    class_names=class_names_before_prepare(data) if known else ["?", "?"],
                    positive_class=cfg.task.positive_class if known else "")
    return f"task {kind}"


def _check_model_file(cfg: Config) -> str:
    """A provided model loads (safe mode) and fits the data's classes and, when conf/ fixes
    it, its input size; the data's own listing gives the classes when conf/ does not."""
    data = cfg.data
    classes = class_names_before_prepare(data)
    shape = None
    if data.image_size and data.channels in (1, 3):
        shape = (*data.image_size, data.channels)

    from classlens.models.provided import check_provided

    check_provided(cfg.model.path, num_classes=len(classes), input_shape=shape,
                   task=cfg.task.kind)
    size = "x".join(map(str, shape)) if shape else "its size after prepare"
    return f"model.path {cfg.model.path} ({len(classes)} classes; input {size})"
