"""Is this folder a classlens model? Answered from its files as data — `MLmodel` parsed with
`yaml.safe_load`, the artifact paths checked — never by importing, unpickling or running anything
in it.

The model the train stage logs (`logged_model.log_image_model`) is an MLflow "models from code"
pyfunc:

    MLmodel                       flavors.python_function: loader_module
                                  mlflow.pyfunc.loaders.code_model, model_code_path
                                  .../mlflow_model.py, artifacts keras_model and preprocessing
    mlflow_model.py               the code MLflow runs to build it (`mlflow models serve`)
    artifacts/model.keras         the Keras model
    artifacts/preprocessing.json  the preprocessing record

`classlens predict` and `load_predictor` build the predictor from the two artifacts alone (the
`.keras` file in Keras' safe mode), so a folder whose `python_model.pkl` or code file carries a
payload runs nothing: it is refused when it is not this layout, and its code is never read when
it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import NoReturn

from classlens.errors import InputError

MODEL_CODE_NAME = "mlflow_model.py"  # classlens.serving's file; MLflow copies it into the folder
CODE_LOADER = "mlflow.pyfunc.loaders.code_model"  # MLflow's loader for models from code
KERAS_ARTIFACT = "keras_model"
RECORD_ARTIFACT = "preprocessing"
ARTIFACTS_DIR = "artifacts"
MAX_MLMODEL_BYTES = 1 << 20  # MLflow writes a few kilobytes; a larger file is not one of ours
ACCEPTED = (f"classlens loads only the MLflow model its train stage logs (an MLmodel whose "
            f"python_function flavour is built by classlens' {MODEL_CODE_NAME}, with the "
            f"artifacts {KERAS_ARTIFACT} (.keras) and {RECORD_ARTIFACT} under {ARTIFACTS_DIR}/) "
            "and never unpickles or runs a model folder's code")


@dataclass(frozen=True)
class ModelFiles:
    """The two files a classlens model folder holds: the Keras model and its preprocessing
    record."""

    keras: Path
    record: Path


def model_files(folder: Path, *, name: str | None = None) -> ModelFiles:
    """The Keras model and preprocessing record of the classlens model in `folder`, or
    `InputError` naming `name` (default: the folder), what was found and what is accepted."""
    name = name or str(folder)
    conf = _pyfunc_flavour(folder, name)
    if "python_model" in conf:
        _refuse(name, f"its python_function model is a pickled Python object "
                      f"({_shown(conf['python_model'])})")
    loader = conf.get("loader_module")
    if loader != CODE_LOADER:
        _refuse(name, f"its python_function loader is {_shown(loader)}, not MLflow's "
                      f"models-from-code loader {CODE_LOADER!r}")
    code = conf.get("model_code_path")
    code_name = PurePosixPath(code.replace("\\", "/")).name if isinstance(code, str) else None
    if code_name != MODEL_CODE_NAME:
        _refuse(name, f"its model code is {_shown(code_name or code)}, not classlens' "
                      f"{MODEL_CODE_NAME!r}")
    artifacts = conf.get("artifacts")
    if not isinstance(artifacts, dict):
        _refuse(name, "its python_function flavour lists no artifacts")
    files = ModelFiles(keras=_artifact(folder, name, artifacts, KERAS_ARTIFACT),
                       record=_artifact(folder, name, artifacts, RECORD_ARTIFACT))
    if files.keras.suffix != ".keras":
        _refuse(name, f"artifact {KERAS_ARTIFACT!r} is {files.keras.name!r}, not a .keras file")
    return files


def _pyfunc_flavour(folder: Path, name: str) -> dict:
    """MLmodel's `flavors.python_function` section, read as YAML data only."""
    import yaml

    mlmodel = folder / "MLmodel"
    try:
        with open(mlmodel, "rb") as fh:
            raw = fh.read(MAX_MLMODEL_BYTES + 1)
    except OSError as err:
        raise InputError(f"{name}: cannot read its MLmodel file ({err.strerror}); give an MLflow "
                         "model folder") from None
    if len(raw) > MAX_MLMODEL_BYTES:
        _refuse(name, f"its MLmodel file is over {MAX_MLMODEL_BYTES} bytes")
    try:
        parsed = yaml.safe_load(raw)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or type(err).__name__
        raise InputError(f"{name}: its MLmodel file is not valid YAML ({problem}{where}); "
                         "MLflow writes it when it logs a model: download or log the model "
                         "again") from None
    flavors = parsed.get("flavors") if isinstance(parsed, dict) else None
    if not isinstance(flavors, dict):
        _refuse(name, f"its MLmodel file has no 'flavors' mapping (received "
                      f"{type(parsed).__name__})")
    conf = flavors.get("python_function")
    if not isinstance(conf, dict):
        _refuse(name, f"its MLmodel flavours {sorted(map(str, flavors))} have no python_function")
    return conf


def _artifact(folder: Path, name: str, artifacts: dict, key: str) -> Path:
    """The artifact's file, which must lie inside the folder's artifacts/ (no `..`, no absolute
    path, no link out of it)."""
    entry = artifacts.get(key)
    relative = entry.get("path") if isinstance(entry, dict) else None
    if not isinstance(relative, str) or not relative:
        _refuse(name, f"its python_function flavour has no artifact {key!r}")
    inside = folder.resolve() / ARTIFACTS_DIR  # artifacts/ itself a link out: refused too
    path = (folder / relative).resolve()
    if not path.is_relative_to(inside) or not path.is_file():
        _refuse(name, f"artifact {key!r} ({_shown(relative)}) is not a file under "
                      f"{ARTIFACTS_DIR}/")
    return path


def _shown(value) -> str:
    """A value from MLmodel in a message: a string cut to 80 characters, else only its type
    (YAML aliases can make a 1 KB file a structure whose repr never ends)."""
    if isinstance(value, str):
        return repr(value if len(value) <= 80 else value[:77] + "...")
    return "None" if value is None else f"a {type(value).__name__}"


def _refuse(name: str, reason: str) -> NoReturn:
    raise InputError(f"{name}: not a classlens image model ({reason}); {ACCEPTED}; give the "
                     "model the train stage logged (its folder, run id or URI) or "
                     "models/model.keras")
