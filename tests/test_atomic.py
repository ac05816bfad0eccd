"""Outputs are replaced whole or not at all."""

from __future__ import annotations

import pytest

from classlens.atomic import atomic_dir, atomic_path, write_json


def test_failed_write_leaves_previous_file_and_no_temp(tmp_path):
    target = tmp_path / "metrics.json"
    write_json(target, {"accuracy": 0.9})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text('{"accur')
            raise RuntimeError("crash mid-write")
    assert target.read_text() == '{\n  "accuracy": 0.9\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_nan_is_refused_not_written(tmp_path):
    with pytest.raises(ValueError):
        write_json(tmp_path / "m.json", {"f1": float("nan")})
    assert not (tmp_path / "m.json").exists()


def test_failed_directory_leaves_previous_directory(tmp_path):
    out = tmp_path / "eval"
    with atomic_dir(out) as tmp:
        (tmp / "a.csv").write_text("1")
    with pytest.raises(RuntimeError):
        with atomic_dir(out) as tmp:
            (tmp / "b.csv").write_text("half")
            raise RuntimeError("crash")
    assert sorted(p.name for p in out.iterdir()) == ["a.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval"]


def test_outputs_get_normal_permissions(tmp_path):
    write_json(tmp_path / "m.json", {})
    assert (tmp_path / "m.json").stat().st_mode & 0o044  # readable by group/others
