"""The evaluate stage's two result files: their layouts, their one writer and their one reader.

`data/eval/all_metrics.json` (`paths.ALL_METRICS`) holds every number; the gate, the model card
(`classlens card`), the report, the analyze stage and `classlens compare` read it with `load` (or
`loads` for text read elsewhere: a git revision, an MLflow artifact), and pure functions handed a
dict in this layout turn it into the typed view with `Metrics.of`. The layout (keys sorted on
disk, None written as null):

    n_samples, accuracy, balanced_accuracy, top_<k>_accuracy, log_loss, cohen_kappa,
    roc_auc_ovr_macro                    headline numbers (None: undefined, reason in `undefined`)
    macro_avg, weighted_avg, micro_avg   {precision, recall, f1}
    per_class                            {class: {precision, recall, f1, support, roc_auc,
                                          average_precision}}
    undefined                            {dotted path of a null number: why it is null}
    bootstrap (when computed)            {level, resamples, seed,
                                          intervals: {dotted path: {low, high}}}
    calibration (when computed)          {n_bins, ece, mce, adaptive_ece, nll,
                                          temperature: {value, fitted_on, n_validation, ece, ...}}

A metric's dotted path (`accuracy`, `macro_avg.f1`, `per_class.cat.f1`) names it everywhere: in
the flattened view (`flatten_metrics`), the bootstrap intervals, `undefined` and the gate's rules.

`metrics.json` (`paths.METRICS`, DVC's metrics file) is the compact headline drawn from it
(`Metrics.headline_json`, keys in `HEADLINE` order): few enough flat numbers that `dvc exp show
--only-changed` fits the experiments, these numbers and the changed params in a terminal.
Nothing reads it back but DVC and people.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from classlens.atomic import write_json
from classlens.errors import InputError
from classlens.formatting import format_value
from classlens.naming import dotted

# Top-level keys that are not a group of numbers of their own.
PER_CLASS, UNDEFINED, BOOTSTRAP, CALIBRATION = "per_class", "undefined", "bootstrap", "calibration"
# Subtrees that are not metrics themselves (left out of the flattened view).
NOT_METRICS = (BOOTSTRAP, UNDEFINED)

Interval = tuple[Optional[float], Optional[float]]  # (low, high); None where undefined

# metrics.json, in display order (`dvc exp show` lists metric columns in file order): the test
# accuracy, macro F1 and the weakest class's F1, log loss, the (unscaled) expected calibration
# error and the test split's size. Measured with DVC 3.67 in a 200-column terminal: the
# experiment names, the first changed dep's hash (about 40 columns, never collapsed) and these
# (about 60) leave room for three or four changed params; DVC collapses params before metrics,
# so each further number here hides a param behind `…` (two interval columns hid two). The rest
# (every class, every interval, top-k, balanced accuracy, kappa, AUC, the temperature-scaled
# calibration) lives in all_metrics.json, the report, `classlens compare` and MLflow.
HEADLINE = ("accuracy", "f1_macro", "f1_weakest", "log_loss", "ece", "n_samples")
# a multi-label run's (`accuracy` is exact match there): mean average precision takes log loss's
# place, its ECE is the mean over labels (`classlens.evaluation.multilabel`)
MULTILABEL_HEADLINE = ("accuracy", "f1_macro", "f1_weakest", "map", "ece", "n_samples")


@dataclass(frozen=True)
class Bootstrap:
    """`bootstrap`: percentile intervals from `resamples` resamples of the test split."""

    level: Optional[float]  # central coverage, e.g. 0.95
    resamples: Optional[int]
    seed: Optional[int]
    intervals: dict[str, Interval] = field(default_factory=dict)  # dotted path -> (low, high)

    @property
    def level_text(self) -> str:
        """The coverage as a percentage ("95%", "97.5%"); empty when the level is unknown."""
        return f"{format_value(self.level * 100, compact=True)}%" if self.level else ""

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "resamples": self.resamples,
            "seed": self.seed,
            "intervals": {k: {"low": low, "high": high}
                          for k, (low, high) in self.intervals.items()},
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], *, source: str) -> "Bootstrap":
        found = _object(raw.get("intervals") or {}, f"{BOOTSTRAP}.intervals", source)
        intervals = {}
        for path, interval in found.items():
            interval = _object(interval, f"{BOOTSTRAP}.intervals.{path}", source)
            intervals[path] = (interval.get("low"), interval.get("high"))
        return cls(level=raw.get("level"), resamples=raw.get("resamples"), seed=raw.get("seed"),
                   intervals=intervals)


@dataclass(frozen=True)
class Metrics:
    """The typed view of one `all_metrics.json` (see the module docstring for the layout)."""

    headline: dict[str, Any]  # top-level numbers: accuracy, top_<k>_accuracy, n_samples...
    averages: dict[str, dict[str, Optional[float]]]  # macro_avg, weighted_avg, micro_avg
    per_class: dict[str, dict[str, Optional[float]]]  # class -> its numbers
    undefined: dict[str, str] = field(default_factory=dict)  # dotted path -> why it is null
    bootstrap: Optional[Bootstrap] = None
    calibration: Optional[dict[str, Any]] = None  # `CalibrationReport.to_json()`

    # ------------------------------------------------------------ the file's layout

    def to_json(self) -> dict[str, Any]:
        """The nested dict written to all_metrics.json."""
        out: dict[str, Any] = {**self.headline, **self.averages, PER_CLASS: self.per_class,
                               UNDEFINED: dict(sorted(self.undefined.items()))}
        if self.bootstrap is not None:
            out[BOOTSTRAP] = self.bootstrap.to_json()
        if self.calibration is not None:
            out[CALIBRATION] = self.calibration
        return out

    @classmethod
    def from_json(cls, raw: Any, *, source: str = "metrics") -> "Metrics":
        """The view of a dict in this layout. Keys may be missing (a hand-written or older
        file); a key present with the wrong kind of value raises InputError naming `source`."""
        raw = _object(raw, "", source)
        headline, averages = {}, {}
        for key, value in raw.items():
            if key in (PER_CLASS, UNDEFINED, BOOTSTRAP, CALIBRATION):
                continue
            if isinstance(value, dict):
                averages[key] = value
            else:
                headline[key] = value
        per_class = _object(raw.get(PER_CLASS) or {}, PER_CLASS, source)
        for name, values in per_class.items():
            _object(values, f"{PER_CLASS}.{name}", source)
        bootstrap = raw.get(BOOTSTRAP)
        calibration = raw.get(CALIBRATION)
        return cls(
            headline=headline, averages=averages, per_class=per_class,
            undefined=_object(raw.get(UNDEFINED) or {}, UNDEFINED, source),
            bootstrap=None if bootstrap is None else Bootstrap.from_json(
                _object(bootstrap, BOOTSTRAP, source), source=source),
            calibration=None if calibration is None else _object(calibration, CALIBRATION,
                                                                 source))

    @classmethod
    def of(cls, metrics: "MetricsLike") -> "Metrics":
        """`metrics` itself, or the view of a dict in the layout of all_metrics.json."""
        return metrics if isinstance(metrics, Metrics) else cls.from_json(metrics)

    # ------------------------------------------------------------ what consumers ask for

    @property
    def accuracy(self) -> Optional[float]:
        return self.headline.get("accuracy")

    @property
    def n_samples(self) -> Optional[int]:
        return self.headline.get("n_samples")

    def top_k(self) -> list[tuple[str, Optional[float]]]:
        """The `top_<k>_accuracy` entries (one, as evaluate writes it), in file order."""
        return [(k, v) for k, v in self.headline.items()
                if k.startswith("top_") and k.endswith("_accuracy")]

    def average(self, avg: str, metric: str) -> Optional[float]:
        """E.g. `average("macro_avg", "f1")`; None when absent or undefined."""
        return (self.averages.get(avg) or {}).get(metric)

    def flat(self) -> dict[str, Optional[float]]:
        """Every number by its dotted path (see `flatten_metrics`)."""
        return flatten_metrics(self.to_json())

    def interval(self, path: str) -> Optional[Interval]:
        """The bootstrap interval of the metric at dotted `path`; None when there is none."""
        return None if self.bootstrap is None else self.bootstrap.intervals.get(path)

    def defined_intervals(self) -> dict[str, tuple[float, float]]:
        """The bootstrap intervals whose both ends are defined, as floats, by dotted path."""
        found = {} if self.bootstrap is None else self.bootstrap.intervals
        return {path: (float(low), float(high)) for path, (low, high) in found.items()
                if low is not None and high is not None}

    def weakest_class(self) -> Optional[tuple[str, float]]:
        """(name, F1) of the class with the lowest defined F1; None when no F1 is defined."""
        defined = [(name, float(values["f1"])) for name, values in self.per_class.items()
                   if values.get("f1") is not None]
        return min(defined, key=lambda item: item[1]) if defined else None

    def ece(self) -> tuple[Optional[float], Optional[float]]:
        """Expected calibration error on the test split (unscaled, temperature-scaled)."""
        cal = self.calibration or {}
        return cal.get("ece"), (cal.get("temperature") or {}).get("ece")

    def calibration_note(self) -> str:
        """One sentence when temperature scaling (fitted on the validation split) did not
        improve calibration on the test split, else "". The headline numbers are always the
        unscaled model's; this says why the scaled ones are not an improvement to adopt."""
        before, after = self.ece()
        if before is None or after is None or after < before:
            return ""
        value = ((self.calibration or {}).get("temperature") or {}).get("value")
        at = f" (T = {value:.3f})" if value is not None else ""
        return (f"Temperature scaling{at}, fitted on the validation split, did not improve "
                f"calibration on the test split: ECE {format_value(before)} -> "
                f"{format_value(after)}. The unscaled probabilities are the ones to use.")

    @property
    def multilabel(self) -> bool:
        """A multi-label run's numbers (`classlens.evaluation.multilabel`)."""
        return "mean_average_precision" in self.headline

    def headline_json(self) -> dict[str, Optional[float]]:
        """The compact numbers of metrics.json, in `HEADLINE` (or `MULTILABEL_HEADLINE`) order
        (None where undefined)."""
        weakest = self.weakest_class()
        values = {
            "accuracy": self.accuracy, "f1_macro": self.average("macro_avg", "f1"),
            "f1_weakest": None if weakest is None else weakest[1],
            "log_loss": self.headline.get("log_loss"), "ece": self.ece()[0],
            "map": self.headline.get("mean_average_precision"), "n_samples": self.n_samples,
        }
        return {key: values[key] for key in (MULTILABEL_HEADLINE if self.multilabel
                                             else HEADLINE)}

    @property
    def interval_label(self) -> str:
        """"95% interval" from `bootstrap.level` ("interval" when the level is unknown)."""
        level = self.bootstrap.level_text if self.bootstrap is not None else ""
        return f"{level} interval" if level else "interval"


