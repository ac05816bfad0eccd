"""scikit-learn's handwritten digits: 1,797 real 8x8 images in 10 classes, shipped with the
package (no download), the embedded default dataset."""

from __future__ import annotations

import numpy as np

from classlens.data.catalog import SourceData


def load_digits() -> SourceData:
    """Images as uint8 (N, 8, 8, 1) scaled from scikit-learn's 0..16 to 0..255; ids `digits:<i>`."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., np.newaxis]
    labels = bunch.target.astype(np.int64)
    return SourceData(
        images=images,
        labels=labels,
        class_names=[str(name) for name in bunch.target_names],
        ids=[f"digits:{i}" for i in range(len(labels))],
        paths=[""] * len(labels),
    )
