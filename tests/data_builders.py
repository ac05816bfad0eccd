"""Real image files for the data tests, written from scikit-learn's digits: folders, manifests
and IDX files in several formats and modes, and the broken files a real folder holds."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
from PIL import Image

from tests.helpers import digits

# (file suffix, writer) cycling over the images of a class: every format and mode the folder
# source must take.
FORMATS = ("png-L", "jpg-RGB", "bmp-RGB", "gif-P", "png-RGBA", "png-P", "png-I16", "png-LA")


def digit_images(classes=(0, 1, 2), per_class=12, size=16) -> dict[int, list[np.ndarray]]:
    """Per class, `per_class` digit images upscaled to size x size uint8 (grayscale)."""
    images, labels = digits()
    out = {}
    for c in classes:
        picks = np.flatnonzero(labels == c)[:per_class]
        out[c] = [np.asarray(Image.fromarray(images[i, :, :, 0]).resize(
            (size, size), Image.Resampling.NEAREST)) for i in picks]
    return out


def save_image(gray: np.ndarray, path: Path, fmt: str) -> Path:
    """Write a grayscale uint8 image as `fmt` ('png-L', 'jpg-RGB', ..., see FORMATS)."""
    kind, mode = fmt.split("-")
    path = path.with_suffix("." + kind)
    if mode == "L":
        Image.fromarray(gray, "L").save(path)
    elif mode == "RGB":
        Image.fromarray(np.stack([gray] * 3, -1), "RGB").save(path, quality=95)
    elif mode == "P":
        rgb = Image.fromarray(np.stack([gray, gray // 2, 255 - gray], -1), "RGB")
        frames = [rgb.convert("P", palette=Image.Palette.ADAPTIVE)]
        if kind == "gif":  # two frames: only the first is the image
            frames.append(Image.new("P", rgb.size, 0))
            frames[0].save(path, save_all=True, append_images=frames[1:])
        else:
            frames[0].save(path)
    elif mode == "RGBA":
        alpha = np.where(gray > 0, 255, 0).astype(np.uint8)
        Image.fromarray(np.stack([gray, gray, gray, alpha], -1), "RGBA").save(path)
    elif mode == "LA":
        Image.fromarray(np.stack([gray, np.full_like(gray, 200)], -1), "LA").save(path)
    elif mode == "I16":
        Image.fromarray(gray.astype(np.uint16) * 257).save(path)  # full 16-bit range
    else:
        raise ValueError(fmt)
    return path


def make_folder(root: Path, *, classes=(0, 1, 2), per_class=12, formats=FORMATS,
                presplit=False) -> dict[str, int]:
    """root/<class>/<n>.<ext> (or root/{train,test}/<class>/...) from digits; returns
    {relative path: label}."""
    written = {}
    for c, images in digit_images(classes, per_class).items():
        for n, image in enumerate(images):
            split = ("test" if n % 4 == 0 else "train") if presplit else ""
            folder = root / split / f"digit{c}"
            folder.mkdir(parents=True, exist_ok=True)
            path = save_image(image, folder / f"{n:03d}", formats[n % len(formats)])
            written[path.relative_to(root).as_posix()] = c
    return written


def write_idx(path: Path, array: np.ndarray, *, gz: bool = False, magic: bytes = None) -> Path:
    """An IDX file of a uint8 array (optionally gzipped, optionally a wrong magic number)."""
    header = magic if magic is not None else bytes([0, 0, 0x08, array.ndim])
    data = header + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path
