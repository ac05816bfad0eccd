"""The preprocessing record stored with a trained model, and the one function that applies it.

A model only gives meaningful answers on images prepared exactly as its training images were, so
the train stage writes that recipe next to the model (`models/preprocessing.json`, also inside the
logged MLflow model) and every consumer — `classlens predict`, the Python API, the MLflow server —
reads it instead of asking the user to re-type a size or a colour mode:

    {"format": "classlens.preprocessing/2",
     "height": 8, "width": 8, "channels": 1, "color_mode": "grayscale",
     "resize": "stretch", "interpolation": "bilinear", "max_pixels": 89478485,
     "dtype": "uint8", "value_range": [0, 255], "scaling": "inside the model ...",
     "class_names": ["0", "1", ...], "task": "multiclass", "positive_index": 1,
     "thresholds": null}

`task` is `task.kind`; binary and multilabel records carry each label's decision threshold,
fitted on the validation split (`thresholds`: `classlens.evaluation.thresholds.Thresholds` as
JSON: values, rule, target, fallback), and binary's `positive_index` (the class the model's one
sigmoid scores). Records written before these fields read as multiclass.

New images go through the prepare stage's own code (`classlens.data.conform`: Pillow decoding,
EXIF orientation, 16-bit scaling, transparency onto black, colour conversion, and the configured
stretch / crop / pad resize with the configured Pillow filter), so a file gives the model the same
pixels whether it was prepared for training or sent to `classlens predict`. The model takes uint8
pixels as they are (its first layer rescales).
"""

from __future__ import annotations

import dataclasses
import io
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Union

import numpy as np

from classlens.data.conform import (DEFAULT_MAX_PIXELS, INTERPOLATIONS, RESIZE_MODES,
                                    ConformSpec, SkipImage, conform_file, conform_stream,
                                    pixel_limit)
from classlens.errors import InputError
from classlens.task import BINARY, KINDS, MULTICLASS, output_units, sigmoid_output

FORMAT = "classlens.preprocessing/2"
OLD_FORMAT = "classlens.preprocessing/1"  # Keras-style resize flags; read and translated
COLOR_MODES = {1: "grayscale", 3: "rgb"}  # what the prepare stage produces

ImageSource = Union[str, Path, bytes, BinaryIO]
# `pixel_limit` sets Pillow's limit and Python's warning filters, both process-wide: one decode at
# a time, so the MLflow server's request threads never see each other's (or no) limit.
_DECODING = threading.Lock()


@dataclass(frozen=True)
class PreprocessingRecord:
    """How raw images become model input: target size, channels, dtype, resize method, classes."""

    height: int
    width: int
    channels: int
    class_names: list[str]
    resize: str = "stretch"
    interpolation: str = "bilinear"
    max_pixels: int = DEFAULT_MAX_PIXELS
    dtype: str = "uint8"
    value_range: list[int] = field(default_factory=lambda: [0, 255])
    scaling: str = "inside the model (uint8 pixels are passed as they are)"
    task: str = "multiclass"
    positive_index: int = 1
    thresholds: Any = None  # dict (Thresholds.to_json()) for binary and multilabel

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
        if self.resize not in RESIZE_MODES:
            raise InputError(f"preprocessing record: resize must be one of "
                             f"{list(RESIZE_MODES)}; received {self.resize!r}")
        if self.task not in KINDS:
            raise InputError(f"preprocessing record: task must be one of {list(KINDS)}; "
                             f"received {self.task!r}")
        if sigmoid_output(self.task):
            self._check_decisions()

    def _check_decisions(self) -> None:
        """A binary or multi-label record holds its fitted thresholds (one per output: 1 for
        binary, one per class for multilabel) and binary's positive class (0 or 1)."""
        from classlens.evaluation.thresholds import Thresholds

        where = "preprocessing record: key 'thresholds'"
        if not isinstance(self.thresholds, dict):
            raise InputError(f"{where}: a {self.task} model needs its fitted thresholds; "
                             "retrain with `dvc repro train`")
        values = Thresholds.from_json(self.thresholds, source=where).values
        want = output_units(self.task, len(self.class_names))
        if len(values) != want:
            raise InputError(f"{where}.values must hold {want} threshold(s) for a {self.task} "
                             f"model of {len(self.class_names)} classes; received {len(values)}")
        if self.task == BINARY and self.positive_index not in (0, 1):
            raise InputError("preprocessing record: key 'positive_index' must be 0 or 1 for a "
                             f"binary model; received {self.positive_index!r}")

    @property
    def threshold_values(self) -> list[float]:
        """Each output's decision threshold (binary: the positive class's; multilabel: one per
        class); empty for multiclass (the top class decides)."""
        return [float(v) for v in self.thresholds["values"]] if self.thresholds else []

    @property
    def color_mode(self) -> str:
        return COLOR_MODES[self.channels]

    @property
    def conform_spec(self) -> ConformSpec:
        """The prepare stage's `ConformSpec` for this record."""
        return ConformSpec(size=(self.height, self.width), channels=self.channels,
                           resize=self.resize, interpolation=self.interpolation,
                           max_pixels=self.max_pixels)

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
        if isinstance(raw, dict) and raw.get("format") == OLD_FORMAT:
            raw = _from_format_1(raw)
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise InputError(f"{source}: not a classlens preprocessing record (expected "
                             f"format {FORMAT!r}); retrain with `dvc repro train`")
        names = {f.name for f in dataclasses.fields(cls)}
        try:
            return cls(**{k: v for k, v in raw.items() if k in names})
        except TypeError as err:
            raise InputError(f"{source}: incomplete preprocessing record ({err})") from None
        except InputError as err:  # name the file, not "preprocessing record"
            raise InputError(str(err).replace("preprocessing record", source, 1)) from None

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


