"""A model folder is read as data, never run: `classlens predict`, `load_predictor` and `runs:/`
URIs build the predictor from the `.keras` file and preprocessing record of a folder identified
as a classlens model from its `MLmodel` YAML alone. A pickled pyfunc, a replaced code file or a
Lambda layer never executes (the marker file its payload would write never appears); anything
that is not a classlens model is one line and exit 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from classlens import paths
from classlens.errors import ClassLensError, InputError
from classlens.serving import load_predictor
from classlens.serving.preprocessing import encode_png
from tests.conftest import run
from tests.helpers import one_line_error


class Payload:
    """Unpickling this writes `marker`: what a malicious `python_model.pkl` carries."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').write('pickle payload ran')",)


def _pickled_pyfunc(folder: Path, marker: Path) -> Path:
    """A folder laid out as MLflow saves a pickled PythonModel (`mlflow.pyfunc.save_model`
    with `python_model=<object>`), the object being `Payload`."""
    import pickle

    folder.mkdir(parents=True)
    (folder / "python_model.pkl").write_bytes(pickle.dumps(Payload(marker)))
    (folder / "MLmodel").write_text(yaml.safe_dump({
        "flavors": {"python_function": {
            "cloudpickle_version": "3.1.2", "env": {"conda": "conda.yaml",
                                                    "virtualenv": "python_env.yaml"},
            "loader_module": "mlflow.pyfunc.model", "python_model": "python_model.pkl",
            "python_version": "3.11.7", "streamable": False}},
        "mlflow_version": mlflow.__version__, "model_uuid": "0" * 32}))
    (folder / "requirements.txt").write_text("mlflow\n")
    return folder


@pytest.fixture(scope="module")
def logged_folder(trained_project, tmp_path_factory) -> Path:
    """A copy of the image model the train stage logged, as a plain folder."""
    from urllib.parse import urlparse

    ref = json.loads((trained_project / paths.RUN_REF).read_text())
    client = mlflow.MlflowClient(f"sqlite:///{trained_project / 'mlflow.db'}")
    uri = client.get_run(ref["run_id"]).data.tags["classlens.model_uri"]  # models:/<model id>
    location = client.get_logged_model(uri.rsplit("/", 1)[-1]).artifact_location
    return Path(shutil.copytree(urlparse(location).path,
                                tmp_path_factory.mktemp("logged") / "model"))


