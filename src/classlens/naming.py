"""Names made safe where they become keys: file-name stems for per-class and per-pair outputs
(safe on every file system, unique) and metric keys (safe for MLflow metric names). One
sanitiser underneath: every character outside the allowed set becomes `_`. And the one
flattener of nested dicts to dotted names (params and metrics alike)."""

from __future__ import annotations

from typing import Any, Callable, Mapping


def sanitise(name: str, allowed: Callable[[str], bool]) -> str:
    """`name` with every character that `allowed` rejects replaced by `_`."""
    return "".join(c if allowed(c) else "_" for c in name)


def _file_char(c: str) -> bool:  # ASCII letters, digits, `_ . -`
    return c.isascii() and (c.isalnum() or c in "_.-")


def _metric_char(c: str) -> bool:  # letters, digits (any script), `_ - . /` and space
    return c.isalnum() or c in "_-. /"


def file_stems(names: list[str]) -> dict[str, str]:
    """Each name -> a unique stem of letters, digits, `_ - .` ("hot dog!" -> "hot_dog_");
    a stem already taken gets its position appended ("a_b" and "a b" -> "a_b", "a_b-1")."""
    stems: dict[str, str] = {}
    taken: set[str] = set()
    for i, name in enumerate(names):
        stem = sanitise(name, _file_char).strip(".") or "_"
        if stem in taken:
            stem = f"{stem}-{i}"
        taken.add(stem)
        stems[name] = stem
    return stems


def metric_key(class_name: str) -> str:
    """A class name made safe for MLflow metric names (letters, digits, `_ - . /` and space);
    the one helper every per-class key goes through."""
    return sanitise(class_name, _metric_char) or "_"


def dotted(nested: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"train": {"epochs": 3}}` -> `{"train.epochs": 3}`: every leaf by its dotted path
    (lists are leaves)."""
    flat: dict[str, Any] = {}
    for key, value in nested.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(dotted(value, prefix=f"{name}."))
        else:
            flat[name] = value
    return flat


def epoch_metric_name(keras_name: str) -> str:
    """Keras' per-epoch log name -> the name classlens gives it in the training history and in
    MLflow, so that no training number shadows a test one: `loss` -> `train/loss`,
    `val_accuracy` -> `val/accuracy`; `learning_rate` (a setting, not a measurement) and names
    already namespaced stay as they are."""
    if "/" in keras_name or keras_name in ("learning_rate", "epoch", "phase"):
        return keras_name
    if keras_name.startswith("val_"):
        return "val/" + keras_name[len("val_"):]
    return "train/" + keras_name
