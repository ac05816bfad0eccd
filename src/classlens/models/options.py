"""The `model` section of params.yaml: one schema per kind of architecture (no TensorFlow;
`classlens.config` validates the section against the schema `model.architecture` names).

Each architecture takes (and requires) exactly the fields of its schema, so `conf/model/cnn.yaml`
never mentions backbone keys. Fields without a default are MISSING: their values live in conf/,
so a key absent from params.yaml fails at load time with its dotted name."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Optional, Union

from omegaconf import MISSING

from classlens.models.backbones import BACKBONES as _BACKBONE_SPECS

BACKBONES = tuple(_BACKBONE_SPECS)  # the keras.applications networks (specs: models.backbones)
CNN_HEADS = ("gap", "flatten")
CNN_PADDINGS = ("same", "valid")
# file models: the pixel range the model was trained on (prepared images are 0..255) -> the
# (scale, offset) that maps 0..255 onto it: 0..255, 0..1, -1..1
SCALINGS = {"raw": (1.0, 0.0), "unit": (1.0 / 255.0, 0.0), "symmetric": (1.0 / 127.5, -1.0)}
INPUT_SCALINGS = tuple(SCALINGS)
MODEL_OUTPUTS = ("auto", "softmax", "sigmoid", "logits")


@dataclass
class AugmentConfig:
    """Augmentation layers, active only while training (0 / false disables a layer)."""

    translate: float = MISSING
    rotate: float = MISSING
    zoom: float = MISSING
    flip_horizontal: bool = MISSING


@dataclass
class FineTuneConfig:
    """Phase 2 of a transfer model: unfreeze the top of the backbone and train on, slower."""

    epochs: int = MISSING  # 0: feature extraction only (no phase 2)
    learning_rate: float = MISSING
    # how much of the backbone to unfreeze: N (the top N layers), a layer name (that layer and
    # every layer above it), or "all". Batch-norm layers stay frozen in every case.
    unfreeze: Any = MISSING


@dataclass
class CNNOptions:
    """`architecture: cnn`: blocks of (conv-BN-ReLU) x convs_per_block, pool, dropout; then GAP
    (or flatten), an optional hidden dense layer, dropout, `logits`, softmax."""

    name: str = MISSING  # the option's name (its conf/model/ file): shown in titles, logged
    architecture: str = MISSING
    filters: list[int] = MISSING
    convs_per_block: int = MISSING
    kernel_size: int = MISSING
    block_dropout: float = MISSING
    padding: str = MISSING  # CNN_PADDINGS: same keeps each block's map size, valid trims
    batch_norm: bool = MISSING  # BN after every conv (else the conv has a bias)
    head: str = MISSING  # CNN_HEADS: global average pooling, or flatten the last map
    dense_units: int = MISSING  # a hidden ReLU dense layer before `logits`; 0 = none
    head_dropout: float = MISSING
    augment: AugmentConfig = MISSING


@dataclass
class BackboneOptions:
    """A keras.applications network (`BACKBONES`) without its top, frozen, then GAP, dropout,
    `logits`, softmax; optionally fine-tuned."""

    name: str = MISSING  # the option's name (its conf/model/ file): shown in titles, logged
    architecture: str = MISSING
    weights: Optional[str] = MISSING  # "imagenet", null (random init) or a weights file path
    input_size: Optional[int] = MISSING  # square side fed to the backbone; null: its minimum
    head_dropout: float = MISSING
    augment: AugmentConfig = MISSING
    fine_tune: FineTuneConfig = MISSING


@dataclass
class MobileNetOptions(BackboneOptions):
    """The backbones with a width multiplier (mobilenet, mobilenet_v2)."""

    alpha: float = MISSING


@dataclass
class ProvidedOptions:
    """`architecture: file`: bring your own trained classifier (see models.provided)."""

    name: str = MISSING  # the option's name (its conf/model/ file): shown in titles, logged
    architecture: str = MISSING
    path: str = MISSING
    input_scaling: str = MISSING  # what the file model expects: INPUT_SCALINGS
    output: str = MISSING  # what it outputs: MODEL_OUTPUTS


ModelOptions = Union[CNNOptions, BackboneOptions, ProvidedOptions]

# model.architecture -> the schema of the `model` section
MODEL_OPTIONS: dict[str, type] = {
    "cnn": CNNOptions,
    **{name: MobileNetOptions if spec.takes_alpha else BackboneOptions
       for name, spec in _BACKBONE_SPECS.items()},
    "file": ProvidedOptions,
}
MODEL_ARCHITECTURES = tuple(MODEL_OPTIONS)
# The keys each architecture requires (and the only ones it accepts) under `model`.
MODEL_KEYS: dict[str, tuple[str, ...]] = {
    name: tuple(f.name for f in fields(options)) for name, options in MODEL_OPTIONS.items()}
