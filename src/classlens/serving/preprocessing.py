"""The preprocessing record stored with a trained model, and the one function that applies it.

A model only gives meaningful answers on images prepared exactly as its training images were, so
the train stage writes that recipe next to the model (`models/preprocessing.json`, also inside the
logged MLflow model) and every consumer — `classlens predict`, the Python API, the MLflow server —
reads it instead of asking the user to re-type a size or a colour mode:

    {"format": "classlens.preprocessing/1",
     "height": 8, "width": 8, "channels": 1, "color_mode": "grayscale",
     "dtype": "uint8", "value_range": [0, 255], "scaling": "inside the model",
     "interpolation": "bilinear", "antialias": false,
     "crop_to_aspect_ratio": false, "pad_to_aspect_ratio": false, "exif_transpose": true,
     "class_names": ["0", "1", ...]}

The model takes uint8 pixels as they are (its first layer rescales), so preprocessing is decoding,
colour conversion and resizing only. Decoding is Pillow's; resizing is `keras.ops.image.resize`,
the op Keras' own image-folder loader uses (with the same interpolation / crop / pad options).
"""

from __future__ import annotations

import dataclasses
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Union

import numpy as np

from classlens.errors import InputError

FORMAT = "classlens.preprocessing/1"
# channels -> (name in the record, Pillow mode the decoded image is converted to)
COLOR_MODES = {1: ("grayscale", "L"), 3: ("rgb", "RGB"), 4: ("rgba", "RGBA")}
INTERPOLATIONS = ("nearest", "bilinear", "bicubic")

ImageSource = Union[str, Path, bytes, BinaryIO]


@dataclass(frozen=True)
class PreprocessingRecord:
    """How raw images become model input: target size, channels, dtype, resize method, classes."""

    height: int
    width: int
    channels: int
    class_names: list[str]
    interpolation: str = "bilinear"
    antialias: bool = False
    crop_to_aspect_ratio: bool = False
    pad_to_aspect_ratio: bool = False
    exif_transpose: bool = True
    dtype: str = "uint8"
    value_range: list[int] = field(default_factory=lambda: [0, 255])
    scaling: str = "inside the model (uint8 pixels are passed as they are)"

    def __post_init__(self) -> None:
        if self.channels not in COLOR_MODES:
            raise InputError(f"preprocessing record: channels must be one of "
                             f"{sorted(COLOR_MODES)}; received {self.channels!r}")
        if self.interpolation not in INTERPOLATIONS:
            raise InputError(f"preprocessing record: interpolation must be one of "
                             f"{list(INTERPOLATIONS)}; received {self.interpolation!r}")
        if min(self.height, self.width) < 1 or not self.class_names:
            raise InputError("preprocessing record: needs a positive height and width and at "
                             "least one class name")
        if self.crop_to_aspect_ratio and self.pad_to_aspect_ratio:
            raise InputError("preprocessing record: crop_to_aspect_ratio and pad_to_aspect_ratio "
                             "cannot both be true")

    @property
    def color_mode(self) -> str:
        return COLOR_MODES[self.channels][0]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, self.channels)

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "color_mode": self.color_mode, **dataclasses.asdict(self)}

    def write(self, path: str | Path) -> None:
        from classlens.atomic import write_json

        write_json(path, self.to_json())

    @classmethod
    def from_json(cls, raw: dict, *, source: str = "preprocessing record") -> "PreprocessingRecord":
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise InputError(f"{source}: not a classlens preprocessing record (expected "
                             f"format {FORMAT!r}); retrain with `dvc repro train`")
        names = {f.name for f in dataclasses.fields(cls)}
        try:
            return cls(**{k: v for k, v in raw.items() if k in names})
        except TypeError as err:
            raise InputError(f"{source}: incomplete preprocessing record ({err})") from None

    @classmethod
    def read(cls, path: str | Path) -> "PreprocessingRecord":
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: not found; the train stage writes it beside the model "
                             "(`dvc repro train`)")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise InputError(f"{path}: not valid JSON ({err})") from None
        return cls.from_json(raw, source=str(path))


def record_for_training(*, image_shape: list[int] | tuple[int, ...], class_names: list[str],
                        data_options: Any = None) -> PreprocessingRecord:
    """The record for a model trained on prepared images of `image_shape` (H, W, C).

    `data_options` is the `data` config section: its resize options (`interpolation`,
    `crop_to_aspect_ratio`, `pad_to_aspect_ratio`, `antialias`) are copied when the section has
    them, so the record follows whatever the prepare stage used; absent ones keep the defaults.
    """
    height, width, channels = (int(v) for v in image_shape)
    options = {}
    for name in ("interpolation", "antialias", "crop_to_aspect_ratio", "pad_to_aspect_ratio"):
        value = getattr(data_options, name, None)
        if value is not None:
            options[name] = value
    return PreprocessingRecord(height=height, width=width, channels=channels,
                               class_names=list(class_names), **options)


# ---------------------------------------------------------------- applying it


def decode_image(source: ImageSource, record: PreprocessingRecord, *,
                 name: str | None = None) -> np.ndarray:
    """Read one image file (path, bytes or file object; any format Pillow reads) into the
    record's colour mode, unresized: uint8 (h, w, channels). Raises `InputError` naming the
    problem (and `name`, default the path) when the data is not a readable image."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if name is None:
        name = str(source) if isinstance(source, (str, Path)) else "image data"
    stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    try:
        with Image.open(stream) as image:
            image.load()  # decode now: truncated files fail here, not later
            if record.exif_transpose:
                image = ImageOps.exif_transpose(image)
            converted = image.convert(COLOR_MODES[record.channels][1])
    except FileNotFoundError:
        raise InputError(f"{name}: file not found") from None
    except UnidentifiedImageError:
        raise InputError(f"{name}: not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as err:  # truncated / corrupt pixel data
        raise InputError(f"{name}: unreadable image ({err})") from None
    array = np.asarray(converted, dtype=np.uint8)
    return array.reshape(array.shape[0], array.shape[1], record.channels)


def to_model_input(pixels: np.ndarray, record: PreprocessingRecord) -> np.ndarray:
    """Resize decoded uint8 pixels (h, w, channels) to the record's size: uint8 (H, W, C).

    Images already at the target size pass through untouched (bit-identical to the prepared
    arrays); others go through `keras.ops.image.resize` with the record's options, then are
    rounded and clipped back to uint8."""
    if pixels.shape[:2] == (record.height, record.width):
        return np.ascontiguousarray(pixels, dtype=np.uint8)
    from keras import ops

    resized = ops.image.resize(pixels.astype(np.float32), (record.height, record.width),
                               interpolation=record.interpolation, antialias=record.antialias,
                               crop_to_aspect_ratio=record.crop_to_aspect_ratio,
                               pad_to_aspect_ratio=record.pad_to_aspect_ratio,
                               data_format="channels_last")
    return np.clip(np.rint(ops.convert_to_numpy(resized)), 0, 255).astype(np.uint8)


def load_image(source: ImageSource, record: PreprocessingRecord, *,
               name: str | None = None) -> np.ndarray:
    """`decode_image` then `to_model_input`: one file -> uint8 (H, W, C) ready for the model."""
    return to_model_input(decode_image(source, record, name=name), record)


def encode_png(image: np.ndarray) -> bytes:
    """One uint8 (H, W, C) image as PNG file bytes (grayscale, RGB or RGBA by its channels):
    the inverse of `decode_image` for images already at the model's size."""
    from PIL import Image

    array = np.asarray(image, dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(buffer, format="PNG")
    return buffer.getvalue()
