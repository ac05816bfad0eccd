"""Pipeline wall time: the full default `dvc repro` on digits, a no-op `dvc repro`, and each
stage's fixed cost (interpreter start, imports, MLflow) apart from its work.

    python benchmarks/pipeline.py

Copies the project (tracked and untracked, not ignored, files) into a temporary git repository,
runs `dvc repro` there (timed), then `dvc repro` again (the no-op, timed), then each stage once
more on its own through benchmarks/stage_profile.py under `python -X importtime`, which splits
its time into: interpreter start (a bare `python -c pass`), imports (the sum of -X importtime's
self times, lazy imports inside the stage included), MLflow (time inside the code that talks to
MLflow, see stage_profile.py) and the rest, its work. Goals: full pipeline < 60 s, no-op < 5 s,
fixed cost < 4 s per stage, and evaluate, analyze and gate never import TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, emit, limit, machine  # noqa: E402

FULL_GOAL_S = 60.0
NOOP_GOAL_S = 5.0
FIXED_GOAL_S = 4.0
NO_TENSORFLOW = ("evaluate", "analyze", "gate")


def _env() -> dict:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed in {cwd}:\n{proc.stdout[-3000:]}\n"
                         f"{proc.stderr[-3000:]}")
    return proc


def _timed(args: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    proc = _run(args, cwd)
    return time.perf_counter() - started, proc


def make_project(dest: Path) -> Path:
    """The project's files as they are in the working tree, in a fresh git repository."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, listed):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_bytes(src.read_bytes())
    _run(["git", "init", "-q", "-b", "main"], dest)
    _run(["git", "add", "-A"], dest)
    _run(["git", "-c", "user.email=bench@example.com", "-c", "user.name=bench", "commit", "-qm",
          "bench"], dest)
    return dest


def import_seconds(stderr: str) -> float:
    """The sum of the `self` column of `python -X importtime` (microseconds) in seconds."""
    total = 0
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            field = line.split(":", 1)[1].split("|")[0].strip()
            if field.isdigit():
                total += int(field)
    return total / 1e6


def stages_in_order(project: Path) -> list[str]:
    import yaml

    return list(yaml.safe_load((project / "dvc.yaml").read_text())["stages"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, default=None,
                        help="build the project here and keep it (default: a removed temp dir)")
    args = parser.parse_args(argv)
    dvc = str(Path(sys.executable).parent / "dvc")
    rows = []
    with tempfile.TemporaryDirectory(prefix="classlens-bench-pipeline-") as tmp:
        project = make_project(args.keep or Path(tmp))
        full, _ = _timed([dvc, "repro"], project)
        noop, proc = _timed([dvc, "repro"], project)
        if "didn't change" not in proc.stdout and "up to date" not in proc.stdout:
            raise SystemExit(f"the second dvc repro was not a no-op:\n{proc.stdout[-2000:]}")
        info = machine()
        rows.append(emit(limit("pipeline", "full default dvc repro (digits)", value=full,
                               unit="s", at_most=FULL_GOAL_S, **info)))
        rows.append(emit(limit("pipeline", "no-op dvc repro", value=noop, unit="s",
                               at_most=NOOP_GOAL_S)))
        startup = min(_timed([sys.executable, "-c", "pass"], project)[0] for _ in range(3))
        profiler = str(REPO / "benchmarks" / "stage_profile.py")
        for stage in stages_in_order(project):
            wall, proc = _timed([sys.executable, "-X", "importtime", profiler, stage], project)
            line = [ln for ln in proc.stdout.splitlines() if ln.startswith("PROFILE ")][-1]
            profile = json.loads(line.removeprefix("PROFILE "))
            imports = import_seconds(proc.stderr)
            mlflow_s = profile["mlflow_seconds"]
            work = max(wall - startup - imports - mlflow_s, 0.0)
            fixed = wall - work
            row = limit("stage_fixed_cost", f"{stage}: start + imports + MLflow", value=fixed,
                        unit="s", at_most=FIXED_GOAL_S, stage=stage, wall_seconds=round(wall, 2),
                        startup_seconds=round(startup, 2), import_seconds=round(imports, 2),
                        mlflow_seconds=round(mlflow_s, 2), work_seconds=round(work, 2),
                        imports_tensorflow=profile["imports_tensorflow"])
            if stage in NO_TENSORFLOW:
                row["meets_goal"] = bool(row["meets_goal"] and not profile["imports_tensorflow"])
                row["goal"] += ", no TensorFlow"
            rows.append(emit(row))
    return 0 if all(r["meets_goal"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
