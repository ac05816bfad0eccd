"""Stage `gate` and `classlens gate`: read current and baseline metrics, judge them, write the
verdict (data/gate/gate.md, gate.json), print the table, tag the MLflow run."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

from classlens import paths
from classlens.atomic import atomic_files, write_json, write_text
from classlens.config import Config, GateConfig
from classlens.errors import InputError
from classlens.evaluation import results
from classlens.evaluation.gate import (GateInputError, GateResult, Rule, not_judged_markdown,
                                       run_gate)
from classlens.evaluation.results import Metrics


def rules_from(cfg: GateConfig) -> list[Rule]:
    return [Rule(**dataclasses.asdict(rule)) for rule in cfg.rules]


def load_gate_config(path: Path) -> GateConfig:
    """A gate config from `params.yaml` (its `gate:` section) or from a `conf/gate/*.yaml` file."""
    import yaml
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if not path.is_file():
        raise GateInputError(f"{path}: gate rules file not found")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if isinstance(raw, dict) and "gate" in raw:
        raw = raw["gate"]
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(GateConfig), raw))
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "?"
        raise GateInputError(f"{path}: gate key '{key}': {str(err).splitlines()[0]}") from None


def read_metrics(path: Path, *, what: str) -> Metrics:
    """`results.load`, its error raised as the gate's (the gate cannot judge: exit code 2)."""
    try:
        return results.load(path, what=f"{what} metrics")
    except InputError as err:
        raise GateInputError(str(err)) from None


def load_baseline(*, file: Optional[str], rev: str,
                  metrics_path: Path = paths.ALL_METRICS) -> tuple[Metrics, str]:
    """The baseline metrics and a description of where they came from. A committed file wins;
    otherwise `metrics_path` at git revision `rev`, read through DVC's API (a revision from
    before all_metrics.json existed held every number in metrics.json: that is read instead)."""
    if file:
        return read_metrics(Path(file), what="baseline"), str(file)
    try:
        text, source = _read_at(metrics_path, rev)
    except GateInputError:
        if Path(metrics_path) != paths.ALL_METRICS:
            raise
        try:
            text, source = _read_at(paths.METRICS, rev)
        except GateInputError:
            pass
        else:
            old = _parse_baseline(text, source)
            if old.per_class:  # the old layout: every number in metrics.json
                return old, source
        raise
    return _parse_baseline(text, source), source


def _read_at(path: Path, rev: str) -> tuple[str, str]:
    import dvc.api
    from dvc.exceptions import DvcException

    root = paths.project_root()
    try:
        text = dvc.api.read(str(path), repo=str(root), rev=rev, mode="r")
    except (DvcException, FileNotFoundError, OSError) as err:
        raise GateInputError(
            f"baseline: {path} could not be read at revision {rev!r} "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); commit "
            "a baseline there or pass --baseline-file") from None
    return text, f"{path}@{rev}"


def _parse_baseline(text: str, source: str) -> Metrics:
    try:
        return results.loads(text, source=source, what="baseline metrics")
    except InputError as err:
        raise GateInputError(str(err)) from None


def judge(gate_cfg: GateConfig, *, metrics_path: Path = paths.ALL_METRICS,
          baseline_file: Optional[str] = None, baseline_rev: Optional[str] = None,
          ) -> tuple[GateResult, str]:
    """Run the gate; command-line choices of baseline override the config's."""
    current = read_metrics(metrics_path, what="current")
    if baseline_file is not None:
        file, rev = baseline_file, gate_cfg.baseline_rev
    elif baseline_rev is not None:
        file, rev = None, baseline_rev
    else:
        file, rev = gate_cfg.baseline_file, gate_cfg.baseline_rev
    baseline, source = load_baseline(file=file, rev=rev, metrics_path=metrics_path)
    result = run_gate(current, baseline, rules_from(gate_cfg), default_noise=gate_cfg.noise)
    return result, source


def write_verdict(result: GateResult, source: str, out_dir: Path = paths.GATE_DIR) -> str:
    markdown = result.to_markdown(title=f"Metric gate vs {source}")
    _write(out_dir, markdown, {**result.to_json(), "baseline": source})
    return markdown


def _write(out_dir: Path, markdown: str, verdict: dict) -> None:
    """gate.md and gate.json, both or neither; other files in `out_dir` stay (`classlens gate
    --out-dir reports` must not remove reports/compare)."""
    with atomic_files(out_dir) as out:
        write_text(out / paths.GATE_MD.name, markdown)
        write_json(out / paths.GATE_JSON.name, verdict)


def run(cfg: Config) -> None:
    """The DVC stage: always records a verdict; fails the pipeline only if configured to."""
    from classlens.tracking.log import log_for_compare, replace_artifacts, set_tags
    from classlens.tracking.runs import stage_run

    try:
        result, source = judge(cfg.gate)
        markdown = write_verdict(result, source)
        verdict, failed = result.verdict, ",".join(r.metric for r in result.rows
                                                   if r.verdict == "fail")
    except GateInputError as err:
        if cfg.gate.fail_pipeline:
            raise
        markdown = not_judged_markdown(str(err))
        _write(paths.GATE_DIR, markdown, {"verdict": "unusable", "reason": str(err),
                                          "failed": [], "warned": [], "rows": []})
        verdict, failed = "unusable", ""
    print(markdown)
    with stage_run(paths.RUN_REF, dataclasses.asdict(cfg)):
        set_tags({"gate.verdict": verdict, "gate.failed": failed or "-"})
        replace_artifacts([paths.GATE_MD, paths.GATE_JSON], "gate")
        log_for_compare([paths.GATE_MD])
    if cfg.gate.fail_pipeline and verdict == "fail":
        raise SystemExit(1)
