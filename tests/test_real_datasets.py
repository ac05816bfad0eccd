"""The real datasets in ../shared/datasets (Fashion-MNIST in a Keras cache, MNIST as IDX files,
CIFAR-10 as a folder of JPEG files): each one prepared, and (slow) each one through the whole
pipeline with `dvc exp run`, offline. Every test skips, saying why, when the folder is absent;
CIFAR is extracted into a temporary folder, never into the project."""

from __future__ import annotations

import json
import os
import sys
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from classlens import paths
from classlens.config import load_params, write_params
from classlens.data.prepared import load_classes, load_manifest, load_split
from classlens.pipeline import prepare
from tests.conftest import REPO, copy_project, init_repo, run

DATASETS = Path(os.environ.get("CLASSLENS_DATASETS", REPO.parent / "shared" / "datasets"))
KERAS_HOME = DATASETS / "keras-home"
MNIST_IDX = DATASETS / "mnist-idx"
CIFAR_TAR = DATASETS / "cifar10-jpg.tar.gz"


def _need(path: Path):
    return pytest.mark.skipif(not path.exists(), reason=f"{path} not found (the shared real "
                              "datasets; set CLASSLENS_DATASETS to their folder)")


def extract_cifar(dest: Path, per_class: int | None = None) -> Path:
    """CIFAR-10's JPEG folder (train/<class>/, test/<class>/) extracted into `dest`, all of it
    or the first `per_class` files of each class and split."""
    taken: dict[str, int] = {}
    with tarfile.open(CIFAR_TAR) as tar:
        for member in tar:
            if not member.isfile():
                continue
            parts = Path(member.name).parts
            key = "/".join(parts[-3:-1])
            if per_class is not None and taken.get(key, 0) >= per_class:
                continue
            taken[key] = taken.get(key, 0) + 1
            target = dest / Path(*parts[-3:])
            target.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(member) as src:
                target.write_bytes(src.read())
    return dest


def _prepare(project: Path, *overrides: str) -> dict:
    write_params(project / "params.yaml", project / "conf", list(overrides))
    return prepare.run(load_params(project / "params.yaml"))


@_need(KERAS_HOME)
def test_fashion_mnist_from_the_keras_cache(project):
    # in its own process, as DVC runs it: Keras reads KERAS_HOME once, when it is imported
    write_params(project / "params.yaml", project / "conf",
                 ["data=fashion_mnist", "data.max_per_class=20"])
    run([sys.executable, "stages/prepare.py"], cwd=project, env={"KERAS_HOME": str(KERAS_HOME)})
    record = json.loads((project / paths.FINGERPRINT).read_text())
    assert load_classes()[0] == "T-shirt/top" and len(load_classes()) == 10
    assert record["image_shape"] == [28, 28, 1]
    manifest = load_manifest()
    test = manifest[manifest.split == "test"]
    assert len(test) == 200 and test["id"].str.startswith("fashion_mnist:test:").all()
    assert not manifest[manifest.split != "test"]["id"].str.contains(":test:").any()
    assert record["counts"]["train"]["Bag"] + record["counts"]["val"]["Bag"] == 20


@_need(MNIST_IDX)
def test_mnist_idx_files(project):
    record = _prepare(project, "data=idx", f"data.root={MNIST_IDX}", "data.max_per_class=15")
    assert record["image_shape"] == [28, 28, 1] and load_classes() == [str(i) for i in range(10)]
    manifest = load_manifest()
    assert (manifest[manifest.split == "test"]["id"].str.startswith("idx:test:")).all()
    assert sum(record["counts"]["test"].values()) == 150
    assert load_split("train").images.max() == 255


@_need(CIFAR_TAR)
def test_cifar10_jpeg_folder_subset(project, tmp_path):
    root = extract_cifar(tmp_path / "cifar", per_class=12)
    record = _prepare(project, "data=folder", f"data.root={root}", "data.image_size=[32,32]")
    assert load_classes() == sorted(load_classes()) and "airplane" in load_classes()
    assert record["image_shape"] == [32, 32, 3]
    manifest = load_manifest()
    assert set(manifest[manifest.split == "test"]["id"].str.split("/").str[0]) == {"test"}
    assert sum(record["counts"]["test"].values()) == 120


# ---------------------------------------------------------------- whole pipeline, dvc exp run

# Small enough for a CPU test: one epoch of the shrunk CNN on a class-balanced sample.
QUICK = {"train/default.yaml": {"epochs": 1, "early_stopping_patience": 1},
         "model/cnn.yaml": {"filters": [8, 16], "convs_per_block": 1},
         "explain/default.yaml": {"n_misclassified": 2, "n_correct": 2}}


@pytest.fixture(scope="module")
def dvc_repo(tmp_path_factory) -> Path:
    project = copy_project(tmp_path_factory.mktemp("real") / "repo", changes=QUICK)
    init_repo(project)
    return project


