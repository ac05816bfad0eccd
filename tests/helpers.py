"""Helpers the test modules share (the fixtures are in conftest.py): the digits images as the
prepare stage writes them, a free local port, the one-line error contract, the modules a fresh
interpreter loads, a model config composed from the real conf/, and a copied checkout whose
MLflow store points at the copy."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.conftest import REPO, run

# Importing either means the TensorFlow start-up (seconds) was paid.
TENSORFLOW_PACKAGES = ("tensorflow", "keras")


def digits(n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The first `n` (default all 1,797) of scikit-learn's digits as the prepared images are:
    uint8 (n, 8, 8, 1) scaled from 0..16 to 0..255, and their int64 labels. Read from
    scikit-learn directly, so the data the tests feed does not depend on the code under test."""
    from sklearn.datasets import load_digits

    data = load_digits()
    images = np.rint(data.images[:n] * (255.0 / 16.0)).astype(np.uint8)[..., np.newaxis]
    return images, data.target[:n].astype(np.int64)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def classlens_lines(stderr: str, prefix: str = "classlens ") -> list[str]:
    """Our own error lines (TensorFlow's absl/oneDNN start-up lines may surround them)."""
    return [line for line in stderr.splitlines() if line.startswith(prefix)]


def one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """Assert the process stopped as a bad input must: exit code 2, no traceback, exactly one
    `classlens ...` line, holding every needle. Returns that line."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    ours = classlens_lines(proc.stderr)
    assert len(ours) == 1, proc.stderr
    for needle in needles:
        assert needle in ours[0], ours[0]
    return ours[0]


_RECORD_MODULES = ("import atexit, json, os, sys\n"
                   "atexit.register(lambda: print('MODULES ' + json.dumps(sorted(sys.modules))))\n")


def modules_loaded(cwd: Path, *, script: str | None = None, code: str | None = None
                   ) -> tuple[set[str], subprocess.CompletedProcess]:
    """Every module in `sys.modules` when a fresh interpreter in `cwd` ends, after running
    `script` as `python <script>` does (DVC's stage commands) or `code`; it must succeed.
    (Read from sys.modules: `-X importtime` does not list what importlib.import_module loads.)"""
    if script is not None:
        body = (f"import runpy; sys.argv = [{script!r}]; "
                f"sys.path[0] = os.path.dirname(os.path.abspath({script!r})); "
                f"runpy.run_path({script!r}, run_name='__main__')")
    else:
        body = code
    proc = run([sys.executable, "-c", _RECORD_MODULES + body], cwd=cwd)
    line = proc.stdout.strip().splitlines()[-1]
    assert line.startswith("MODULES "), proc.stdout[-2000:]
    return set(json.loads(line[len("MODULES "):])), proc


def tensorflow_modules(loaded: set[str]) -> set[str]:
    """The TensorFlow and Keras modules among `loaded` (empty when neither was imported)."""
    return {name for name in loaded if name.split(".")[0] in TENSORFLOW_PACKAGES}


def stages_code(*stages: str) -> str:
    """Python code that runs these stages in-process, one after the other."""
    calls = "; ".join(f"run_stage({stage!r})" for stage in stages)
    return f"from classlens.cli import run_stage; {calls}"


def model_config(architecture: str, *overrides: str):
    """The real conf/model/<architecture>.yaml as typed config, random init and no augmentation
    for a transfer model (no download, the same model every build)."""
    from classlens.config import compose, validate

    extra = [] if architecture in ("cnn", "file") else [
        "model.weights=null", "model.augment.translate=0", "model.augment.rotate=0",
        "model.augment.zoom=0"]
    raw = compose(REPO / "conf", [f"model={architecture}", *extra, *overrides])
    return validate(raw).model


def copy_checkout(src: Path, dest: Path) -> Path:
    """Copy a project folder with its MLflow SQLite store, re-pointing the store's artifact
    locations at the copy (classlens stops a copied store that still logs into the original's
    folder; a test copy must neither stop nor write into the original)."""
    import shutil
    import sqlite3

    shutil.copytree(src, dest)
    db = dest / "mlflow.db"
    if db.exists():
        old, new = (src / "mlartifacts").resolve().as_uri(), (dest / "mlartifacts").resolve().as_uri()
        with sqlite3.connect(db) as con:
            con.execute("UPDATE experiments SET artifact_location = "
                        "replace(artifact_location, ?, ?)", (old, new))
            con.execute("UPDATE runs SET artifact_uri = replace(artifact_uri, ?, ?)", (old, new))
        con.close()
    return dest
