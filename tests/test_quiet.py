"""TensorFlow's start-up lines stay off stderr unless asked for: real `import keras` (which
imports TensorFlow) in a fresh interpreter, with and without the user's own log level."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from classlens.quiet import filtered_stderr, is_startup_noise

ONEDNN = "oneDNN custom operations are on"
BANNER = "All log messages before absl::InitializeLog() is called"
IMPORT = ("import sys\n"
          "from classlens.quiet import quiet_tensorflow\n"
          "quiet_tensorflow()\n"
          "print('ours before', file=sys.stderr)\n"
          "import keras\n"
          "print('ours after', file=sys.stderr)\n")


def _stderr(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("TF_CPP_MIN_LOG_LEVEL", "CLASSLENS_VERBOSE")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**clean, "CUDA_VISIBLE_DEVICES": "", **env}, timeout=300,
                          check=True)
    return proc.stderr


@pytest.fixture(scope="module")
def plain_import() -> str:
    """What TensorFlow prints when nobody filters (the user's TF_CPP_MIN_LOG_LEVEL=0)."""
    err = _stderr(IMPORT, TF_CPP_MIN_LOG_LEVEL="0")
    if ONEDNN not in err and BANNER not in err:
        pytest.skip("this TensorFlow prints no start-up lines to hide")
    return err


def test_start_up_lines_are_hidden_by_default(plain_import):
    err = _stderr(IMPORT)
    assert ONEDNN not in err and BANNER not in err, err
    assert err.splitlines()[:2] == ["ours before", "ours after"], err


def test_the_users_level_and_classlens_verbose_show_them(plain_import):
    assert "ours before" in plain_import and "ours after" in plain_import
    verbose = _stderr(IMPORT, CLASSLENS_VERBOSE="1")
    assert ONEDNN in verbose or BANNER in verbose, verbose
    quiet_warnings = _stderr(IMPORT, TF_CPP_MIN_LOG_LEVEL="3")
    assert ONEDNN not in quiet_warnings and BANNER not in quiet_warnings


def test_only_lines_below_the_level_are_dropped(capfd):
    with filtered_stderr(2):
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are "
                    b"written to STDERR\n"
                    b"I0000 00:00:1795910495.515770   17611 port.cc:153] oneDNN noise\n"
                    b"W0000 00:00:1795910495.515770   17611 x.cc:1] a warning\n"
                    b"E0000 00:00:1795910495.515770   17611 cuda_dnn.cc:8579] an error\n"
                    b"a traceback line of our own\n")
    err = capfd.readouterr().err
    assert err.splitlines() == [
        "E0000 00:00:1795910495.515770   17611 cuda_dnn.cc:8579] an error",
        "a traceback line of our own"]


def test_noise_rule():
    line = "I1129 10:02:03.123456   17611 port.cc:153] oneDNN custom operations are on."
    assert is_startup_noise(line, 1) and not is_startup_noise(line, 0)
    assert not is_startup_noise("I think this is ours", 3)