def _from_format_1(raw: dict) -> dict:
    """A record written before format 2 (models trained by earlier versions): its Keras-style
    crop / pad flags become the resize mode; the names of its three interpolations are Pillow's
    too."""
    resize = ("crop" if raw.get("crop_to_aspect_ratio") else
              "pad" if raw.get("pad_to_aspect_ratio") else "stretch")
    return {**raw, "format": FORMAT, "resize": resize}


def record_for_training(*, image_shape: list[int] | tuple[int, ...], class_names: list[str],
                        data_options: Any = None, task: str = MULTICLASS,
                        positive_index: int = 1,
                        thresholds: dict | None = None) -> PreprocessingRecord:
    """The record for a model trained on prepared images of `image_shape` (H, W, C).

    `data_options` is the `data` config section the prepare stage ran with: its `resize`,
    `interpolation` and `max_image_pixels` are copied when the section has them, so the record
    repeats whatever prepare did; absent ones keep the defaults.
    """
    height, width, channels = (int(v) for v in image_shape)
    options = {}
    for record_name, data_name in (("resize", "resize"), ("interpolation", "interpolation"),
                                   ("max_pixels", "max_image_pixels")):
        value = getattr(data_options, data_name, None)
        if value is not None:
            options[record_name] = value
    return PreprocessingRecord(height=height, width=width, channels=channels,
                               class_names=list(class_names), task=task,
                               positive_index=positive_index, thresholds=thresholds, **options)


# ---------------------------------------------------------------- applying it


def load_image(source: ImageSource, record: PreprocessingRecord, *,
               name: str | None = None) -> np.ndarray:
    """One image file (path, bytes or binary file object; any format Pillow reads) -> uint8
    (H, W, C) model input, through the prepare stage's own decoding and resizing
    (`classlens.data.conform`). Raises `InputError` naming the problem (and `name`, default the
    path) when the data is not a usable image.

    The record's `max_pixels` (the prepare stage's `data.max_image_pixels`) is Pillow's
    decompression-bomb limit while the image is decoded, as in prepare: an image over it is an
    error quoting that limit, and Pillow's `DecompressionBombWarning` becomes that error instead
    of a warning (see `classlens.data.conform.pixel_limit`)."""
    if name is None:
        name = str(source) if isinstance(source, (str, Path)) else "image data"
    try:
        with _DECODING, pixel_limit(record.max_pixels):
            if isinstance(source, (str, Path)):
                pixels, _ = conform_file(Path(source), record.conform_spec)
            else:
                stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
                pixels, _ = conform_stream(stream, record.conform_spec)
    except SkipImage as reason:
        raise InputError(f"{name}: {reason}") from None
    return pixels


def encode_png(image: np.ndarray) -> bytes:
    """One uint8 (H, W, C) image as PNG file bytes (grayscale or RGB by its channels): the
    inverse of `load_image` for images already at the model's size."""
    from PIL import Image

    array = np.asarray(image, dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(buffer, format="PNG")
    return buffer.getvalue()
