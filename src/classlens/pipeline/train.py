"""Stage `train`: build the configured model, fit it, save models/, start the MLflow run."""

from __future__ import annotations

from classlens import paths, tracking
from classlens.atomic import atomic_dir, save_figure, write_csv
from classlens.config import Config
from classlens.data.prepared import (cache_in_memory, load_classes, load_fingerprint,
                                     load_split)


def run(cfg: Config) -> None:
    classes = load_classes()  # inputs first: a missing file fails before TensorFlow loads
    train, val = (cache_in_memory(load_split(s), limit_mb=cfg.data.memory_cache_mb)
                  for s in ("train", "val"))
    fingerprint = load_fingerprint()

    from classlens import figures
    from classlens.models import build_model
    from classlens.training import fit, seed_everything

    seed_everything(cfg.seed, deterministic=cfg.train.deterministic)
    model = build_model(cfg.model, input_shape=tuple(train.images.shape[1:]),
                        num_classes=len(classes), seed=cfg.seed)

    with tracking.training_run(cfg, data_fingerprint=fingerprint) as ref:
        tracking.log_dataset(train.images, train.labels, name=f"{cfg.data.source}-train",
                             digest=fingerprint["digest"][:36], source=str(paths.PREPARED_DIR),
                             context="train")
        tracking.log_data_report(paths.PREPARED_REPORT, fingerprint, classes)
        result = fit(model, (train.images, train.labels), (val.images, val.labels), cfg.train,
                     seed=cfg.seed, extra_callbacks=[tracking.epoch_metrics_callback()])

        with atomic_dir(paths.MODEL_DIR) as out:
            model.save(out / paths.MODEL.name)
            write_csv(out / paths.HISTORY.name, result.history)
            save_figure(out / paths.TRAINING_CURVES.name, figures.training_curves(result.history))
            ref.write(out / paths.RUN_REF.name)

        best = result.history.iloc[result.best_epoch - 1]
        tracking.log_metrics({"best_epoch": result.best_epoch,
                              "epochs_run": len(result.history),
                              "best_val_loss": best["val_loss"],
                              "best_val_accuracy": best["val_accuracy"],
                              "trainable_params": model.count_params()})
        tracking.set_tags({"stopped_early": result.stopped_early,
                           "model_architecture": cfg.model.architecture})
        tracking.replace_artifacts([paths.HISTORY, paths.TRAINING_CURVES, paths.FINGERPRINT,
                                    paths.CLASSES], "train")
        tracking.log_keras_model(model, val.images[:4])
    print(f"train: best epoch {result.best_epoch}/{len(result.history)}, "
          f"val accuracy {best['val_accuracy']:.4f}, run {ref.run_id}")