@pytest.fixture(scope="module")
def two_pngs(trained_project, tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("pngs")
    images = np.load(trained_project / paths.split_images("test"))[:2]
    files = [folder / f"{i}.png" for i in range(2)]
    for file, image in zip(files, images):
        file.write_bytes(encode_png(image))
    return files


def _stage_labels(project: Path, n: int) -> list[str]:
    table = pd.read_csv(project / paths.PREDICTIONS, dtype={"pred_label": str})
    return table.set_index("position")["pred_label"].tolist()[:n]


def test_the_pickle_payload_is_real(tmp_path):
    """Control: the folder below is dangerous, MLflow's own loader runs its payload."""
    marker = tmp_path / "ran"
    folder = _pickled_pyfunc(tmp_path / "model", marker)
    with pytest.raises(Exception):  # exec returns None, which MLflow then fails to use
        mlflow.pyfunc.load_model(str(folder))
    assert marker.is_file()


def test_a_pickled_pyfunc_is_refused_unrun(tmp_path, two_pngs):
    marker = tmp_path / "ran"
    folder = _pickled_pyfunc(tmp_path / "model", marker)
    with pytest.raises(InputError, match="pickled Python object") as err:
        load_predictor(folder)
    assert "\n" not in str(err.value) and str(folder) in str(err.value)
    proc = run(["classlens", "predict", str(folder), str(two_pngs[0])], cwd=tmp_path,
               check=False)
    one_line_error(proc, str(folder), "not a classlens image model", "never unpickles")
    assert not marker.exists()


def test_a_runs_uri_of_a_pickled_pyfunc_is_refused_unrun(tmp_path, two_pngs):
    """The same folder logged as a run's artifacts, in a store of its own: fetched by URI or
    run id, then refused like the local folder."""
    marker = tmp_path / "ran"
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(store)
    experiment = client.create_experiment("untrusted",
                                          artifact_location=(tmp_path / "art").as_uri())
    run_id = client.create_run(experiment).info.run_id
    client.log_artifacts(run_id, str(_pickled_pyfunc(tmp_path / "model", marker)), "model")
    client.set_terminated(run_id)
    for reference in (f"runs:/{run_id}/model", run_id):
        with pytest.raises(InputError, match="not a classlens image model"):
            load_predictor(reference, tracking_uri=store)
    proc = run(["classlens", "predict", f"runs:/{run_id}/model", str(two_pngs[0]),
                "--tracking-uri", store], cwd=tmp_path, check=False)
    one_line_error(proc, f"runs:/{run_id}/model", "pickled Python object")
    assert not marker.exists()


def test_a_replaced_code_file_is_never_run(logged_folder, trained_project, two_pngs, tmp_path):
    """A classlens model whose copied `mlflow_model.py` was swapped: classlens reads the
    artifacts and never the code, so it still predicts and the payload stays unrun."""
    marker = tmp_path / "ran"
    folder = shutil.copytree(logged_folder, tmp_path / "model")
    (folder / "mlflow_model.py").write_text(
        f"open({str(marker)!r}, 'w').write('code payload ran')\n")
    predictor = load_predictor(folder)
    assert [r["label"] for r in predictor.predict(two_pngs)] == _stage_labels(trained_project, 2)
    proc = run(["classlens", "predict", str(folder), *map(str, two_pngs), "--format", "json"],
               cwd=tmp_path)
    assert [json.loads(line)["label"] for line in proc.stdout.splitlines()] == \
        _stage_labels(trained_project, 2)
    assert not marker.exists()
    # without its artifacts it is not a classlens model: refused, the code still unrun
    shutil.rmtree(folder / "artifacts")
    with pytest.raises(InputError, match="no artifact|not a file under artifacts/"):
        load_predictor(folder)
    assert not marker.exists()


@pytest.mark.parametrize("edit, needle", [
    (lambda m: m["flavors"].pop("python_function"), "have no python_function"),
    (lambda m: m["flavors"]["python_function"].update(model_code_path="/x/evil.py"),
     "'evil.py', not classlens' 'mlflow_model.py'"),
    (lambda m: m["flavors"]["python_function"]["artifacts"]["keras_model"].update(
        path="../../model.keras"), "not a file under artifacts/"),
    (lambda m: m["flavors"]["python_function"]["artifacts"].pop("preprocessing"),
     "no artifact 'preprocessing'"),
])
def test_other_layouts_are_refused_in_one_line(logged_folder, tmp_path, edit, needle):
    folder = shutil.copytree(logged_folder, tmp_path / "model")
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    edit(mlmodel)
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    with pytest.raises(InputError, match="not a classlens image model") as err:
        load_predictor(folder)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_a_corrupt_mlmodel_is_one_line(tmp_path, two_pngs):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors:\n  python_function: [unclosed\n  loader: :\n")
    proc = run(["classlens", "predict", str(folder), str(two_pngs[0])], cwd=tmp_path,
               check=False)
    one_line_error(proc, str(folder), "MLmodel file is not valid YAML", "line ")
    (folder / "MLmodel").write_text("- just\n- a list\n")
    with pytest.raises(InputError, match="no 'flavors' mapping"):
        load_predictor(folder)


def _lambda_model(marker: Path):
    """A model with a Lambda layer whose Python lambda writes `marker` when it runs (Keras
    stores a lambda's bytecode in the file, and runs it when it rebuilds the model from it)."""
    import keras

    # built from source so the path is a constant of the lambda's own bytecode
    touch = eval(f"lambda x: (open({str(marker)!r}, 'w').write('lambda ran'), x)[1]")
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Lambda(touch)(keras.layers.Rescaling(1 / 255)(inputs))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(x))
    return keras.Model(inputs, outputs)


def test_a_lambda_layer_is_refused_unrun(trained_project, tmp_path):
    import keras

    from classlens.models.provided import load_provided

    marker = tmp_path / "ran"
    path = tmp_path / "model.keras"
    _lambda_model(marker).save(path)
    marker.unlink()  # building it ran the function once, here in the test
    keras.saving.load_model(path, safe_mode=False)  # control: unsafe loading runs the file's code
    assert marker.is_file()
    marker.unlink()

    shutil.copy(trained_project / paths.PREPROCESSING, tmp_path / "preprocessing.json")
    with pytest.raises(InputError, match="holds a Lambda layer") as err:
        load_predictor(path)
    assert "\n" not in str(err.value)
    images = np.load(trained_project / paths.split_images("test"))[:4]
    with pytest.raises(ClassLensError, match="Lambda"):
        load_provided(str(path), input_shape=(8, 8, 1), num_classes=10, input_scaling="unit",
                      output="auto", sample=images)
    assert not marker.exists()


def test_an_mlmodel_of_nested_aliases_is_refused_quickly(tmp_path):
    """A 'billion laughs' MLmodel: YAML aliases make a tiny file a structure whose repr never
    ends; the refusal names only its type."""
    from classlens.errors import InputError
    from classlens.serving.model_folder import model_files

    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    lines += ["flavors:", "  python_function:", "    python_model: *a8"]
    (tmp_path / "MLmodel").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="pickled Python object .a list.") as err:
        model_files(tmp_path)
    assert len(str(err.value)) < 1000
