"""Peak memory of the prepare, train and predict stages at N and 10N images, side by side, and
prepare's throughput (images/s).

It writes two real image folders (JPEG and PNG, 96x96 RGB, made from scikit-learn's digits with
noise, so no two files are alike) into a temporary directory, runs the real `prepare` stage on
each in a fresh process, the real `train` stage (one epoch of a small CNN, streaming its splits:
`data.memory_cache_mb=0`; by default splits under 1 GiB are read into memory, by design) and the
real `predict` stage on each test split (test_fraction 0.8, so predict reads most of the
images). Every stage runs in
its own process, which reports its own peak resident memory (ru_maxrss: this includes pages of
files it maps, which is why the batch readers do not map the splits).

    python benchmarks/data_memory.py                 # N = 2,000 and 20,000
    python benchmarks/data_memory.py --small 500     # quicker: 500 and 5,000

Pass: the 10N peaks within 20% of the N peaks while the pixel data grows 10x. One JSON line per
stage (`benchmarks/run.py` collects them), then a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, emit  # noqa: E402
SIZE = 96
OVERRIDES = [
    "data=folder", "data.root=images", f"data.image_size=[{SIZE},{SIZE}]", "data.channels=3",
    "data.val_fraction=0.05", "data.test_fraction=0.8",
    "train.epochs=1", "model.filters=[8,16]", "model.convs_per_block=1",
    "data.memory_cache_mb=0",
]
STAGE = ("import resource, sys, time; from classlens.cli import run_stage; t = time.perf_counter();"
         " run_stage(sys.argv[1]); print('BENCH', time.perf_counter() - t,"
         " resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")


def write_images(folder: Path, count: int, seed: int) -> None:
    """`count` images in 10 class folders: digits upscaled to 96x96, tinted per class, noised."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    for c in range(10):
        (folder / f"class{c}").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        k = i % len(digits.target)
        label = int(digits.target[k])
        gray = Image.fromarray(np.uint8(digits.images[k] * 15)).resize((SIZE, SIZE),
                                                                        Image.Resampling.BILINEAR)
        tint = np.array([1.0, 0.6 + 0.04 * label, 1.0 - 0.05 * label])
        rgb = np.asarray(gray, dtype=np.float32)[..., None] * tint
        rgb += rng.normal(0, 12, size=rgb.shape)
        image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
        path = folder / f"class{label}" / f"{i:06d}"
        if i % 3 == 0:
            image.save(path.with_suffix(".png"))
        else:
            image.save(path.with_suffix(".jpg"), quality=90)


def make_project(folder: Path, count: int, seed: int) -> Path:
    folder.mkdir(parents=True)
    for name in ("conf", "dvc.yaml"):
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, folder / name)
    subprocess.run([sys.executable, "-m", "classlens.cli", "params", *OVERRIDES], cwd=folder,
                   check=True, capture_output=True)
    write_images(folder / "images", count, seed)
    return folder


def stage(project: Path, name: str) -> tuple[float, float, str]:
    """Run one stage in a fresh process: (seconds, peak resident MiB, its output)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.run([sys.executable, "-c", STAGE, name], cwd=project, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed in {project}:\n{proc.stdout}\n{proc.stderr}")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH")][-1].split()
    return float(line[1]), int(line[2]) / 1024, proc.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=2000, help="N (the large run is 10N)")
    args = parser.parse_args()
    sizes = (args.small, 10 * args.small)
    with tempfile.TemporaryDirectory(prefix="classlens-bench-") as tmp:
        results = {}
        projects = {}
        for n in sizes:
            t = time.perf_counter()
            projects[n] = make_project(Path(tmp) / f"n{n}", n, seed=n)
            print(f"wrote {n} images in {time.perf_counter() - t:.1f} s", flush=True)
        for n in sizes:
            seconds, peak, out = stage(projects[n], "prepare")
            decode_rate = float(re.search(r"([0-9.]+) images/s", out).group(1))
            fingerprint = json.loads((projects[n] / "data/prepared/fingerprint.json").read_text())
            used = sum(sum(c.values()) for c in fingerprint["counts"].values())
            results[n] = {"prepare_s": seconds, "prepare_mib": peak, "images": used,
                          "rate": decode_rate, "test": sum(fingerprint["counts"]["test"].values())}
            print(f"prepare {n}: {seconds:.1f} s in all ({used / seconds:.0f} images/s), "
                  f"{decode_rate:.0f} images/s listing+decoding+writing, peak {peak:.0f} MiB",
                  flush=True)
        for n in sizes:
            seconds, peak, _ = stage(projects[n], "train")
            results[n].update(train_s=seconds, train_mib=peak)
            print(f"train {n}: one epoch in {seconds:.1f} s, peak {peak:.0f} MiB", flush=True)
        for n in sizes:
            seconds, peak, _ = stage(projects[n], "predict")
            results[n].update(predict_s=seconds, predict_mib=peak)
            print(f"predict {n}: {results[n]['test']} test images in {seconds:.1f} s, peak "
                  f"{peak:.0f} MiB", flush=True)

    a, b = (results[n] for n in sizes)
    pixel_mib = {n: results[n]["images"] * SIZE * SIZE * 3 / 2**20 for n in sizes}
    test_mib = {n: results[n]["test"] * SIZE * SIZE * 3 / 2**20 for n in sizes}
    print()
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}; {time.strftime('%Y-%m-%d %H:%M')}")
    print("| images | pixels MiB | prepare peak MiB | prepare images/s (stage / decode+write) | "
          "train peak MiB | test images | test pixels MiB | predict peak MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for n in sizes:
        r = results[n]
        print(f"| {r['images']} | {pixel_mib[n]:.0f} | {r['prepare_mib']:.0f} | "
              f"{r['images'] / r['prepare_s']:.0f} / {r['rate']:.0f} | {r['train_mib']:.0f} | "
              f"{r['test']} | {test_mib[n]:.0f} | {r['predict_mib']:.0f} |")
    ratios = {name: b[f"{name}_mib"] / a[f"{name}_mib"] for name in ("prepare", "train", "predict")}
    print(f"peak memory ratio 10N/N: " + ", ".join(f"{k} {v:.3f}" for k, v in ratios.items())
          + f" (data grew {pixel_mib[sizes[1]] / pixel_mib[sizes[0]]:.1f}x)")
    for name, ratio in ratios.items():
        emit({"benchmark": "memory", "figure": f"{name} peak RSS at 10N / at N images",
              "ours": round(b[f"{name}_mib"], 1), "reference": round(a[f"{name}_mib"], 1),
              "unit": "MiB", "ratio": round(ratio, 3), "goal": "<= 1.2",
              "meets_goal": ratio <= 1.2, "images": [a["images"], b["images"]]})
    ok = all(r <= 1.2 for r in ratios.values())
    print("PASS: flat within 20%" if ok else "FAIL: peak memory grew more than 20%")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
