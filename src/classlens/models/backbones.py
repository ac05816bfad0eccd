"""The keras.applications backbones: which constructor, which `preprocess_input`, which minimum
input size, and creating one without its top with ImageNet, random or local-file weights."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from classlens.errors import ConfigError

BACKBONE_LAYER = "backbone"
PREPROCESS_LAYER = "preprocess"


@dataclass(frozen=True)
class BackboneSpec:
    """How to make one keras.applications network.

    constructor: the `keras.applications` attribute (`MobileNet`).
    module: the `keras.applications` submodule whose `preprocess_input` the network was trained
        with (`mobilenet`: x / 127.5 - 1; `resnet50`, `vgg16`: RGB->BGR, ImageNet mean
        subtracted; `efficientnet`: identity, the network rescales inside).
    min_size: the smallest height/width Keras accepts without the top.
    takes_alpha: whether it has a width multiplier `alpha`.
    """

    constructor: str
    module: str
    min_size: int
    takes_alpha: bool = False


BACKBONES: dict[str, BackboneSpec] = {
    "mobilenet": BackboneSpec("MobileNet", "mobilenet", 32, takes_alpha=True),
    "mobilenet_v2": BackboneSpec("MobileNetV2", "mobilenet_v2", 32, takes_alpha=True),
    "efficientnet_b0": BackboneSpec("EfficientNetB0", "efficientnet", 32),
    "resnet50": BackboneSpec("ResNet50", "resnet50", 32),
    "vgg16": BackboneSpec("VGG16", "vgg16", 32),
    "inception_v3": BackboneSpec("InceptionV3", "inception_v3", 75),
}


def backbone_input_size(architecture: str, image_hw: tuple[int, int],
                        input_size: Optional[int]) -> tuple[int, int]:
    """The (height, width) the backbone sees: `input_size` squared when set, else the image's
    own size with each side raised to the backbone's minimum."""
    spec = BACKBONES[architecture]
    if input_size is None:
        return max(image_hw[0], spec.min_size), max(image_hw[1], spec.min_size)
    if input_size < spec.min_size:
        raise ConfigError(
            f"key 'model.input_size' must be at least {spec.min_size} for {architecture} "
            f"(keras.applications.{spec.constructor}); received {input_size}"
        )
    return input_size, input_size


def preprocess_model(architecture: str, size: tuple[int, int]):
    """A small model named `preprocess` applying the backbone's own `preprocess_input` to
    0..255 RGB images. Built from the Keras function itself (Keras serialises the ops it
    uses), so the saved model needs no custom objects."""
    import keras

    preprocess_input = getattr(keras.applications, BACKBONES[architecture].module).preprocess_input
    inputs = keras.Input(shape=(*size, 3), name="rgb_0_255")
    return keras.Model(inputs, preprocess_input(inputs), name=PREPROCESS_LAYER)


def create_backbone(architecture: str, *, size: tuple[int, int], weights: Optional[str],
                    alpha: Optional[float]):
    """keras.applications network `architecture` without its top, named `backbone`.

    Args:
        size: (height, width) of its input (3 channels).
        weights: "imagenet" (downloaded once into `$KERAS_HOME/models`, `~/.keras` by default),
            None (random init), or the path of a weights file of the same network without its
            top (`.h5` as Keras publishes them, or `.weights.h5` from `save_weights`).
        alpha: width multiplier for the MobileNets (ignored by the others).
    """
    import keras

    spec = BACKBONES[architecture]
    constructor = getattr(keras.applications, spec.constructor)
    kwargs = {"alpha": alpha} if spec.takes_alpha and alpha is not None else {}
    described = f"keras.applications.{spec.constructor}(include_top=False" + (
        f", alpha={alpha})" if kwargs else ")")
    if weights not in (None, "imagenet"):
        path = Path(weights).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"key 'model.weights': file {weights!r} not found (relative paths are from the "
                "repository root); give imagenet, null, or the path of a weights file"
            )
        weights = str(path)
    try:
        return constructor(include_top=False, weights=weights, input_shape=(*size, 3),
                           name=BACKBONE_LAYER, **kwargs)
    except (ValueError, KeyError, OSError) as err:
        if weights not in (None, "imagenet"):
            raise ConfigError(
                f"key 'model.weights': {weights} does not match {described}: {_one_line(err)}; "
                "give weights saved from that exact network without its top"
            ) from None
        if isinstance(err, ValueError):
            raise ConfigError(f"model {architecture!r}: {described}: {_one_line(err)}") from None
        raise
    except Exception as err:  # get_file raises plain Exception when the download fails
        if weights == "imagenet" and "fetch failure" in str(err).lower():
            raise ConfigError(
                f"key 'model.weights': could not download the ImageNet weights of {described} "
                f"({_one_line(err)}); offline, point KERAS_HOME at a Keras cache holding "
                "models/<weights file>, or set model.weights to a local weights file"
            ) from None
        raise


def _one_line(err: BaseException, limit: int = 300) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[:limit] + "..."
