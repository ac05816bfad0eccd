"""TensorFlow's start-up lines kept off stderr unless asked for.

`TF_CPP_MIN_LOG_LEVEL` (0 all, 1 no INFO, 2 no WARNING, 3 no ERROR) filters TensorFlow's C++ log
once its logging is set up, but TensorFlow 2.2x prints a few lines while `import tensorflow` runs,
before that: absl's "All log messages before absl::InitializeLog() is called are written to
STDERR" and oneDNN's INFO "oneDNN custom operations are on ...", which the variable does not
reach. `quiet_tensorflow()` sets the variable to 2 unless the user set it, and applies the same
level to what the import itself writes to stderr; every other line is passed through.
`CLASSLENS_VERBOSE=1` (or the user's own `TF_CPP_MIN_LOG_LEVEL=0`) shows everything.
"""

from __future__ import annotations

import importlib.abc
import os
import re
import sys
import tempfile
from contextlib import contextmanager
from typing import Iterator

VERBOSE_ENV = "CLASSLENS_VERBOSE"
LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
DEFAULT_LEVEL = "2"
# absl's log line: severity letter, MMDD hh:mm:ss.micros (before absl is set up: 0000 00:00:
# <epoch seconds>), thread id, file:line]
_ABSL_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] ")
_ABSL_BANNER = "WARNING: All log messages before absl::InitializeLog() is called"
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}


def quiet_tensorflow() -> None:
    """Call before TensorFlow (or Keras) is imported: the first `import tensorflow` then leaves
    out its start-up lines below the log level. Does nothing when `CLASSLENS_VERBOSE` is set."""
    if os.environ.get(VERBOSE_ENV, "") not in ("", "0"):
        return
    os.environ.setdefault(LEVEL_ENV, DEFAULT_LEVEL)
    if _min_level() > 0 and "tensorflow" not in sys.modules and not any(
            isinstance(f, _QuietFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietFinder())


def _min_level() -> int:
    try:
        return int(os.environ.get(LEVEL_ENV, "0"))
    except ValueError:
        return 0


def is_startup_noise(line: str, min_level: int) -> bool:
    """Whether `line` is one of TensorFlow's early log lines that `min_level` hides."""
    if min_level <= 0:
        return False
    if line.startswith(_ABSL_BANNER):
        return True
    match = _ABSL_LINE.match(line)
    return bool(match) and _SEVERITY[match.group(1)] < min_level


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` as usual, but runs its import with stderr filtered (once)."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path[:] = [f for f in sys.meta_path if f is not self]
        for finder in sys.meta_path:  # the finders that would have found it
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find else None
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _QuietLoader(spec.loader)
                return spec
        return None


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):  # get_resource_reader, is_package, ...: the real loader's
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        module.__spec__.loader = module.__loader__ = self._loader  # as if imported plainly
        with filtered_stderr(_min_level()):
            self._loader.exec_module(module)


@contextmanager
def filtered_stderr(min_level: int) -> Iterator[None]:
    """Collect what is written to file descriptor 2 (C++ and Python alike) inside the block, then
    write it back without the start-up lines `min_level` hides."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable stderr: nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            except (OSError, ValueError, AttributeError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            text = held.read().decode("utf-8", errors="replace")
            kept = "".join(line for line in text.splitlines(keepends=True)
                           if not is_startup_noise(line, min_level))
            if kept:
                os.write(2, kept.encode("utf-8"))