def _exp_run(repo: Path, name: str, *overrides: str, env=None) -> dict:
    args = ["dvc", "exp", "run", "-n", name]
    for override in overrides:
        args += ["-S", override]
    proc = run(args, cwd=repo, env=env or {}, timeout=900)
    for stage in ("prepare", "train", "predict", "evaluate", "analyze", "explain"):
        assert f"Running stage '{stage}'" in proc.stdout, proc.stdout
    headline = json.loads((repo / paths.METRICS).read_text())
    table = pd.read_csv(repo / paths.PREDICTIONS)
    assert headline["accuracy"] == pytest.approx(table["correct"].mean())
    return json.loads((repo / paths.ALL_METRICS).read_text())  # every number, per class too


@pytest.mark.slow
@_need(KERAS_HOME)
def test_dvc_exp_run_fashion_mnist_offline(dvc_repo):
    # what is proven here is that every stage runs offline on the real data; one epoch of the
    # shrunk CNN on 600 images learns little (about 0.15 accuracy), so no accuracy floor
    metrics = _exp_run(dvc_repo, "fashion", "data=fashion_mnist", "data.max_per_class=60",
                       env={"KERAS_HOME": str(KERAS_HOME)})
    assert len(metrics["per_class"]) == 10 and "Ankle boot" in metrics["per_class"]
    assert len(pd.read_csv(dvc_repo / paths.PREDICTIONS)) == 600  # 60 per class of the test set


@pytest.mark.slow
@_need(MNIST_IDX)
def test_dvc_exp_run_mnist_idx_offline(dvc_repo):
    metrics = _exp_run(dvc_repo, "mnist-idx", "data=idx", f"data.root={MNIST_IDX}",
                       "data.max_per_class=60")
    assert set(metrics["per_class"]) == {str(i) for i in range(10)}
    table = pd.read_csv(dvc_repo / paths.PREDICTIONS)
    assert len(table) == 600 and table["id"].str.startswith("idx:test:").all()


@pytest.mark.slow
@_need(CIFAR_TAR)
def test_dvc_exp_run_cifar10_jpeg_folder(dvc_repo, tmp_path):
    root = extract_cifar(tmp_path / "cifar", per_class=60)
    metrics = _exp_run(dvc_repo, "cifar-folder", "data=folder", f"data.root={root}",
                       "data.image_size=[32,32]")
    assert 0.0 <= metrics["accuracy"] <= 1.0 and "airplane" in metrics["per_class"]
    summary = json.loads((dvc_repo / paths.PREPARED_DIR / "report/summary.json").read_text())
    assert summary["images_used"] == 1200 and summary["source_split"] is True


def _prepare_held_memory(project: Path, *overrides: str) -> tuple[int, int]:
    """Run the prepare stage in a fresh process; (peak MiB of memory allocated and held by Python
    and NumPy, as tracemalloc counts it; peak resident MiB of the process)."""
    write_params(project / "params.yaml", project / "conf", list(overrides))
    proc = run([sys.executable, "-c", (
        "import resource, tracemalloc; from classlens.cli import run_stage; "
        "tracemalloc.start(); run_stage('prepare'); "
        "print('held_mib', tracemalloc.get_traced_memory()[1] // 2**20); "
        "print('rss_mib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)")],
        cwd=project, timeout=1800)
    print(proc.stdout)
    return (int(proc.stdout.split("held_mib")[1].split()[0]),
            int(proc.stdout.split("rss_mib")[1].split()[0]))


@pytest.mark.slow
@_need(CIFAR_TAR)
def test_prepare_copes_with_all_60000_cifar10_jpegs(project, tmp_path):
    """All 60,000 files are used, and memory does not grow with them: the peak held at 60,000
    images is within 32 MiB of the peak at 6,000 (the pixels alone are 184 MB). Held memory is
    what tracemalloc counts (Python objects and NumPy buffers), not the resident size: the
    resident peak also carries the allocator's and the kernel's bookkeeping, which differed by
    1 GiB between two machines running the same code (printed, not asserted)."""
    root = extract_cifar(tmp_path / "cifar")
    common = ["data=folder", f"data.root={root}", "data.image_size=[32,32]"]
    held_tenth, _ = _prepare_held_memory(project, *common, "data.max_per_class=300")
    held_all, _ = _prepare_held_memory(project, *common)
    summary = json.loads((project / paths.PREPARED_DIR / "report/summary.json").read_text())
    assert summary["images_used"] == 60000 and summary["images_skipped"] == 0
    assert summary["split_sizes"]["test"] == 10000
    assert held_all - held_tenth < 32, (
        f"prepare held {held_all} MiB at 60,000 images against {held_tenth} MiB at 6,000: it "
        "must stream the pixels (184 MB) to disk, not hold them")
    images = np.load(project / paths.split_images("train"), mmap_mode="r")
    assert images.shape == (42500, 32, 32, 3)
