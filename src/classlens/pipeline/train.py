"""Stage `train`: build the configured model, fit it, save models/, start the MLflow run."""

from __future__ import annotations

from dataclasses import asdict

from classlens import paths
from classlens.atomic import atomic_files, save_figure, write_csv
from classlens.config import BackboneOptions, Config
from classlens.data.prepared import (cache_in_memory, is_multilabel, load_classes,
                                     load_fingerprint, load_split)
from classlens.errors import ConfigError
from classlens.task import BINARY, check_fits_data, positive_index, sigmoid_output
from classlens.tracking.log import (epoch_metrics_callback, log_data_report, log_dataset,
                                    log_files, log_for_compare, log_metrics, replace_artifacts,
                                    set_tags)
from classlens.tracking.runs import training_run
from classlens.tracking.store import resolve_tracking_uri, ui_url
from classlens.training.summary import HEADLINE_METRIC_NAMES, epochs_run, headline


def run(cfg: Config) -> None:
    classes = load_classes()  # inputs first: a missing file fails before TensorFlow loads
    train, val = (cache_in_memory(load_split(s), limit_mb=cfg.data.memory_cache_mb)
                  for s in ("train", "val"))
    fingerprint = load_fingerprint()
    kind = cfg.task.kind
    check_fits_data(kind, multilabel_data=is_multilabel(),
                    class_names=classes, positive_class=cfg.task.positive_class)

    from classlens.figures import training as figures
    from classlens.training import distributed
    from classlens.models import build_model
    from classlens.models.precision import apply_policy
    from classlens.models.transfer import fine_tune_plan
    from classlens.training.loop import fit, score_provided, seed_everything
    from classlens.training.objective import targets

    positive = positive_index(classes, cfg.task.positive_class) if kind == BINARY else 1
    y_train, y_val = (targets(split.labels, kind, positive=positive) for split in (train, val))

    seed_everything(cfg.seed, deterministic=cfg.train.deterministic)
    policy = apply_policy(cfg.train.mixed_precision)  # before any layer is built
    mode = distributed.resolve_mode(cfg.train.distribution)
    provided = cfg.model.architecture == "file"
    fine_tuning = isinstance(cfg.model, BackboneOptions) and cfg.model.fine_tune.epochs > 0
    if mode != "none" and (provided or fine_tuning):
        raise ConfigError(
            f"train.distribution={cfg.train.distribution!r} trains models built from conf/ in one "
            "phase; set train.distribution=none for a provided model file or fine-tuning")
    # a strategy must exist before any model or variable (TF's collective ops require it)
    strategy = None if mode == "none" else distributed.make_strategy(mode)

    def build():
        return build_model(cfg.model, input_shape=tuple(train.images.shape[1:]),
                           num_classes=len(classes), seed=cfg.seed, task=kind)

    if strategy is not None and not distributed.is_chief():
        _train_as_worker(build, (train.images, y_train), (val.images, y_val), cfg, strategy)
        return
    fine_tune = None
    if provided:  # bring your own model: checked against the data and wrapped, not trained
        from classlens.models.provided import load_provided, provenance_tags

        model, output_kind = load_provided(
            cfg.model.path, input_shape=tuple(train.images.shape[1:]), num_classes=len(classes),
            input_scaling=cfg.model.input_scaling, output=cfg.model.output,
            sample=train.images[:32], task=kind)
    elif strategy is None:
        model = build()
        # resolved now, so a bad layer name fails before phase 1 rather than after it
        fine_tune = fine_tune_plan(model, cfg.model)
        if fine_tune is not None:
            print(f"train: fine-tuning will unfreeze {len(fine_tune.layers)} backbone layers "
                  "with weights" + (f", from {fine_tune.layers[0]} up" if fine_tune.layers
                                    else "")
                  + (" (batch norm stays frozen)" if cfg.model.weights is not None
                     else " (batch norm trains in both phases)"))
    else:
        model = None  # built under the strategy's scope by fit_distributed

    with training_run(cfg.tracking, asdict(cfg), data_fingerprint=fingerprint) as ref:
        log_dataset(train.images, train.labels, name=f"{cfg.data.source}-train",
                    digest=fingerprint["digest"][:36], source=str(paths.PREPARED_DIR),
                    context="train")
        log_data_report(paths.PREPARED_REPORT, fingerprint, classes)
        if provided:
            result = score_provided(model, (train.images, y_train), (val.images, y_val),
                                    batch_size=cfg.train.batch_size, task=kind)
            log_metrics(result.history.iloc[0].drop(["epoch", "phase"]).to_dict(), step=0)
            set_tags(provenance_tags(cfg.model.path, output_kind))
        elif strategy is None:
            result = fit(model, (train.images, y_train), (val.images, y_val),
                         cfg.train, seed=cfg.seed, fine_tune=fine_tune,
                         extra_callbacks=[epoch_metrics_callback()], task=kind)
        else:
            model, result = distributed.fit_distributed(
                build, (train.images, y_train), (val.images, y_val), cfg.train,
                strategy=strategy, seed=cfg.seed,
                extra_callbacks=[epoch_metrics_callback()], task=kind)
            print(f"train: chief weights digest {distributed.weights_digest(model)}")

        facts = headline(result.history, result.best_epoch)
        thresholds = (_fit_thresholds(model, val.images, y_val, cfg) if sigmoid_output(kind)
                      else None)
        # Every file of models/ goes into one staging folder, moved into place only once all
        # are written and the served model is logged: whatever fails before (the tracking
        # server, a kill), the previous models/ stays whole, never half new (atomic_files).
        from classlens.pipeline.package_model import package_model
        with atomic_files(paths.MODEL_DIR) as out:
            model.save(out / paths.MODEL.name)
            write_csv(out / paths.HISTORY.name, result.history)
            save_figure(out / paths.TRAINING_CURVES.name,
                        figures.training_curves(result.history, best_epoch=result.best_epoch))
            ref.write(out / paths.RUN_REF.name)
            # preprocessing record, model card, augmentation preview, the served (pyfunc) model
            package_model(model, cfg, out, classes=classes, fingerprint=fingerprint,
                          history=result.history, best_epoch=result.best_epoch,
                          train_images=train.images, train_labels=train.labels,
                          example_images=val.images, run_id=ref.run_id,
                          thresholds=thresholds)

        log_metrics({**{HEADLINE_METRIC_NAMES[k]: v for k, v in facts.items()},
                     "trainable_params": model.count_params()})
        set_tags({"stopped_early": result.stopped_early,
                  "model_architecture": cfg.model.architecture,
                  "dtype_policy": policy,
                  **{f"phase{n}_start_epoch": e for n, e in result.phase_starts.items()
                     if n > 0}})
        replace_artifacts([paths.HISTORY, paths.TRAINING_CURVES, paths.FINGERPRINT,
                           paths.CLASSES], "train")
        log_files([paths.PREPROCESSING, paths.MODEL_CARD, paths.AUGMENT_PREVIEW], "train")
        log_for_compare([paths.TRAINING_CURVES])
    print(f"train: best epoch {result.best_epoch}/{facts['epochs_run']}, "
          f"val accuracy {facts['best_val_accuracy']:.4f}, run {ref.run_id}; runs side by side: "
          f"{ui_url(resolve_tracking_uri(ref.store_uri), ref.experiment_id)}")


def _fit_thresholds(model, images, y_val, cfg: Config):
    """Binary and multi-label decisions: each label's threshold fitted on the validation split
    by `task.threshold_rule` (`classlens.evaluation.thresholds`)."""
    from classlens.evaluation.thresholds import fit_thresholds
    from classlens.models.inference import predict_probabilities

    probabilities = predict_probabilities(model, images, batch_size=cfg.train.batch_size)
    return fit_thresholds(y_val.reshape(len(y_val), -1), probabilities,
                          rule=cfg.task.threshold_rule, target=cfg.task.threshold_target,
                          value=cfg.task.threshold)


def _train_as_worker(build, train, val, cfg: Config, strategy) -> None:
    """A non-chief worker: the same training steps, no MLflow, outputs to a removed scratch."""
    import shutil

    from classlens.training import distributed

    model, result = distributed.fit_distributed(build, train, val, cfg.train, strategy=strategy,
                                                seed=cfg.seed, task=cfg.task.kind)
    scratch = distributed.scratch_dir()
    try:
        model.save(scratch / paths.MODEL.name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"train: worker weights digest {distributed.weights_digest(model)} "
          f"({epochs_run(result.history)} epochs; outputs and MLflow left to the chief)")
