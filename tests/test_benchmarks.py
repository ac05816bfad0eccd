"""The benchmark suite's own plumbing (the figures themselves are measured by running
`python benchmarks/run.py`, never by tests): figure records, the summary table, the import-time
parser, and one real (tiny) run of a benchmark script through the runner."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import common  # noqa: E402
import pipeline  # noqa: E402
import run as runner  # noqa: E402


def test_figure_ratio_is_oriented_so_that_higher_is_better():
    faster = common.figure("b", "speed", ours=300.0, reference=100.0, unit="images/s", goal=1.5)
    assert faster["ratio"] == 3.0 and faster["meets_goal"] is True
    quicker = common.figure("b", "time", ours=40.0, reference=60.0, unit="s", goal=2.0,
                            higher_is_better=False)
    assert quicker["ratio"] == 1.5 and quicker["meets_goal"] is False
    assert math.isnan(common.figure("b", "x", ours=0.0, reference=1.0, unit="s", goal=1)["ratio"])
    capped = common.limit("b", "wall", value=72.0, unit="s", at_most=60.0)
    assert capped["meets_goal"] is False and capped["ratio"] == pytest.approx(0.833, abs=1e-3)


def test_table_lists_every_figure_and_marks_misses():
    rows = [common.figure("train", "speed", ours=3.0, reference=1.0, unit="x", goal=1.5),
            common.limit("pipeline", "no-op", value=7.5, unit="s", at_most=5.0)]
    text = runner.table(rows)
    lines = text.splitlines()
    assert len(lines) == 4 and lines[2].endswith("| yes |") and lines[3].endswith("| NO |")
    assert "<= 5.0 s" in lines[3]


def test_import_seconds_sums_the_self_column():
    stderr = ("import time: self [us] | cumulative | imported package\n"
              "import time:       150 |        150 |   _io\n"
              "import time:      2000 |       2150 | numpy\n"
              "some other line\n")
    assert pipeline.import_seconds(stderr) == pytest.approx(0.00215)


def test_runner_rejects_an_unknown_benchmark():
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks/run.py"), "nope"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown benchmark(s) ['nope']" in proc.stderr


def test_runner_collects_a_real_benchmark_into_the_table(tmp_path):
    """The explain benchmark on 4 digits images, one method, through the runner."""
    out = tmp_path / "bench.jsonl"
    env_script = ("import sys, runpy; sys.argv = ['run.py', 'explain', '--out', sys.argv[1]]; "
                  "import run; run.BENCHMARKS['explain'] = ['explain.py', '--images', '4', "
                  "'--repeats', '1', '--methods', 'gradients']; sys.exit(run.main())")
    proc = subprocess.run([sys.executable, "-c", env_script, str(out)], capture_output=True,
                          text=True, cwd=REPO / "benchmarks", timeout=600)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["benchmark"] == "explain"
    assert rows[0]["ours"] > 0 and rows[0]["reference"] > 0 and rows[0]["unit"] == "images/s"
    assert "| explain | gradients: batched vs tutorial one-image loop |" in proc.stdout
    assert proc.returncode == (0 if rows[0]["meets_goal"] else 1)


@pytest.mark.slow
def test_multilabel_benchmark_runs_small(tmp_path):
    """benchmarks/multilabel.py on a few mosaics, one epoch: one figure with both intervals
    (needs Fashion-MNIST in the shared Keras cache)."""
    if not common.SHARED_KERAS_HOME.exists():
        pytest.skip("no shared Keras cache")
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks/multilabel.py"), "--train",
                           "256", "--val", "128", "--test", "128", "--epochs", "1",
                           "--resamples", "20"], capture_output=True, text=True, timeout=600)
    (row,) = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert row["benchmark"] == "multilabel" and 0 <= row["reference"] <= 1
    low, high = row["tuned_interval"]
    assert low <= row["ours"] <= high and len(row["thresholds"]) == 10
    assert proc.returncode == (0 if row["meets_goal"] else 1)
