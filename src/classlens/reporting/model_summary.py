"""Architecture facts of a Keras model for the model card: top-level layers, parameter counts
(trainable, frozen, BatchNorm statistics) and the augmentation layers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LayerRow:
    name: str
    kind: str
    output_shape: str
    params: int
    trainable: bool


@dataclass(frozen=True)
class ModelSummary:
    """Architecture facts read off a Keras model (see `summarize_model`)."""

    name: str
    layers: list[LayerRow]
    trainable_params: int
    frozen_params: int  # weights of layers frozen for training (e.g. a pretrained backbone)
    statistics_params: int  # non-trainable state of trainable layers (BatchNorm moving stats)
    augmentations: list[str] = field(default_factory=list)


def summarize_model(model) -> ModelSummary:
    """Top-level layers, parameter counts and augmentation layers (`aug_*`) of a Keras model.

    Keras reports trainable vs non-trainable weights; non-trainable mixes frozen layers with
    BatchNorm's moving statistics, so they are split here by whether the owning layer is frozen.
    """
    import numpy as np

    def count(weights) -> int:
        return int(sum(int(np.prod(w.shape)) for w in weights))

    rows, frozen, statistics, augmentations = [], 0, 0, []
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        try:
            shape = str(tuple(layer.output.shape))
        except (AttributeError, ValueError):
            shape = "?"
        rows.append(LayerRow(layer.name, type(layer).__name__, shape.replace("None", "N"),
                             count(layer.weights), bool(layer.trainable)))
        if not layer.trainable:
            frozen += count(layer.weights)
        else:
            statistics += count(layer.non_trainable_weights)
        if layer.name.startswith("aug_"):
            augmentations.append(_describe_augmentation(layer))
    return ModelSummary(name=model.name, layers=rows,
                        trainable_params=count(model.trainable_weights),
                        frozen_params=frozen, statistics_params=statistics,
                        augmentations=augmentations)


def _describe_augmentation(layer) -> str:
    config = layer.get_config()
    shown = {k: v for k, v in config.items()
             if k in ("mode", "factor", "height_factor", "width_factor", "fill_mode")}
    return f"{type(layer).__name__}({', '.join(f'{k}={v}' for k, v in shown.items())})"
