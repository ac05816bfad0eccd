"""Outputs are replaced whole or not at all."""

from __future__ import annotations

import pytest

from classlens.atomic import atomic_dir, atomic_files, atomic_path, write_json


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


def test_staged_files_replace_only_their_namesakes(tmp_path):
    """models/ holds DVC's .gitignore and maybe the user's own model file beside the outputs."""
    out = tmp_path / "models"
    out.mkdir()
    (out / ".gitignore").write_text("/model.keras\n")
    (out / "mine.keras").write_text("user file")
    (out / "model.keras").write_text("old model")
    (out / "curves").mkdir()
    (out / "curves" / "stale.csv").write_text("old")
    with atomic_files(out) as tmp:
        (tmp / "model.keras").write_text("new model")
        (tmp / "card.md").write_text("card")
        (tmp / "curves").mkdir()
        (tmp / "curves" / "loss.csv").write_text("new")
    assert (out / "model.keras").read_text() == "new model"
    assert (out / ".gitignore").read_text() == "/model.keras\n"
    assert (out / "mine.keras").read_text() == "user file"
    assert sorted(p.name for p in (out / "curves").iterdir()) == ["loss.csv"]
    assert sorted(p.name for p in out.iterdir()) == [".gitignore", "card.md", "curves",
                                                      "mine.keras", "model.keras"]


def test_failed_staging_moves_nothing(tmp_path):
    """A failure after some outputs are written (the tracking server dying while the model is
    logged) leaves every previous output, not a mix of new and old."""
    out = tmp_path / "models"
    out.mkdir()
    (out / "model.keras").write_text("old model")
    (out / "card.md").write_text("old card")
    with pytest.raises(RuntimeError):
        with atomic_files(out) as tmp:
            (tmp / "model.keras").write_text("new model")
            raise RuntimeError("server gone")
    assert (out / "model.keras").read_text() == "old model"
    assert sorted(p.name for p in out.iterdir()) == ["card.md", "model.keras"]


def test_outputs_get_normal_permissions(tmp_path):
    write_json(tmp_path / "m.json", {})
    assert (tmp_path / "m.json").stat().st_mode & 0o044  # readable by group/others


def test_staging_left_by_a_killed_writer_is_removed_by_the_next(tmp_path):
    """SIGKILL runs no cleanup: the next writer of the same outputs removes the dead one's
    staging (a whole model, a whole dataset), and nothing else."""
    out = tmp_path / "models"
    out.mkdir()
    dead = out / ".models.k3j2.tmp"
    dead.mkdir()
    (dead / "model.keras").write_text("half")
    (tmp_path / ".prepared.x1.tmp").mkdir()
    (tmp_path / ".prepared.old").mkdir()
    (tmp_path / ".keep.tmp").mkdir()  # not a staging folder of either
    with atomic_files(out) as tmp:
        (tmp / "model.keras").write_text("new")
    with atomic_dir(tmp_path / "prepared") as tmp:
        (tmp / "x.npy").write_text("x")
    assert sorted(p.name for p in out.iterdir()) == ["model.keras"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".keep.tmp", "models", "prepared"]
