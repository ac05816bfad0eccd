"""A trained model plus its preprocessing record: predict class names for new image files.

    from classlens.serving import load_predictor
    predictor = load_predictor("models/model.keras")     # or a run id, runs:/..., models:/...
    for result in predictor.predict(["cat.png", "dog.jpg"], top_k=3):
        print(result)   # {"image": "cat.png", "label": "cat", "probability": 0.97,
                        #  "top_k": [{"label": "cat", "probability": 0.97}, ...]}
                        # or {"image": "bad.png", "error": "bad.png: not an image ..."}

A binary model answers the same way, its `label` decided at the threshold fitted on the
validation split; a multi-label model answers with the label set at each label's fitted threshold
and every label's probability:
    {"image": "beach.png", "labels": ["sea", "sunset"],
     "probabilities": [{"label": "people", "probability": 0.08, "threshold": 0.41}, ...]}

The same object answers the MLflow server (`classlens.serving.pyfunc`), so the command line, the
Python API and the HTTP endpoint share decoding, resizing, batching and ranking.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence

import numpy as np

from classlens.errors import InputError
from classlens.evaluation.predictions import binary_decisions, two_columns
from classlens.models.files import load_keras_file
from classlens.serving.preprocessing import ImageSource, PreprocessingRecord, load_image
from classlens.task import BINARY, MULTILABEL, decisions, output_units

DEFAULT_TOP_K = 5
DEFAULT_BATCH_SIZE = 64
RECORD_NAME = "preprocessing.json"  # beside a .keras file (the train stage writes both)
_RUN_ID = re.compile(r"[0-9a-f]{32}")


def rank_classes(probabilities: np.ndarray, class_names: Sequence[str], *, top_k: int
                 ) -> list[dict[str, Any]]:
    """Per row of (N, C) probabilities: the top-k classes by name, most probable first (ties by
    class index, as in the predict stage's table), as plain dicts."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    k = max(1, min(int(top_k), probabilities.shape[1]))
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    results = []
    for row, indices in zip(probabilities, order):
        ranked = [{"label": class_names[i], "probability": float(row[i])} for i in indices]
        results.append({"label": ranked[0]["label"], "probability": ranked[0]["probability"],
                        "top_k": ranked})
    return results


def decide(probabilities: np.ndarray, record: PreprocessingRecord, *, top_k: int
           ) -> list[dict[str, Any]]:
    """Per row of class probabilities, the answer for the record's task: the top-k ranking
    (multiclass), that ranking with the label decided at the fitted threshold (binary), or the
    label set at each label's threshold with every label's probability (multilabel)."""
    names = record.class_names
    if record.task == MULTILABEL:
        thresholds = record.threshold_values
        chosen = decisions(probabilities, thresholds)
        return [{"labels": [n for n, yes in zip(names, picked) if yes],
                 "probabilities": [{"label": n, "probability": float(p), "threshold": t}
                                   for n, p, t in zip(names, row, thresholds)]}
                for row, picked in zip(np.asarray(probabilities, dtype=np.float64), chosen)]
    results = rank_classes(probabilities, names, top_k=top_k)
    if record.task == BINARY:
        decided = binary_decisions(probabilities, positive=record.positive_index,
                                   threshold=record.threshold_values[0])
        for result, row, i in zip(results, np.asarray(probabilities, np.float64), decided):
            result.update(label=names[i], probability=float(row[i]))
    return results


@dataclass
class Predictor:
    """A Keras model with the record of how its inputs were prepared."""

    model: Any  # keras.Model taking uint8 (N, H, W, C)
    record: PreprocessingRecord
    source: str = ""

    def __post_init__(self) -> None:
        expected = tuple(self.model.input_shape[1:])
        if expected != self.record.input_shape:
            raise InputError(f"{self.source or 'model'}: takes inputs of shape {expected} but its "
                             f"preprocessing record says {self.record.input_shape}; retrain")
        if self.model.output_shape[-1] != output_units(self.record.task,
                                                       len(self.record.class_names)):
            raise InputError(f"{self.source or 'model'}: outputs {self.model.output_shape[-1]} "
                             f"classes but its preprocessing record names "
                             f"{len(self.record.class_names)}; retrain")

    @property
    def class_names(self) -> list[str]:
        return list(self.record.class_names)

    def probabilities(self, images: np.ndarray, *, batch_size: int = DEFAULT_BATCH_SIZE
                      ) -> np.ndarray:
        """(N, C) probabilities for prepared uint8 images (N, H, W, C), in batches (a binary
        model's one sigmoid as two class columns; multilabel: one probability per label)."""
        images = np.asarray(images, dtype=np.uint8)
        if len(images) == 0:
            return np.zeros((0, len(self.record.class_names)), dtype=np.float32)
        out = [np.asarray(self.model.predict_on_batch(images[i:i + batch_size]))
               for i in range(0, len(images), batch_size)]
        probabilities = np.concatenate(out).astype(np.float32)
        if self.record.task == BINARY:
            return two_columns(probabilities, positive=self.record.positive_index)
        return probabilities

    def predict(self, images: Iterable[ImageSource], *, top_k: int = DEFAULT_TOP_K,
                batch_size: int = DEFAULT_BATCH_SIZE, progress: Optional[bool] = False,
                names: Optional[Sequence[str]] = None) -> list[dict[str, Any]]:
        """Predict every image (paths, bytes or file objects), in input order; an unreadable
        one gets `{"image", "error"}` and the rest go on. See `iter_predictions`."""
        return list(self.iter_predictions(images, top_k=top_k, batch_size=batch_size,
                                          progress=progress, names=names))

    def iter_predictions(self, images: Iterable[ImageSource], *, top_k: int = DEFAULT_TOP_K,
                         batch_size: int = DEFAULT_BATCH_SIZE, progress: Optional[bool] = False,
                         names: Optional[Sequence[str]] = None) -> Iterator[dict[str, Any]]:
        """Yield one plain dict per image, in input order, a batch at a time.

        Args:
            images: files (paths), encoded image bytes or binary file objects.
            top_k: classes listed per image (at most the number of classes).
            batch_size: images decoded and sent to the model together.
            progress: a tqdm bar on stderr: True, False, or None (only on a terminal).
            names: what to call each image in the results (default: its path, or its index).
        """
        if top_k < 1:
            raise InputError(f"top_k must be >= 1; received {top_k}")
        if batch_size < 1:
            raise InputError(f"batch_size must be >= 1; received {batch_size}")
        images = list(images)
        if progress is None and len(images) <= batch_size:
            progress = False  # one batch: nothing to watch
        labels = list(names) if names is not None else [
            str(img) if isinstance(img, (str, Path)) else str(i) for i, img in enumerate(images)]
        bar = _progress_bar(len(images), enabled=progress)
        try:
            for start in range(0, len(images), batch_size):
                chunk = range(start, min(start + batch_size, len(images)))
                yield from self._predict_chunk([images[i] for i in chunk],
                                               [labels[i] for i in chunk], top_k, bar.update)
        finally:
            bar.close()

    def _predict_chunk(self, sources: list, labels: list[str], top_k: int,
                       advance: Callable[[int], Any]) -> list[dict[str, Any]]:
        results: list[Optional[dict]] = [None] * len(sources)
        pixels, where = [], []
        for i, (source, label) in enumerate(zip(sources, labels)):
            try:
                pixels.append(load_image(source, self.record, name=label))
                where.append(i)
            except InputError as err:
                results[i] = {"image": label, "error": str(err)}
        if pixels:
            ranked = decide(self.probabilities(np.stack(pixels), batch_size=len(pixels)),
                            self.record, top_k=top_k)
            for i, row in zip(where, ranked):
                results[i] = {"image": labels[i], **row}
        advance(len(sources))
        return results  # type: ignore[return-value]


def _progress_bar(total: int, *, enabled: Optional[bool]):
    from tqdm import tqdm

    # None: tqdm shows the bar only when stderr is a terminal. Updates come a batch at a time,
    # so each is drawn (mininterval=0, miniters=1): with tqdm's defaults (0.1 s, and a step
    # learnt from the rate) a fast last batch was never shown before the bar was cleared
    # (leave=False), and the count never reached the total
    return tqdm(total=total, unit="image", disable=(None if enabled is None else not enabled),
                leave=False, mininterval=0, miniters=1)


# ---------------------------------------------------------------- loading


def load_predictor(model: str | Path, *, tracking_uri: Optional[str] = None) -> Predictor:
    """The predictor for `model`: a `.keras` file (its `preprocessing.json` beside it), an MLflow
    model folder, an MLflow run id (the model the train stage logged in it), or an MLflow model
    URI (`runs:/<id>/model`, `models:/<name>/<version>`, ...).

    An MLflow model is only ever read as files (`classlens.serving.model_folder`): a folder that
    is not the model the train stage logs is refused, and none of its code or pickles is run.
    `tracking_uri` is the MLflow store for run ids and `models:/` URIs; default
    `MLFLOW_TRACKING_URI`, else the project's (`models/mlflow_run.json`), else `sqlite:///mlflow.db`.
    """
    text = str(model)
    path = Path(text)
    if path.is_file() and path.suffix == ".keras":
        return _from_files(path, path.parent / RECORD_NAME)
    if path.is_dir() and (path / "MLmodel").is_file():
        return _from_folder(path, name=text)
    if "://" in text or text.startswith(("models:/", "runs:/")):
        return _from_mlflow(text, tracking_uri=tracking_uri)
    if _RUN_ID.fullmatch(text) and not path.exists():
        return _from_mlflow(text, tracking_uri=tracking_uri, run_id=True)
    if path.exists():
        raise InputError(f"{text}: not a .keras file or an MLflow model folder (one holding an "
                         "MLmodel file)")
    raise InputError(f"{text}: not found; MODEL must be a .keras file, an MLflow model folder, "
                     "an MLflow run id (32 hex digits) or a runs:/ or models:/ URI")


def load_keras_model(path: str | Path):
    """A `.keras` model file for prediction (`classlens.models.files`: safe mode, one line)."""
    return load_keras_file(path, advice="give a model without Lambda layers, such as the "
                                        "model.keras the train stage wrote")


def _from_files(model: Path, record: Path, *, name: Optional[str] = None) -> Predictor:
    record = PreprocessingRecord.read(record)  # first: cheap, and it says what to do
    return Predictor(model=load_keras_model(model), record=record, source=name or str(model))


def _from_folder(folder: Path, *, name: str) -> Predictor:
    from classlens.serving.model_folder import model_files

    files = model_files(folder, name=name)
    return _from_files(files.keras, files.record, name=name)


def _from_mlflow(reference: str, *, tracking_uri: Optional[str], run_id: bool = False
                 ) -> Predictor:
    import tempfile

    from classlens.serving.loading import download_model

    # the model is read into memory, so its downloaded files can go when this returns
    with tempfile.TemporaryDirectory(prefix="classlens-model-") as tmp:
        folder, uri = download_model(reference, Path(tmp), tracking_uri=tracking_uri,
                                     is_run_id=run_id)
        return _from_folder(folder, name=uri)