# What the pure consumers (gate, model card, HTML report) accept: the view, or a dict in the layout.
MetricsLike = Union[Metrics, Mapping[str, Any]]


def flatten_metrics(metrics: Mapping[str, Any]) -> dict[str, Optional[float]]:
    """`{"macro_avg": {"f1": 0.9}}` -> `{"macro_avg.f1": 0.9}`: numbers (and nulls) only,
    without the `bootstrap` and `undefined` subtrees."""
    kept = {k: v for k, v in metrics.items() if k not in NOT_METRICS}
    return {path: None if value is None else float(value)
            for path, value in dotted(kept).items()
            if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))}


def write(path: Union[str, Path], metrics: Metrics) -> None:
    """Write all_metrics.json atomically (sorted keys, two-space indent, no NaN)."""
    write_json(path, metrics.to_json())


def write_headline(path: Union[str, Path], metrics: Metrics) -> None:
    """Write metrics.json, the compact headline, atomically (in `HEADLINE` order)."""
    write_json(path, metrics.headline_json(), sort_keys=False)


def loads(text: str, *, source: str, what: str = "metrics") -> Metrics:
    """Parse all_metrics.json text (or a file in its layout); `source` (a path, `path@rev`) names it in errors."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{source}: {what} file is not valid JSON ({err}); re-run "
                         "`dvc repro evaluate`") from None
    return Metrics.from_json(raw, source=source)


def load(path: Union[str, Path], *, what: str = "metrics") -> Metrics:
    """Read all_metrics.json (or a file in its layout, e.g. a committed baseline); InputError naming the file when it is missing or unusable. `what`
    says which one it is in that message ("baseline metrics")."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: {what} file not found; the evaluate stage writes it "
                         "(`dvc repro evaluate`)")
    return loads(path.read_text(encoding="utf-8"), source=str(path), what=what)


def _object(value: Any, key: str, source: str) -> dict:
    if not isinstance(value, dict):
        where = f"key '{key}'" if key else "the file"
        raise InputError(f"{source}: {where} must be a JSON object; received "
                         f"{type(value).__name__}")
    return value
