"""Stage `predict`: the trained model on every test image -> prediction table + probabilities;
and on every validation image -> probabilities (evaluate fits the calibration temperature on
them, never on the test split). Binary and multi-label decisions use the thresholds train fitted
on the validation split (models/preprocessing.json); a binary model's one sigmoid output is
written as two class columns, so multi-class readers take it as it is."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from classlens import paths
from classlens.atomic import atomic_dir, save_npy, write_csv
from classlens.config import Config
from classlens.data.prepared import load_classes, load_manifest, load_split
from classlens.errors import InputError
from classlens.evaluation.predictions import (binary_decisions, multilabel_table,
                                              prediction_table, two_columns)
from classlens.serving.preprocessing import PreprocessingRecord
from classlens.task import BINARY, MULTILABEL, output_units
from classlens.tracking.log import replace_artifacts
from classlens.tracking.runs import stage_run


def run(cfg: Config) -> None:
    from classlens.models.files import load_keras_file

    from classlens.models.inference import predict_probabilities

    if not paths.MODEL.exists():
        raise InputError(f"{paths.MODEL}: not found; run the train stage first (`dvc repro train`)")
    classes = load_classes()
    record = PreprocessingRecord.read(paths.PREPROCESSING)
    if record.task != cfg.task.kind:
        raise InputError(f"{paths.MODEL}: trained for task {record.task!r} but task.kind is "
                         f"{cfg.task.kind!r}; retrain (`dvc repro train`)")
    test = load_split("test")
    val = load_split("val")
    manifest = load_manifest()
    rows = manifest[manifest["split"] == "test"].sort_values("position")
    model = load_keras_file(paths.MODEL, advice="re-run `dvc repro train`")
    probabilities = predict_probabilities(model, test.images, batch_size=cfg.predict.batch_size)
    if probabilities.shape[1] != output_units(record.task, len(classes)):
        raise InputError(
            f"{paths.MODEL}: outputs {probabilities.shape[1]} scores, but a {record.task} model "
            f"of the {len(classes)} classes in {paths.CLASSES} has "
            f"{output_units(record.task, len(classes))}; retrain (`dvc repro train`)"
        )
    val_probabilities = predict_probabilities(model, val.images,
                                              batch_size=cfg.predict.batch_size)
    where = {"ids": rows["id"].tolist(), "source_paths": rows["path"].tolist()}
    if record.task == MULTILABEL:
        table = multilabel_table(**where, y_true=test.labels, probabilities=probabilities,
                                 thresholds=record.threshold_values, class_names=classes)
    else:
        pred = None
        if record.task == BINARY:
            positive = record.positive_index
            probabilities, val_probabilities = (two_columns(p, positive=positive)
                                                for p in (probabilities, val_probabilities))
            pred = binary_decisions(probabilities, positive=positive,
                                    threshold=record.threshold_values[0])
        table = prediction_table(**where, y_true=test.labels, probabilities=probabilities,
                                 class_names=classes, top_k=cfg.predict.top_k, pred=pred)
    with atomic_dir(paths.PREDICTIONS_DIR) as out:
        write_csv(out / paths.PREDICTIONS.name, table)
        save_npy(out / paths.PROBABILITIES.name, probabilities)
        save_npy(out / paths.VAL_PROBABILITIES.name, val_probabilities)
        save_npy(out / paths.VAL_LABELS.name, np.asarray(val.labels, dtype=val.labels.dtype))

    with stage_run(paths.RUN_REF, asdict(cfg)):
        replace_artifacts([paths.PREDICTIONS], "predict")
    print(f"predict: {len(table)} test images, {int(table['correct'].sum())} correct; "
          f"{len(val_probabilities)} validation images")
