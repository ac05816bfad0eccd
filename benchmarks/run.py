"""Run every benchmark, print one JSON line per figure as it comes, then one table.

    python benchmarks/run.py                          # all (about 10-12 minutes on 2 cores)
    python benchmarks/run.py train predict            # some
    python benchmarks/run.py --out reports/bench.jsonl

Each benchmark is its own script (see benchmarks/README.md) run in a fresh process, so one's
TensorFlow state or memory does not colour the next. Exit status 1 if a figure misses its goal
or a script fails. `gpu` runs only where TensorFlow sees a GPU.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = {
    "train": ["train.py"],  # train images/s and time to accuracy (Fashion-MNIST)
    "predict": ["predict.py"],
    "explain": ["explain.py"],
    "pipeline": ["pipeline.py"],
    "memory": ["data_memory.py"],
    "multilabel": ["multilabel.py"],  # macro F1, thresholds fitted vs 0.5 (Fashion mosaics)
    "gpu": ["gpu.py"],
}


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def table(rows: list[dict]) -> str:
    """The figures as a Markdown table (the form benchmarks/README.md keeps)."""
    lines = ["| benchmark | figure | ours | reference | unit | ratio | goal | met |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append("| " + " | ".join([
            row.get("benchmark", "?"), row.get("figure", row.get("method", "?")),
            _fmt(row.get("ours")), _fmt(row.get("reference")), row.get("unit", ""),
            _fmt(row.get("ratio")), str(row.get("goal", "")),
            "yes" if row.get("meets_goal") else "NO"]) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="name",
                        help=f"benchmarks to run, of {list(BENCHMARKS)} (default: all)")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON lines here")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    rows: list[dict] = []
    failures = []
    started = time.perf_counter()
    for name in args.names or list(BENCHMARKS):
        script, *extra = BENCHMARKS[name]
        print(f"# {name}: python benchmarks/{script} {' '.join(extra)}", flush=True)
        proc = subprocess.Popen([sys.executable, str(HERE / script), *extra], text=True,
                                stdout=subprocess.PIPE)
        for line in proc.stdout:
            print(line.rstrip(), flush=True)  # the scripts' own progress and tables too
            if line.startswith("{"):
                row = json.loads(line)
                if "meets_goal" in row:
                    row.setdefault("benchmark", name)
                    rows.append(row)
        if proc.wait() not in (0, 1):  # 1: a goal missed (in the rows); other: it failed
            failures.append(f"{script} exited {proc.returncode}")
    print(f"\n{len(rows)} figures in {time.perf_counter() - started:.0f} s\n")
    print(table(rows))
    for failure in failures:
        print(f"FAILED: {failure}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return 0 if rows and not failures and all(r["meets_goal"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
