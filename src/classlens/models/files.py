"""Loading a Keras model file, the one way: Keras' safe mode (a Lambda layer's Python code in the
file is refused, never run), uncompiled (classlens only predicts and takes gradients), and any
failure one line. Used for the user's own model (`model=file`), `classlens predict` and the
stages that load models/model.keras."""

from __future__ import annotations

from pathlib import Path

from classlens.errors import InputError


def load_keras_file(path: str | Path, *, advice: str):
    """The `keras.Model` in `path` (.keras or .h5), or `InputError` naming the file, the cause
    and `advice` (what to give instead)."""
    import keras

    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as err:  # Keras raises many types for a file it cannot read
        # Keras nests the cause of a layer that fails as "... Exception encountered: <cause>"
        cause = " ".join(str(err).split("Exception encountered:")[-1].split())
        if "`Lambda` layer" in cause:
            raise InputError(f"{path}: holds a Lambda layer whose Python code Keras' safe mode "
                             f"will not run (loading it would run code from the file); {advice}"
                             ) from None
        raise InputError(f"{path}: Keras {keras.__version__} cannot load it as a model "
                         f"({type(err).__name__}: {cause[:300]}); {advice}") from None
