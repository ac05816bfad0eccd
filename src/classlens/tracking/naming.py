"""What things are called in MLflow: the run's param names (`train.epochs`) with their logged
values, and the metric names, namespaced so that nothing shadows anything: per-epoch training
numbers under `train/` and `val/` (`classlens.naming.epoch_metric_name`), the evaluation of the
test split under `test/` (`test/accuracy`, `test/f1_macro`, `test/f1/<class>`,
`test/accuracy_low`, `test/ece`...). A class is named by its key from
`classlens.naming.metric_keys` (`ship/` -> `test/f1/ship_`): any label gives names MLflow
accepts, and the evaluate stage records each class's key (confusion_matrix.json `class_keys`)."""

from __future__ import annotations

import json
import re
from typing import Any, Mapping, Optional

from classlens.naming import dotted, metric_keys

_TOP_LEVEL = ("accuracy", "balanced_accuracy", "log_loss", "cohen_kappa", "roc_auc_ovr_macro",
              # multi-label (classlens.evaluation.multilabel)
              "hamming_loss", "mean_average_precision", "micro_average_precision",
              "label_cardinality_true", "label_cardinality_predicted",
              "no_true_label_fraction", "no_predicted_label_fraction")
_TOP_K = re.compile(r"top_\d+_accuracy")


def param_values(params: Mapping[str, Any]) -> dict[str, str]:
    """The run's params as logged: dotted names, lists as JSON, everything else `str()`."""
    return {k: json.dumps(v) if isinstance(v, list) else str(v)
            for k, v in dotted(params).items()}


TEST = "test/"  # the evaluation of the test split


def classification_metrics(metrics: Mapping[str, Any]) -> dict[str, Optional[float]]:
    """The evaluation result (the all_metrics.json dict, `ClassificationReport.to_json()`) as
    MLflow metric names under `test/`: `test/accuracy`, `test/top_<k>_accuracy`,
    `test/f1_macro`, `test/f1/<class>`, `test/ece`, `test/ece_scaled`, `test/temperature`,
    `test/accuracy_low`... (None for undefined; `log_metrics` skips it)."""
    flat: dict[str, Optional[float]] = {k: v for k, v in metrics.items()
                                        if k in _TOP_LEVEL or _TOP_K.fullmatch(k)}
    if metrics.get("n_samples") is not None:
        flat["n_samples"] = metrics["n_samples"]
    for average in ("macro", "weighted", "micro", "samples"):  # samples: multi-label only
        for metric, value in (metrics.get(f"{average}_avg") or {}).items():
            flat[f"{metric}_{average}"] = value
    keys = metric_keys(metrics["per_class"])
    for name, values in metrics["per_class"].items():
        for metric, value in values.items():
            flat[f"{metric}/{keys[name]}"] = value
    if metrics.get("bootstrap") is not None:
        for path, interval in metrics["bootstrap"]["intervals"].items():
            flat.update(_interval_names(path, interval["low"], interval["high"], keys))
    if metrics.get("calibration") is not None:
        cal = metrics["calibration"]
        flat["ece"] = cal["ece"]
        scaled = cal.get("temperature")  # multi-label: the labels' mean ECE alone
    if metrics.get("calibration") is not None and scaled is not None:
        flat.update({"mce": cal["mce"], "adaptive_ece": cal["adaptive_ece"],
                     "nll": cal["nll"], "temperature": scaled["value"],
                     "ece_scaled": scaled["ece"], "mce_scaled": scaled["mce"],
                     "adaptive_ece_scaled": scaled["adaptive_ece"],
                     "nll_scaled": scaled["nll"]})
    return {TEST + key: value for key, value in flat.items()}


def _interval_names(path: str, low, high, keys: Mapping[str, str]) -> dict[str, Optional[float]]:
    """`accuracy` -> accuracy_low/high; `macro_avg.f1` -> f1_macro_low/high;
    `per_class.<name>.f1` -> f1_low/<key> (like `f1/<key>`; `keys`: class name -> metric key)."""
    if path.startswith("per_class."):
        name, metric = path[len("per_class."):].rsplit(".", 1)
        return {f"{metric}_low/{keys[name]}": low, f"{metric}_high/{keys[name]}": high}
    base = {"macro_avg.f1": "f1_macro"}.get(path, path.replace(".", "_"))
    return {f"{base}_low": low, f"{base}_high": high}
