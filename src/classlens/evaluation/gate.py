"""The metric-regression gate: current metrics vs a baseline under per-metric rules -> verdict.

Pure: takes the two `all_metrics.json` results (`classlens.evaluation.results.Metrics`, or dicts in
that layout) and the rules, returns rows and a verdict. Reading the baseline (a file, or
`data/eval/all_metrics.json` at a git revision through DVC's API), printing, writing the verdict files and
tagging the MLflow run happen in `pipeline/gate.py` and the CLI.

A rule names metrics by their dotted path in `all_metrics.json` (`accuracy`, `macro_avg.f1`), and may
use shell-style wildcards to cover every class (`per_class.*.f1`). For each matched metric it can
require an absolute floor (or ceiling, for lower-is-better metrics), a maximum absolute drop and a
maximum relative drop against the baseline. With `noise: warn`, a drop-limit breach whose
baseline value lies inside the current run's bootstrap interval (written by the evaluate stage
under `bootstrap.intervals.<path>`, at `bootstrap.level`) is reported as a warning, not a
failure: the change is within what resampling the test set alone produces. Floors are never
softened.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any, Optional

from classlens.errors import ClassLensError
from classlens.evaluation.results import Metrics, MetricsLike
from classlens.formatting import format_value
from classlens.naming import markdown_code, markdown_text

DIRECTIONS = ("higher", "lower")
NOISE_MODES = ("fail", "warn")
# Metric names (last path segment) that are better when lower, unless a rule says otherwise.
_LOWER_IS_BETTER = ("loss", "log_loss", "ece", "mce", "adaptive_ece", "error", "nll", "brier")


class GateInputError(ClassLensError):
    """The gate cannot judge: a baseline or a metric is missing or unusable (exit code 2)."""


@dataclass(frozen=True)
class Rule:
    """Limits for the metrics whose dotted path matches `metric` (wildcards allowed)."""

    metric: str
    direction: Optional[str] = None  # higher | lower; None: inferred from the metric's name
    floor: Optional[float] = None  # absolute bound (a ceiling when direction is lower)
    max_drop: Optional[float] = None  # largest allowed worsening, in the metric's units
    max_relative_drop: Optional[float] = None  # largest allowed worsening / |baseline|
    noise: Optional[str] = None  # fail | warn; None: the gate's default


@dataclass
class Row:
    metric: str
    baseline: Optional[float]
    now: Optional[float]
    change: Optional[float]
    limit: str
    verdict: str  # pass | warn | fail
    reason: str = ""


@dataclass
class GateResult:
    rows: list[Row] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        verdicts = {row.verdict for row in self.rows}
        return "fail" if "fail" in verdicts else "warn" if "warn" in verdicts else "pass"

    @property
    def passed(self) -> bool:
        return self.verdict != "fail"

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "failed": [r.metric for r in self.rows if r.verdict == "fail"],
            "warned": [r.metric for r in self.rows if r.verdict == "warn"],
            "rows": [r.__dict__ for r in self.rows],
        }

    def to_markdown(self, *, title: str = "Metric gate") -> str:
        """The verdict as a Markdown table, for a pull-request comment: every name from the
        data (class names in metric paths, the baseline's source) escaped, never raw HTML."""
        icon = {"pass": "✅ pass", "warn": "⚠️ warn", "fail": "❌ fail"}
        lines = [
            f"### {markdown_text(title)}: {icon[self.verdict]}",
            "",
            "| metric | baseline | now | change | limit | verdict |",
            "|---|---:|---:|---:|---|---|",
        ]
        order = {"fail": 0, "warn": 1, "pass": 2}
        for row in sorted(self.rows, key=lambda r: order[r.verdict]):
            reason = f" ({markdown_text(row.reason)})" if row.reason else ""
            lines.append(
                f"| {markdown_code(row.metric)} | {format_value(row.baseline)} | "
                f"{format_value(row.now)} | {format_value(row.change, signed=True)} | "
                f"{markdown_text(row.limit)} | {icon[row.verdict]}{reason} |"
            )
        return "\n".join(lines) + "\n"


def not_judged_markdown(reason: str) -> str:
    """gate.md when the gate cannot judge; the reason (it may quote a class name) escaped."""
    return f"### Metric gate: not judged\n\n{markdown_text(reason)}\n"


def check_rules(rules: list[Rule], *, default_noise: str = "fail") -> None:
    """Validate rules once at the boundary (names the rule and field on error)."""
    if default_noise not in NOISE_MODES:
        raise GateInputError(f"gate.noise must be one of {list(NOISE_MODES)}; "
                             f"received {default_noise!r}")
    for i, rule in enumerate(rules):
        where = f"gate.rules[{i}] ({rule.metric!r})"
        if rule.direction is not None and rule.direction not in DIRECTIONS:
            raise GateInputError(f"{where}: direction must be one of {list(DIRECTIONS)}; "
                                 f"received {rule.direction!r}")
        if rule.noise is not None and rule.noise not in NOISE_MODES:
            raise GateInputError(f"{where}: noise must be one of {list(NOISE_MODES)}; "
                                 f"received {rule.noise!r}")
        for name in ("max_drop", "max_relative_drop"):
            value = getattr(rule, name)
            if value is not None and value < 0:
                raise GateInputError(f"{where}: {name} must be >= 0; received {value}")
        if rule.floor is None and rule.max_drop is None and rule.max_relative_drop is None:
            raise GateInputError(f"{where}: set at least one of floor, max_drop, "
                                 "max_relative_drop")


def run_gate(current: MetricsLike, baseline: MetricsLike, rules: list[Rule], *,
             default_noise: str = "fail") -> GateResult:
    """Judge `current` against `baseline` (both as written to all_metrics.json).

    Raises GateInputError naming the metric when a rule matches nothing, or a matched metric is
    missing on one side.
    """
    check_rules(rules, default_noise=default_noise)
    current, baseline = Metrics.of(current), Metrics.of(baseline)
    now_flat, base_flat = current.flat(), baseline.flat()
    intervals = current.defined_intervals()
    result = GateResult()
    judged: set[str] = set()
    for rule in rules:
        matched = sorted(p for p in set(now_flat) | set(base_flat)
                         if fnmatch.fnmatchcase(p, rule.metric))
        if not matched:
            raise GateInputError(
                f"gate rule metric {rule.metric!r} matches no metric in either metrics file")
        for path in matched:
            if path in judged:  # the first rule that names a metric decides it
                continue
            judged.add(path)
            for side, flat in (("current", now_flat), ("baseline", base_flat)):
                if path not in flat:
                    raise GateInputError(
                        f"metric {path!r} is missing from the {side} metrics; both sides need "
                        "it (re-run evaluate, or narrow the gate rule)")
            result.rows.append(_judge(path, base_flat[path], now_flat[path], rule,
                                      intervals.get(path), rule.noise or default_noise,
                                      current.interval_label))
    return result


def _judge(path: str, base: Optional[float], now: Optional[float], rule: Rule,
           interval: Optional[tuple[float, float]], noise: str, interval_label: str) -> Row:
    direction = rule.direction or infer_direction(path)
    sign = 1.0 if direction == "higher" else -1.0
    limit = _describe_limit(rule, direction)
    if now is None or base is None:
        # An undefined value (null in all_metrics.json) cannot be compared: say so, do not guess.
        side = "now" if now is None else "baseline"
        verdict = "fail" if now is None and base is not None else "warn"
        return Row(path, base, now, None, limit, verdict, f"undefined {side}")
    change = now - base
    worsening = -sign * change  # > 0 means worse
    failures = []
    if rule.floor is not None and sign * (now - rule.floor) < 0:
        return Row(path, base, now, change, limit, "fail",
                   f"{'below' if sign > 0 else 'above'} {rule.floor:g}")
    if rule.max_drop is not None and worsening > rule.max_drop + 1e-12:
        failures.append(f"worse by {worsening:.4g} > {rule.max_drop:g}")
    if rule.max_relative_drop is not None and base != 0:
        relative = worsening / abs(base)
        if relative > rule.max_relative_drop + 1e-12:
            failures.append(f"worse by {relative:.1%} > {rule.max_relative_drop:.1%}")
    if not failures:
        return Row(path, base, now, change, limit, "pass")
    if noise == "warn" and interval is not None and interval[0] <= base <= interval[1]:
        return Row(path, base, now, change, limit, "warn",
                   f"{failures[0]}, but the baseline is inside the {interval_label} "
                   f"[{interval[0]:.4g}, {interval[1]:.4g}]")
    return Row(path, base, now, change, limit, "fail", "; ".join(failures))


def infer_direction(path: str) -> str:
    name = path.rsplit(".", 1)[-1]
    lower = any(name == k or name.endswith(f"_{k}") for k in _LOWER_IS_BETTER)
    return "lower" if lower else "higher"


def _describe_limit(rule: Rule, direction: str) -> str:
    parts = []
    if rule.floor is not None:
        parts.append(f"{'≥' if direction == 'higher' else '≤'} {rule.floor:g}")
    if rule.max_drop is not None:
        parts.append(f"drop ≤ {rule.max_drop:g}")
    if rule.max_relative_drop is not None:
        parts.append(f"drop ≤ {rule.max_relative_drop:.0%}")
    return ", ".join(parts)
