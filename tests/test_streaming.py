"""Prepared splits are read in batches without mapping them whole: positioned row reads, the
train input pipeline (same batches from disk or memory, seeded per epoch), and what the train
stage records about the data in MLflow."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pytest

from classlens import paths
from classlens.data.prepared import Split, cache_in_memory
from classlens.data.rows import NpyRowWriter, RowFile, read_rows


@pytest.fixture
def stored(tmp_path):
    array = np.random.default_rng(0).integers(0, 256, size=(103, 5, 4, 3), dtype=np.uint8)
    path = tmp_path / "a.npy"
    with NpyRowWriter(path, rows=103, row_shape=(5, 4, 3)) as out:
        for start in range(0, 103, 10):
            out.write(array[start:start + 10])
    return array, path


def test_row_writer_writes_a_normal_npy_file_and_row_reads_match(stored):
    array, path = stored
    np.testing.assert_array_equal(np.load(path), array)
    rows = RowFile.from_npy(path)
    np.testing.assert_array_equal(rows[10:20], array[10:20])
    index = np.array([0, 1, 2, 50, 51, 102])
    np.testing.assert_array_equal(rows[index], array[index])
    np.testing.assert_array_equal(rows[7], array[7])
    mapped = np.load(path, mmap_mode="r")
    assert RowFile.of(mapped) is not None and RowFile.of(mapped[3:9]) is None
    np.testing.assert_array_equal(read_rows(mapped, index), array[index])
    np.testing.assert_array_equal(read_rows(mapped[3:9], slice(1, 3)), array[4:6])


def test_row_writer_refuses_a_wrong_row_count(tmp_path):
    with pytest.raises(ValueError, match="2 rows written, 3 declared"):
        with NpyRowWriter(tmp_path / "b.npy", rows=3, row_shape=(2,)) as out:
            out.write(np.zeros((2, 2), np.uint8))


def test_train_batches_are_the_same_from_disk_and_memory_and_reshuffle_per_epoch(stored):
    from classlens.training.loop import make_dataset

    array, path = stored
    labels = np.arange(103)
    mapped = np.load(path, mmap_mode="r")
    on_disk = make_dataset(mapped, labels, batch_size=16, shuffle=True, seed=7)
    in_memory = make_dataset(array, labels, batch_size=16, shuffle=True, seed=7)
    epochs = []
    for _ in range(2):
        disk_batches = [(x.numpy(), y.numpy()) for x, y in on_disk]
        mem_batches = [(x.numpy(), y.numpy()) for x, y in in_memory]
        assert len(disk_batches) == 7 == on_disk.cardinality().numpy()
        for (dx, dy), (mx, my) in zip(disk_batches, mem_batches):
            np.testing.assert_array_equal(dx, mx)
            np.testing.assert_array_equal(dy, my)
            np.testing.assert_array_equal(dx, array[dy])  # images stay with their labels
        order = np.concatenate([y for _, y in disk_batches])
        assert sorted(order.tolist()) == list(range(103))  # every row once per epoch
        epochs.append(order)
    assert not np.array_equal(epochs[0], epochs[1])
    plain = make_dataset(mapped, labels, batch_size=50, shuffle=False, seed=0)
    np.testing.assert_array_equal(np.concatenate([y for _, y in plain]), labels)


def test_small_splits_are_cached_in_memory_and_large_ones_stay_on_disk(stored):
    array, path = stored
    split = Split(images=np.load(path, mmap_mode="r"), labels=np.arange(103))
    cached = cache_in_memory(split, limit_mb=1)
    assert not isinstance(cached.images, np.memmap)
    np.testing.assert_array_equal(cached.images, array)
    assert cache_in_memory(split, limit_mb=0).images is split.images


def test_train_stage_logs_the_data_report_and_class_counts(trained_project):
    ref = json.loads((trained_project / paths.RUN_REF).read_text())
    mlflow.set_tracking_uri(f"sqlite:///{trained_project / 'mlflow.db'}")
    client = mlflow.MlflowClient()
    run = client.get_run(ref["run_id"])
    fingerprint = json.loads((trained_project / paths.FINGERPRINT).read_text())
    for split in paths.SPLITS:
        assert run.data.metrics[f"images_{split}"] == sum(fingerprint["counts"][split].values())
    assert run.data.metrics["images_skipped"] == 0
    report = {a.path for a in client.list_artifacts(ref["run_id"], "data/report")}
    assert {"data/report/summary.json", "data/report/skipped.csv",
            "data/report/class_counts.png", "data/report/samples.png"} <= report
    local = client.download_artifacts(ref["run_id"], "data/class_counts.json")
    table = json.loads(open(local).read())
    assert table["columns"] == ["class", "train", "val", "test"] and len(table["data"]) == 10
    assert run.inputs.dataset_inputs[0].dataset.digest == fingerprint["digest"][:36]
