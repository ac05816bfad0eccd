"""Run one DVC stage the way `python stages/<stage>.py` does, and report where its time went.

Started by benchmarks/pipeline.py as `python -X importtime benchmarks/stage_profile.py <stage>`
in a project whose inputs exist. On its last line it prints `PROFILE {json}`: the stage's wall
time inside Python, the seconds spent in MLflow (every call into the MLflow-facing modules,
`classlens.tracking.store/runs/log` and, in train, `classlens.serving.logged_model`, timed at
the outermost call; `import mlflow` is done just before
the first such call, outside the clock, so that it counts as import time, and only in stages
that use MLflow) and whether TensorFlow was imported. The import time itself is read by the
parent from `-X importtime` on stderr.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import json
import sys
import time

started = time.perf_counter()

from classlens.cli import run_stage  # noqa: E402

# The modules whose calls talk to MLflow. The served-model logging is imported only for train,
# the one stage that uses it (elsewhere it would add imports the stage does not make).
MLFLOW_MODULES = ["classlens.tracking.store", "classlens.tracking.runs", "classlens.tracking.log"]
if sys.argv[1:] == ["train"]:
    MLFLOW_MODULES.append("classlens.serving.logged_model")

_spent = [0.0]
_depth = [0]


class _TimedContext:
    """Times the __enter__ and __exit__ of a context manager a tracking function returned."""

    def __init__(self, inner) -> None:
        self._inner = inner

    def __enter__(self):
        with _Clock():
            return self._inner.__enter__()

    def __exit__(self, *exc):
        with _Clock():
            return self._inner.__exit__(*exc)


class _Clock:
    def __enter__(self):
        if _depth[0] == 0:
            import mlflow  # noqa: F401  (import time, not MLflow time; a no-op after the first)
        _depth[0] += 1
        self._start = time.perf_counter()

    def __exit__(self, *exc):
        _depth[0] -= 1
        if _depth[0] == 0:
            _spent[0] += time.perf_counter() - self._start


def _timed(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with _Clock():
            result = function(*args, **kwargs)
        if isinstance(result, contextlib._GeneratorContextManager):  # stage_run, training_run
            return _TimedContext(result)
        return result
    return wrapper


# Patched before the stage's modules import these functions by name, so they get the timed ones.
for _module in map(importlib.import_module, MLFLOW_MODULES):
    for _name, _value in list(vars(_module).items()):
        if inspect.isfunction(_value) and _value.__module__ == _module.__name__:
            setattr(_module, _name, _timed(_value))


def main() -> None:
    stage = sys.argv[1]
    before = time.perf_counter()
    run_stage(stage)
    done = time.perf_counter()
    print("PROFILE " + json.dumps({
        "stage": stage, "python_seconds": done - started, "stage_seconds": done - before,
        "mlflow_seconds": _spent[0], "imports_tensorflow": "tensorflow" in sys.modules,
    }), flush=True)


if __name__ == "__main__":
    main()
