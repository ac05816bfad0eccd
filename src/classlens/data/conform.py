"""Decode one image (a file, or an array from an in-memory source) and conform it to the
configured size and channels, or say in one line why it cannot be used.

Pillow does the decoding (JPEG, PNG, BMP, GIF's first frame, TIFF, WebP, ...), the mode
conversions and the resampling; this module only decides what to ask it for and turns its
failures into skip reasons. (Keras' `load_img` is a thin wrapper over the same Pillow calls, but
it neither scales 16-bit images nor separates a truncated file from a non-image.)
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, Optional, Union

import numpy as np

from classlens.errors import Constraint

RESIZE_MODES = ("stretch", "crop", "pad")
INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming")  # Pillow's
DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's own decompression-bomb limit
IMAGE_SIZE = Constraint(  # data.image_size: checked at load time and by ConformSpec.from_config
    lambda size: not size or (len(size) == 2 and min(size) >= 1),
    "be [] (keep the source size) or [height, width] with positive numbers")
# Pillow modes holding one channel of intensity; everything else is treated as colour.
GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
WIDE_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
log = logging.getLogger(__name__)
_PILLOW_PIXELS = re.compile(r"\((\d+) pixels\)")  # the size in Pillow's bomb message


class SkipImage(Exception):
    """This image cannot be used; the message is the reason listed in the data report."""


@dataclass(frozen=True)
class ConformSpec:
    """What every prepared image becomes.

    Args:
        size: (height, width), or None to keep each image's own size.
        channels: 1 (grayscale), 3 (RGB), or 0 to keep the source's (1 for grayscale modes).
        resize: 'stretch' | 'crop' | 'pad' (aspect-preserving centre crop / black padding).
        interpolation: a Pillow resampling filter name ('bilinear', 'lanczos', ...).
        max_pixels: larger images (width x height) are skipped before their pixels are decoded.
    """

    size: Optional[tuple[int, int]]
    channels: int
    resize: str = "stretch"
    interpolation: str = "bilinear"
    max_pixels: int = DEFAULT_MAX_PIXELS

    @classmethod
    def from_config(cls, *, image_size: list[int], channels: int, resize: str,
                    interpolation: str, max_image_pixels: int) -> "ConformSpec":
        IMAGE_SIZE.check("data.image_size", list(image_size))
        return cls(size=tuple(image_size) if image_size else None, channels=channels,
                   resize=resize, interpolation=interpolation, max_pixels=max_image_pixels)


@dataclass(frozen=True)
class ImageInfo:
    """What the source image was, before conforming: for the size statistics of the report."""

    width: int
    height: int
    mode: str
    format: str


@contextmanager
def pixel_limit(max_pixels: int) -> Iterator[None]:
    """Pillow set up, while the block runs, for decoding many untrusted files (restored on exit):

    - its own decompression-bomb checks at `max_pixels`, with its `DecompressionBombWarning`
      raised as an error that `conform_stream` reports as a skip quoting `max_pixels`. Skipped,
      not silenced: Pillow warns for an image between 1x and 2x its limit, at open and inside
      decoders (a GIF frame, an ICO entry, TIFF tiles larger than the header), so each warning is
      an image over the configured limit, the case of Pillow's error; decoding it anyway is what
      the limit is there to prevent.
    - its notes on damaged metadata (UserWarnings, and the TIFF plugin's logged error) kept off
      stderr: the file is then either decoded (Pillow recovered) or skipped with the reason, the
      file named; a raw line naming no file helps nobody.

    Process-wide (Pillow's limit, the warning filters and loggers are globals): enter it once,
    from one thread, around a batch of decoding, as `classlens.data.ingest` does."""
    from PIL import Image

    previous = Image.MAX_IMAGE_PIXELS
    pillow_log = logging.getLogger("PIL")
    previous_level = pillow_log.level
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
        Image.MAX_IMAGE_PIXELS = max_pixels
        pillow_log.setLevel(logging.CRITICAL)
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = previous
            pillow_log.setLevel(previous_level)


def conform_file(path: Path, spec: ConformSpec) -> tuple[np.ndarray, ImageInfo]:
    """Decode `path` and conform it; raises SkipImage with the reason when it cannot be used."""
    try:
        if os.stat(path).st_size == 0:
            raise SkipImage("empty file (0 bytes)")
    except OSError as err:
        raise SkipImage(f"unreadable: {type(err).__name__}: {err.strerror}") from None
    return conform_stream(path, spec)


def conform_stream(source: Union[Path, BinaryIO], spec: ConformSpec) -> tuple[np.ndarray, ImageInfo]:
    """Decode an image file given as a path or an open binary stream (bytes received by the
    server, an upload) and conform it exactly as `conform_file` does; raises SkipImage."""
    from PIL import Image, ImageOps

    try:
        with Image.open(source) as image:
            width, height = image.size
            if width * height > spec.max_pixels:
                raise SkipImage(f"over the pixel limit: {width}x{height} = {width * height} "
                                f"pixels > data.max_image_pixels {spec.max_pixels}")
            info = ImageInfo(width, height, image.mode, image.format or "?")
            if spec.size is not None and image.format == "JPEG":
                # decode at 1/2, 1/4 or 1/8 scale when the target allows: same result size,
                # a fraction of the work for large photos
                image.draft(image.mode, (spec.size[1], spec.size[0]))
            image.load()  # a truncated or corrupt file fails here
            upright = ImageOps.exif_transpose(image)  # camera photos: as viewers show them
            return _conform(upright, spec), info
    except SkipImage:
        raise
    except Exception as err:  # any type: see _failure
        log.debug("decoding failed", exc_info=True)
        raise SkipImage(_failure(err, spec)) from None


def _failure(err: Exception, spec: ConformSpec) -> str:
    """The skip reason for an exception out of Pillow. Any type: on damaged data its decoders
    raise OSError, SyntaxError, ValueError, EOFError, but also TypeError, struct.error,
    IndexError, MemoryError, ... (Pillow's own fuzzers catch Exception); the type is named
    when it is not one of the usual ones, and the traceback is logged at debug level."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(err, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return _over_limit(str(err), spec.max_pixels)
    if isinstance(err, UnidentifiedImageError):
        return "not an image Pillow can read"
    if isinstance(err, (FileNotFoundError, PermissionError, IsADirectoryError)):
        return f"unreadable: {type(err).__name__}: {err.strerror}"
    text = " ".join(str(err).split())  # one line, whatever the decoder wrote
    if not isinstance(err, (OSError, SyntaxError, ValueError, EOFError)) or not text:
        text = f"{type(err).__name__}: {text}".rstrip(": ")
    return f"truncated or corrupt image data: {text}"


def _over_limit(pillow_message: str, limit: int) -> str:
    """The skip reason for Pillow's bomb error or warning, quoting the configured limit (Pillow's
    message quotes its own, which is 2x that for the error) and the size Pillow read."""
    found = _PILLOW_PIXELS.search(pillow_message)
    pixels = int(found.group(1)) if found else None
    if pixels is not None and pixels <= limit:  # outside `pixel_limit`: Pillow's own limit
        return f"over Pillow's decompression-bomb limit ({pillow_message})"
    size = f"{pixels} pixels" if pixels is not None else "the image"
    return f"over the pixel limit: {size} > data.max_image_pixels {limit}"


def conform_array(array: np.ndarray, spec: ConformSpec) -> tuple[np.ndarray, ImageInfo]:
    """Conform a uint8 (H, W) or (H, W, C) array from an in-memory source."""
    from PIL import Image

    if array.ndim == 2:
        array = array[..., np.newaxis]
    height, width, channels = array.shape
    info = ImageInfo(width, height, "L" if channels == 1 else "RGB", "array")
    if spec.size in (None, (height, width)) and spec.channels in (0, channels):
        return np.ascontiguousarray(array, dtype=np.uint8), info
    image = Image.fromarray(array[..., 0] if channels == 1 else array[..., :3])
    return _conform(image, spec), info


def _conform(image, spec: ConformSpec) -> np.ndarray:
    """Pillow image (already loaded) -> uint8 (H, W, C) of the spec's size and channels."""
    from PIL import Image, ImageOps

    image = _to_8bit(image)
    gray = image.mode in GRAY_MODES
    channels = spec.channels or (1 if gray else 3)
    if "A" in image.getbands() or "transparency" in image.info:
        # composite onto black, so transparent pixels do not keep whatever colour they stored
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
    image = image.convert("L" if channels == 1 else "RGB")
    if spec.size is not None and image.size != (spec.size[1], spec.size[0]):
        target = (spec.size[1], spec.size[0])
        method = getattr(Image.Resampling, spec.interpolation.upper())
        if spec.resize == "crop":
            image = ImageOps.fit(image, target, method=method)
        elif spec.resize == "pad":
            image = ImageOps.pad(image, target, method=method, color=0)
        else:
            image = image.resize(target, method)
    array = np.asarray(image, dtype=np.uint8)
    return array[..., np.newaxis] if array.ndim == 2 else array


def _to_8bit(image):
    """16-bit and 32-bit grayscale scaled to 0..255 (Pillow's own convert('L') clips them);
    float images are taken as 0..1 when they fit that range, else clipped to 0..255."""
    from PIL import Image

    if image.mode not in WIDE_MODES:
        return image
    values = np.asarray(image).astype(np.float64)
    if image.mode == "F":
        values = values * 255.0 if values.size and values.max() <= 1.0 else values
    else:
        values = values * (255.0 / 65535.0)
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), "L")
