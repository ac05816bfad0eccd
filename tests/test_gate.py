"""The metric gate: rules on hand-built metrics, the CLI's exit codes, a baseline read at a git
revision through DVC's API, and a real degraded evaluation failing with the right rows."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from classlens import paths
from classlens.evaluation.gate import GateInputError, Rule, run_gate
from classlens.evaluation.results import flatten_metrics
from tests.conftest import run

REPO = Path(__file__).resolve().parents[1]


def _metrics(acc=0.9, f1=(0.9, 0.8, 0.95), log_loss=0.3, intervals=None) -> dict:
    m = {
        "accuracy": acc,
        "log_loss": log_loss,
        "macro_avg": {"f1": float(np.mean(f1))},
        "per_class": {name: {"f1": v, "support": 30} for name, v in zip(("cat", "dog", "emu"), f1)},
    }
    if intervals:
        m["bootstrap"] = {"level": 0.95, "resamples": 200, "seed": 0, "intervals": intervals}
    return m


def test_flatten_skips_non_metric_subtrees():
    flat = flatten_metrics(_metrics(intervals={"accuracy": {"low": 0.8, "high": 0.95}}))
    assert flat["per_class.dog.f1"] == 0.8
    assert not any(k.startswith("bootstrap") for k in flat)


def test_equal_runs_pass():
    rules = [Rule("accuracy", floor=0.5, max_drop=0.0), Rule("per_class.*.f1", max_drop=0.0)]
    result = run_gate(_metrics(), _metrics(), rules)
    assert result.verdict == "pass" and len(result.rows) == 4


def test_degraded_class_fails_with_its_row_only():
    rules = [Rule("accuracy", max_drop=0.05), Rule("per_class.*.f1", max_drop=0.05)]
    result = run_gate(_metrics(acc=0.88, f1=(0.9, 0.6, 0.95)), _metrics(), rules)
    assert result.verdict == "fail"
    assert result.to_json()["failed"] == ["per_class.dog.f1"]
    row = next(r for r in result.rows if r.metric == "per_class.dog.f1")
    assert row.change == pytest.approx(-0.2) and "0.2 > 0.05" in row.reason


def test_a_rule_naming_one_class_decides_that_class_before_the_wildcard():
    # the first rule naming a metric decides it: a stricter floor for the class that matters,
    # then a looser rule for every other class
    rules = [Rule("per_class.dog.f1", floor=0.85), Rule("per_class.*.f1", max_drop=0.5)]
    result = run_gate(_metrics(f1=(0.7, 0.8, 0.95)), _metrics(), rules)
    assert result.to_json()["failed"] == ["per_class.dog.f1"]
    assert sorted(r.metric for r in result.rows) == [
        "per_class.cat.f1", "per_class.dog.f1", "per_class.emu.f1"]  # each judged once
    assert next(r for r in result.rows if r.metric == "per_class.cat.f1").verdict == "pass"


def test_floor_relative_drop_and_lower_is_better():
    result = run_gate(_metrics(acc=0.7, log_loss=0.5), _metrics(),
                      [Rule("accuracy", floor=0.75), Rule("log_loss", max_relative_drop=0.5),
                       Rule("macro_avg.f1", max_relative_drop=0.5)])
    verdicts = {r.metric: r.verdict for r in result.rows}
    assert verdicts == {"accuracy": "fail", "log_loss": "fail", "macro_avg.f1": "pass"}
    better = run_gate(_metrics(log_loss=0.1), _metrics(), [Rule("log_loss", max_drop=0.0)])
    assert better.verdict == "pass"  # lower log loss is an improvement, not a drop


def test_noise_aware_drop_warns_inside_the_interval_and_fails_outside():
    rule = [Rule("accuracy", max_drop=0.01, noise="warn")]
    inside = _metrics(acc=0.87, intervals={"accuracy": {"low": 0.84, "high": 0.91}})
    outside = _metrics(acc=0.87, intervals={"accuracy": {"low": 0.84, "high": 0.89}})
    assert run_gate(inside, _metrics(), rule).verdict == "warn"
    assert run_gate(outside, _metrics(), rule).verdict == "fail"
    floor = [Rule("accuracy", floor=0.88, noise="warn")]
    assert run_gate(inside, _metrics(), floor).verdict == "fail"  # floors are never softened


def test_noise_warning_names_the_configured_interval_level():
    rule = [Rule("accuracy", max_drop=0.01, noise="warn")]
    inside = _metrics(acc=0.87, intervals={"accuracy": {"low": 0.84, "high": 0.91}})
    inside["bootstrap"]["level"] = 0.9
    row = run_gate(inside, _metrics(), rule).rows[0]
    assert row.verdict == "warn" and "inside the 90% interval" in row.reason
    assert "95%" not in row.reason


def test_missing_metric_and_empty_rule_are_unusable_input():
    current = _metrics()
    del current["per_class"]["emu"]
    with pytest.raises(GateInputError, match="per_class.emu.f1.*current"):
        run_gate(current, _metrics(), [Rule("per_class.*.f1", max_drop=0.1)])
    with pytest.raises(GateInputError, match="matches no metric"):
        run_gate(_metrics(), _metrics(), [Rule("balanced_accuracy", floor=0.5)])
    with pytest.raises(GateInputError, match="set at least one"):
        run_gate(_metrics(), _metrics(), [Rule("accuracy")])


def test_undefined_current_value_fails_and_is_named():
    current = _metrics()
    current["per_class"]["dog"]["f1"] = None
    result = run_gate(current, _metrics(), [Rule("per_class.*.f1", max_drop=0.1)])
    row = next(r for r in result.rows if r.metric == "per_class.dog.f1")
    assert row.verdict == "fail" and "undefined now" in row.reason


def test_markdown_table_lists_failures_first():
    result = run_gate(_metrics(f1=(0.9, 0.5, 0.95)), _metrics(), [Rule("per_class.*.f1", max_drop=0.1)])
    lines = result.to_markdown().splitlines()
    assert lines[2] == "| metric | baseline | now | change | limit | verdict |"
    assert "per_class.dog.f1" in lines[4] and "fail" in lines[4]


# ---------------------------------------------------------------- command line


def _gate(cwd: Path, *args: str):
    return run([sys.executable, "-m", "classlens.cli", "gate", *args], cwd=cwd, check=False)


def test_cli_exit_codes(tmp_path):
    rules = REPO / "conf" / "gate" / "default.yaml"
    (tmp_path / "base.json").write_text(json.dumps(_metrics(acc=0.95)))
    (tmp_path / "same.json").write_text(json.dumps(_metrics(acc=0.95)))
    (tmp_path / "worse.json").write_text(json.dumps(_metrics(acc=0.85)))
    broken = _metrics(acc=0.95)
    del broken["macro_avg"]
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    ok = _gate(tmp_path, "--metrics", "same.json", "--baseline-file", "base.json", "--rules",
               str(rules))
    assert ok.returncode == 0 and "| `accuracy` |" in ok.stdout
    bad = _gate(tmp_path, "--metrics", "worse.json", "--baseline-file", "base.json", "--rules",
                str(rules), "--out-dir", "gate")
    assert bad.returncode == 1
    verdict = json.loads((tmp_path / "gate" / "gate.json").read_text())
    assert verdict["verdict"] == "fail" and "accuracy" in verdict["failed"]
    unusable = _gate(tmp_path, "--metrics", "broken.json", "--baseline-file", "base.json",
                     "--rules", str(rules))
    assert unusable.returncode == 2
    assert "macro_avg.f1" in unusable.stderr and "Traceback" not in unusable.stderr
    missing = _gate(tmp_path, "--metrics", "same.json", "--baseline-file", "nope.json",
                    "--rules", str(rules))
    assert missing.returncode == 2 and "nope.json" in missing.stderr


def test_baseline_from_git_revision_through_dvc(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "config", "user.email", "t@e.st"],
                ["git", "config", "user.name", "t"], ["dvc", "init", "-q"]):
        run(cmd, cwd=repo)
    # a revision from before the split: every number in metrics.json (read as the baseline)
    (repo / "metrics.json").write_text(json.dumps(_metrics(acc=0.97)))
    run(["git", "add", "-A"], cwd=repo)
    run(["git", "commit", "-qm", "old layout"], cwd=repo)
    run(["git", "tag", "old"], cwd=repo)
    current = repo / paths.ALL_METRICS
    current.parent.mkdir(parents=True)
    current.write_text(json.dumps(_metrics(acc=0.95)))
    (repo / "metrics.json").write_text(json.dumps({"accuracy": 0.95}))  # the compact headline
    run(["git", "add", "-A"], cwd=repo)
    run(["git", "commit", "-qm", "baseline"], cwd=repo)
    current.write_text(json.dumps(_metrics(acc=0.80)))  # uncommitted regression
    rules = str(REPO / "conf" / "gate" / "default.yaml")
    proc = _gate(repo, "--rules", rules)  # default baseline: all_metrics.json at main
    assert proc.returncode == 1, proc.stderr
    assert "data/eval/all_metrics.json@main" in proc.stdout and "0.9500" in proc.stdout
    old = _gate(repo, "--rules", rules, "--baseline-rev", "old")
    assert old.returncode == 1 and "metrics.json@old" in old.stdout and "0.9700" in old.stdout
    assert _gate(repo, "--rules", rules, "--baseline-rev", "nosuchrev").returncode == 2


def test_real_degraded_evaluation_fails_the_right_rows(trained_copy):
    project = trained_copy
    baseline = json.loads((project / paths.ALL_METRICS).read_text())
    f1 = {name: v["f1"] or 0.0 for name, v in baseline["per_class"].items()}
    target = max(f1, key=f1.get)  # the class the baseline handles best
    sink = min((c for c in f1 if c != target), key=f1.get)
    # Degrade one class for real: every test image of `target` is now predicted as `sink`,
    # then the real evaluate stage recomputes all_metrics.json.
    probs = np.load(project / paths.PROBABILITIES)
    labels = np.load(project / paths.split_labels("test"))
    probs[labels == int(target)] = np.eye(probs.shape[1])[int(sink)]
    np.save(project / paths.PROBABILITIES, probs)
    run([sys.executable, "stages/evaluate.py"], cwd=project)
    degraded = json.loads((project / paths.ALL_METRICS).read_text())
    assert degraded["per_class"][target]["recall"] == 0.0
    (project / "baseline.json").write_text(json.dumps(baseline))
    (project / "rules.yaml").write_text(
        "baseline_rev: main\nbaseline_file: null\nnoise: fail\nfail_pipeline: false\n"
        "rules:\n  - metric: per_class.*.f1\n    max_drop: 0.05\n")
    proc = _gate(project, "--baseline-file", "baseline.json", "--rules", "rules.yaml",
                 "--out-dir", "gate")
    assert proc.returncode == 1, proc.stderr
    failed = set(json.loads((project / "gate" / "gate.json").read_text())["failed"])
    assert f"per_class.{target}.f1" in failed
    untouched = {f"per_class.{c}.f1" for c in f1 if c not in (target, sink)}
    assert not failed & untouched
    # the same metrics against themselves pass
    (project / "same.json").write_text(json.dumps(degraded))
    assert _gate(project, "--metrics", "same.json", "--baseline-file", "same.json",
                 "--rules", "rules.yaml").returncode == 0
