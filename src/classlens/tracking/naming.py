"""What things are called in MLflow: the run's param names (`train.epochs`) with their logged
values, and the flat metric names of the evaluation result (`accuracy`, `f1_macro`, `f1.<class>`,
`accuracy_ci_low`, `ece`, ...). Class names pass through `classlens.naming.metric_key`."""

from __future__ import annotations

import json
import re
from typing import Any, Mapping, Optional

from classlens.naming import dotted, metric_key

_TOP_LEVEL = ("accuracy", "balanced_accuracy", "log_loss", "cohen_kappa", "roc_auc_ovr_macro")
_TOP_K = re.compile(r"top_\d+_accuracy")


def param_values(params: Mapping[str, Any]) -> dict[str, str]:
    """The run's params as logged: dotted names, lists as JSON, everything else `str()`."""
    return {k: json.dumps(v) if isinstance(v, list) else str(v)
            for k, v in dotted(params).items()}


def classification_metrics(metrics: Mapping[str, Any]) -> dict[str, Optional[float]]:
    """The evaluation result (the `metrics.json` dict, `ClassificationReport.to_json()`) as flat
    MLflow metric names: `accuracy`, `top_<k>_accuracy`, `f1_macro`, `f1.<class>`, `ece`,
    `temperature`, `accuracy_ci_low`... (None for undefined; `log_metrics` skips it)."""
    flat: dict[str, Optional[float]] = {k: v for k, v in metrics.items()
                                        if k in _TOP_LEVEL or _TOP_K.fullmatch(k)}
    for average in ("macro", "weighted", "micro"):
        for metric, value in metrics[f"{average}_avg"].items():
            flat[f"{metric}_{average}"] = value
    for name, values in metrics["per_class"].items():
        for metric, value in values.items():
            flat[f"{metric}.{metric_key(name)}"] = value
    if metrics.get("bootstrap") is not None:
        for path, interval in metrics["bootstrap"]["intervals"].items():
            flat.update(_interval_names(path, interval["low"], interval["high"]))
    if metrics.get("calibration") is not None:
        cal = metrics["calibration"]
        scaled = cal["temperature"]
        flat.update({"ece": cal["ece"], "mce": cal["mce"], "adaptive_ece": cal["adaptive_ece"],
                     "nll": cal["nll"], "temperature": scaled["value"],
                     "ece_temperature_scaled": scaled["ece"],
                     "mce_temperature_scaled": scaled["mce"],
                     "adaptive_ece_temperature_scaled": scaled["adaptive_ece"],
                     "nll_temperature_scaled": scaled["nll"]})
    return flat


def _interval_names(path: str, low, high) -> dict[str, Optional[float]]:
    """`accuracy` -> accuracy_ci_low/high; `macro_avg.f1` -> f1_macro_ci_*;
    `per_class.<name>.f1` -> f1_ci_low.<name> (like `f1.<name>`)."""
    if path.startswith("per_class."):
        name, metric = path[len("per_class."):].rsplit(".", 1)
        return {f"{metric}_ci_low.{metric_key(name)}": low,
                f"{metric}_ci_high.{metric_key(name)}": high}
    base = {"macro_avg.f1": "f1_macro"}.get(path, path.replace(".", "_"))
    return {f"{base}_ci_low": low, f"{base}_ci_high": high}
