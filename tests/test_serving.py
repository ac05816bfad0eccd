"""Using the trained model: `classlens predict` / the Python API on new image files, the MLflow
pyfunc model behind a real `mlflow models serve`, the preprocessing record, and the model card."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from classlens import paths
from classlens.errors import InputError
from classlens.serving.preprocessing import PreprocessingRecord, encode_png, load_image
from tests.conftest import run
from tests.helpers import classlens_lines, free_port

CORRUPT = "zz_corrupt.png"


@pytest.fixture(scope="module")
def test_pngs(trained_project, tmp_path_factory) -> Path:
    """The test split written out as PNG files (named by position, in nested folders) plus one
    corrupt file, as a user's folder of new images would look."""
    folder = tmp_path_factory.mktemp("new_images")
    images = np.load(trained_project / paths.split_images("test"))
    for position, image in enumerate(images):
        sub = folder / f"part{position % 3}"
        sub.mkdir(exist_ok=True)
        (sub / f"{position:04d}.png").write_bytes(encode_png(image))
    (folder / CORRUPT).write_bytes(b"\x89PNG\r\n\x1a\n this is not really a PNG")
    (folder / "notes.txt").write_text("not an image extension: skipped in folders")
    return folder


def _stage_labels(project: Path) -> pd.Series:
    table = pd.read_csv(project / paths.PREDICTIONS, dtype={"pred_label": str})
    return table.set_index("position")["pred_label"]


def _position(name: str) -> int:
    return int(Path(name).stem)


def test_python_api_on_a_folder_matches_the_predict_stage(trained_project, test_pngs):
    from classlens.serving import load_predictor
    from classlens.serving.inputs import expand_inputs

    files, problems = expand_inputs([str(test_pngs)])
    assert problems == [] and len(files) == 361  # 360 PNGs + the corrupt one; notes.txt skipped
    predictor = load_predictor(trained_project / paths.MODEL)
    results = predictor.predict(files, top_k=3, batch_size=50)
    assert [r["image"] for r in results] == [str(f) for f in files]  # input order kept
    errors = [r for r in results if "error" in r]
    assert len(errors) == 1 and errors[0]["image"].endswith(CORRUPT)
    assert "unreadable" in errors[0]["error"] or "not an image" in errors[0]["error"]
    expected = _stage_labels(trained_project)
    got = {_position(r["image"]): r["label"] for r in results if "error" not in r}
    assert got == expected.to_dict()
    for r in results[:5]:
        assert len(r["top_k"]) == 3 and r["top_k"][0]["label"] == r["label"]
        assert r["top_k"][0]["probability"] >= r["top_k"][1]["probability"]
    json.dumps(results)  # plain, JSON-ready values


def test_cli_predict_prints_json_lines_and_fails_only_the_corrupt_file(trained_project,
                                                                     test_pngs):
    proc = run(["classlens", "predict", str(trained_project / paths.MODEL), str(test_pngs),
                "--format", "json", "-k", "2"], cwd=trained_project, check=False)
    assert proc.returncode == 1, proc.stderr  # one input failed
    ours = classlens_lines(proc.stderr, "classlens predict")
    assert len(ours) == 2 and CORRUPT in ours[0] and "1 of 361" in ours[1], proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == 360
    assert {_position(r["image"]): r["label"] for r in rows} == \
        _stage_labels(trained_project).to_dict()
    assert all(len(r["top_k"]) == 2 for r in rows)


def test_cli_predict_by_run_id_and_table(trained_project, test_pngs):
    ref = json.loads((trained_project / paths.RUN_REF).read_text())
    files = [str(test_pngs / "part0" / "0000.png"), str(test_pngs / "part1" / "0001.png")]
    proc = run(["classlens", "predict", ref["run_id"], *files], cwd=trained_project)
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:3] == ["image", "label", "prob"] and len(lines) == 3
    expected = _stage_labels(trained_project)
    assert [line.split()[1] for line in lines[1:]] == [expected[0], expected[1]]


def test_cli_predict_by_registered_model_uri(trained_copy, test_pngs):
    # a copy of the project, so registering a model leaves the shared store as it was
    project = trained_copy
    ref = json.loads((project / paths.RUN_REF).read_text())
    store = f"sqlite:///{project / 'mlflow.db'}"
    # MLflow's registry looks a `models:/m-...` source up through the global store (its TODO),
    # whatever store this client was given: point both at the copy
    mlflow.set_tracking_uri(store)
    client = mlflow.MlflowClient(tracking_uri=store)
    uri = client.get_run(ref["run_id"]).data.tags["classlens.model_uri"]
    client.create_registered_model("digits-cnn")
    version = client.create_model_version("digits-cnn", uri, run_id=ref["run_id"])
    files = [str(test_pngs / "part0" / "0000.png"), str(test_pngs / "part1" / "0001.png")]
    proc = run(["classlens", "predict", f"models:/digits-cnn/{version.version}", *files,
                "--format", "json"], cwd=project)
    expected = _stage_labels(project)
    assert [json.loads(line)["label"] for line in proc.stdout.splitlines()] == [
        expected[0], expected[1]]


def test_progress_bar_counts_every_image(trained_project, test_pngs, capsys):
    from classlens.serving import load_predictor

    files = sorted((test_pngs / "part0").glob("*.png"))[:30]
    load_predictor(trained_project / paths.MODEL).predict(files, batch_size=8, progress=True)
    bar = capsys.readouterr().err
    assert "30/30" in bar and "image" in bar  # tqdm's last line: every image, in 4 batches
    load_predictor(trained_project / paths.MODEL).predict(files, batch_size=8, progress=False)
    assert capsys.readouterr().err == ""


def test_cli_predict_bad_model_is_one_line(trained_project, test_pngs, tmp_path):
    proc = run(["classlens", "predict", str(tmp_path / "nope.keras"), str(test_pngs)],
               cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "nope.keras: not found" in proc.stderr
    proc = run(["classlens", "predict", str(trained_project / paths.MODEL),
                str(tmp_path / "*.png")], cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "pattern matches no files" in proc.stderr


# ---------------------------------------------------------------- preprocessing record


def test_preprocessing_record_is_written_and_logged_with_the_model(trained_project):
    record = PreprocessingRecord.read(trained_project / paths.PREPROCESSING)
    fingerprint = json.loads((trained_project / paths.FINGERPRINT).read_text())
    assert list(record.input_shape) == fingerprint["image_shape"]
    assert record.class_names == json.loads((trained_project / paths.CLASSES).read_text())
    assert record.dtype == "uint8" and record.color_mode == "grayscale"


def test_other_sizes_and_colour_modes_are_converted(trained_project, tmp_path):
    from PIL import Image

    record = PreprocessingRecord.read(trained_project / paths.PREPROCESSING)
    rgb = np.zeros((32, 48, 3), dtype=np.uint8)
    rgb[:, 24:] = 255
    path = tmp_path / "big.jpg"
    Image.fromarray(rgb).save(path)
    out = load_image(path, record)
    assert out.shape == (8, 8, 1) and out.dtype == np.uint8
    assert out[:, :3].max() < 40 and out[:, 5:].min() > 215  # left dark, right bright
    same = np.load(trained_project / paths.split_images("test"))[7]
    np.testing.assert_array_equal(load_image(encode_png(same), record), same)
    with pytest.raises(InputError, match="big.txt: not an image"):
        (tmp_path / "big.txt").write_text("hello")
        load_image(tmp_path / "big.txt", record)
    with pytest.raises(InputError, match="channels must be one of"):
        PreprocessingRecord(height=8, width=8, channels=2, class_names=["a"])
    with pytest.raises(InputError, match="resize must be one of"):
        PreprocessingRecord(height=8, width=8, channels=1, class_names=["a"], resize="squash")


def test_a_record_of_the_first_format_still_loads():
    """Models trained before the record named its resize mode keep working."""
    old = {"format": "classlens.preprocessing/1", "height": 8, "width": 6, "channels": 3,
           "class_names": ["a", "b"], "interpolation": "bicubic", "antialias": False,
           "crop_to_aspect_ratio": False, "pad_to_aspect_ratio": True, "exif_transpose": True}
    record = PreprocessingRecord.from_json(old)
    assert (record.resize, record.interpolation, record.input_shape) == ("pad", "bicubic",
                                                                          (8, 6, 3))
    assert record.to_json()["format"] == "classlens.preprocessing/2"


def _png_header(width: int, height: int) -> bytes:
    """A PNG that only claims its size (no pixel data): Pillow reads the size, then fails."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_predicting_applies_the_records_pixel_limit(trained_project):
    """`data.max_image_pixels`, carried in the record, is the limit when predicting, not
    Pillow's: over it (1x-2x, where Pillow only warns, and beyond 2x, where it raises) is the
    per-image error quoting the configured number, and no DecompressionBombWarning escapes."""
    import dataclasses
    import warnings

    record = dataclasses.replace(PreprocessingRecord.read(trained_project / paths.PREPROCESSING),
                                 max_pixels=1000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for side in (40, 50):  # 1600 and 2500 pixels
            image = encode_png(np.zeros((side, side, 1), dtype=np.uint8))
            with pytest.raises(InputError, match=rf"row 0: over the pixel limit: .*{side * side} "
                                                 r"pixels > data\.max_image_pixels 1000$"):
                load_image(image, record, name="row 0")
        assert load_image(encode_png(np.zeros((30, 30, 1), np.uint8)), record).shape == (8, 8, 1)
        # the default limit (prepare's, 89,478,485) is quoted, never Pillow's 178,956,970
        default = dataclasses.replace(record, max_pixels=89_478_485)
        with pytest.raises(InputError, match=r"over the pixel limit: .*200000000 pixels > "
                                             r"data\.max_image_pixels 89478485$"):
            load_image(_png_header(20_000, 10_000), default)
        # a limit above Pillow's own is honoured too: the size passes, the missing data fails
        generous = dataclasses.replace(record, max_pixels=400_000_000)
        with pytest.raises(InputError, match="truncated or corrupt"):
            load_image(_png_header(20_000, 10_000), generous)
    assert not [w for w in caught if "DecompressionBomb" in type(w.message).__name__], caught


def test_a_record_without_max_pixels_uses_prepares_default():
    """Records written before they carried the limit get the one prepare used by default."""
    import yaml

    old = {"format": "classlens.preprocessing/2", "height": 8, "width": 8, "channels": 1,
           "class_names": ["a", "b"]}
    base = yaml.safe_load((paths.project_root() / "conf/data/common/base.yaml").read_text())
    assert PreprocessingRecord.from_json(old).max_pixels == base["max_image_pixels"]


def test_cli_predict_quotes_the_configured_pixel_limit(trained_project, tmp_path):
    """The record's limit reaches `classlens predict`: its per-image line quotes it, and
    Pillow's warning never reaches stderr."""
    record = json.loads((trained_project / paths.PREPROCESSING).read_text())
    (tmp_path / "preprocessing.json").write_text(json.dumps({**record, "max_pixels": 1000}))
    shutil.copy(trained_project / paths.MODEL, tmp_path / "model.keras")
    big = tmp_path / "big.png"
    big.write_bytes(encode_png(np.zeros((40, 40, 1), dtype=np.uint8)))  # 1600 pixels
    small = tmp_path / "small.png"
    small.write_bytes(encode_png(np.zeros((8, 8, 1), dtype=np.uint8)))
    proc = run(["classlens", "predict", str(tmp_path / "model.keras"), str(big), str(small)],
               cwd=tmp_path, check=False)
    assert proc.returncode == 1, proc.stderr
    ours = classlens_lines(proc.stderr, "classlens predict")
    assert ours[0].startswith(f"classlens predict: error: {big}: over the pixel limit: ")
    assert ours[0].endswith("1600 pixels > data.max_image_pixels 1000"), proc.stderr
    assert "DecompressionBomb" not in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stdout.splitlines()) == 2  # header + the small image


# ---------------------------------------------------------------- model card and preview


def test_model_card_names_every_class_and_completes_with_metrics(trained_project):
    from classlens.reporting.model_card import EVALUATION_BEGIN, complete_card, completed_card

    card = (trained_project / paths.MODEL_CARD).read_text()
    classes = json.loads((trained_project / paths.CLASSES).read_text())
    table = [line for line in card.splitlines() if line.startswith("| ")]
    for name in classes:
        assert any(line.startswith(f"| {name} | ") for line in table), name
    assert "trainable" in card and "frozen" in card and "8×8 grayscale" in card
    fingerprint = json.loads((trained_project / paths.FINGERPRINT).read_text())
    assert fingerprint["digest"] in card and "Not evaluated yet" in card

    metrics = json.loads((trained_project / paths.ALL_METRICS).read_text())
    done = completed_card(trained_project / paths.MODEL_CARD, trained_project / paths.ALL_METRICS,
                          confusion_path=trained_project / paths.CONFUSION_MATRIX)
    assert "Not evaluated yet" not in done and done.count(EVALUATION_BEGIN) == 1
    assert f"| accuracy | {metrics['accuracy']:.4f}".rstrip("0").rstrip(".") in done
    worst = min(metrics["per_class"].items(), key=lambda kv: kv[1]["f1"] or 0.0)[0]
    assert "Weakest classes" in done and f"| {worst} | " in done.split("Weakest classes")[1]
    # bootstrap intervals (when evaluate computes them) appear beside their metric
    metrics["bootstrap"] = {"level": 0.95, "intervals": {
        "accuracy": {"low": 0.25, "high": 0.5}, "macro_avg.f1": {"low": 0.125, "high": 0.375}}}
    again = complete_card(done, metrics)
    assert "95% interval" in again and "0.25 – 0.5" in again and "0.125 – 0.375" in again
    assert again.count("Weakest classes") == 1


def _use_store(project: Path, monkeypatch) -> None:
    """Point MLflow at the project's store for this test only (set_tracking_uri also exports
    MLFLOW_TRACKING_URI; monkeypatch takes it back afterwards)."""
    uri = f"sqlite:///{project / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)


def test_card_and_preview_are_logged_with_the_run(trained_project, monkeypatch):
    from PIL import Image

    preview = Image.open(trained_project / paths.AUGMENT_PREVIEW)
    assert preview.format == "PNG" and preview.size[0] > 300
    ref = json.loads((trained_project / paths.RUN_REF).read_text())
    _use_store(trained_project, monkeypatch)
    client = mlflow.MlflowClient()
    logged = {a.path for a in client.list_artifacts(ref["run_id"], "train")}
    assert {"train/model_card.md", "train/augmentation_preview.png",
            "train/preprocessing.json"} <= logged


def test_keras_model_is_logged_with_mlflows_keras_flavour(trained_project, monkeypatch):
    import keras
    import mlflow.keras

    ref = json.loads((trained_project / paths.RUN_REF).read_text())
    _use_store(trained_project, monkeypatch)
    uri = mlflow.MlflowClient().get_run(ref["run_id"]).data.tags["classlens.keras_model_uri"]
    logged = mlflow.keras.load_model(uri)
    assert isinstance(logged, keras.Model)
    inputs = mlflow.models.get_model_info(uri).signature.inputs.to_dict()[0]
    assert inputs["tensor-spec"]["dtype"] == "uint8"
    assert list(inputs["tensor-spec"]["shape"]) == [-1, 8, 8, 1]
    images = np.load(trained_project / paths.split_images("test"))[:16]
    saved = keras.models.load_model(trained_project / paths.MODEL, compile=False)
    np.testing.assert_allclose(logged.predict(images, verbose=0),
                               saved.predict(images, verbose=0), atol=1e-6)


def test_augmentation_versions_differ_from_the_original(trained_project):
    import keras

    from classlens.figures.augment import augmentation_layers, augmented_versions

    model = keras.models.load_model(trained_project / paths.MODEL, compile=False)
    layers = augmentation_layers(model)
    assert [layer.name for layer in layers] == ["aug_rotate", "aug_zoom", "aug_translate"]
    images = np.load(trained_project / paths.split_images("train"))[:3]
    versions = augmented_versions(layers, images, versions=4)
    assert versions.shape == (3, 4, 8, 8, 1) and versions.dtype == np.uint8
    assert not all(np.array_equal(versions[0, v], images[0]) for v in range(4))


# ---------------------------------------------------------------- MLflow pyfunc + real server


def test_pyfunc_model_names_classes(trained_project, test_pngs, monkeypatch):
    ref = json.loads((trained_project / paths.RUN_REF).read_text())
    _use_store(trained_project, monkeypatch)
    run_tags = mlflow.MlflowClient().get_run(ref["run_id"]).data.tags
    model = mlflow.pyfunc.load_model(run_tags["classlens.model_uri"])
    images = [(test_pngs / "part0" / "0000.png").read_bytes(),
              (test_pngs / "part1" / "0001.png").read_bytes()]
    frame = pd.DataFrame({"image": [base64.b64encode(b).decode() for b in images]})
    out = model.predict(frame, params={"top_k": 3})
    expected = _stage_labels(trained_project)
    assert [r["label"] for r in out] == [expected[0], expected[1]]
    assert all(len(r["top_k"]) == 3 for r in out)
    assert model.metadata.signature.inputs.input_names() == ["image"]


def _invoke(model, body: dict) -> tuple[int, dict]:
    """What MLflow's scoring server (`mlflow models serve`) answers to `body`, in-process:
    status and JSON body, as its /invocations route builds them."""
    from mlflow.exceptions import MlflowException
    from mlflow.pyfunc import scoring_server

    try:
        response = scoring_server.invocations(json.dumps(body), "application/json", model,
                                              model.metadata.get_input_schema())
        return response.status, json.loads(response.response)
    except MlflowException as err:  # the route turns these into the response
        return err.get_http_status_code(), json.loads(err.serialize_as_json())


def test_an_empty_request_is_a_400_in_every_format(trained_project, test_pngs, monkeypatch):
    from mlflow.exceptions import MlflowException

    from classlens.serving import load_predictor
    from classlens.serving.pyfunc import EMPTY_REQUEST, ImageClassifier

    classifier = ImageClassifier()  # the model itself, as `load_context` leaves it
    classifier.predictor = load_predictor(trained_project / paths.MODEL)
    for model_input in (pd.DataFrame({"image": []}), pd.DataFrame(), {"image": []}):
        with pytest.raises(MlflowException, match="no images in the request") as err:
            classifier.predict(None, model_input)
        assert err.value.get_http_status_code() == 400

    ref = json.loads((trained_project / paths.RUN_REF).read_text())
    _use_store(trained_project, monkeypatch)
    model = mlflow.pyfunc.load_model(
        mlflow.MlflowClient().get_run(ref["run_id"]).data.tags["classlens.model_uri"])
    for body in ({"dataframe_records": []}, {"dataframe_split": {"columns": ["image"], "data": []}},
                 {"inputs": {"image": []}}, {"inputs": []}, {"instances": []}):
        status, answer = _invoke(model, body)
        assert status == 400 and answer["message"].endswith(EMPTY_REQUEST), (body, answer)
    image = base64.b64encode((test_pngs / "part0" / "0000.png").read_bytes()).decode()
    status, answer = _invoke(model, {"inputs": {"image": [image]}})
    assert status == 200 and len(answer["predictions"]) == 1
    # the README's example of a bad row
    text = base64.b64encode(b"text").decode()
    status, answer = _invoke(model, {"dataframe_records": [{"image": image}, {"image": text}]})
    assert status == 400 and answer["error_code"] == "BAD_REQUEST"
    assert answer["message"].endswith("\nError: row 1: not an image Pillow can read"), answer


def _post(port: int, body: bytes | dict, timeout: float = 60) -> tuple[int, str]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=data,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_mlflow_models_serve_answers_like_classlens_predict(trained_project, test_pngs):
    ref = json.loads((trained_project / paths.RUN_REF).read_text())
    files = [test_pngs / "part0" / "0000.png", test_pngs / "part1" / "0004.png"]
    port = free_port()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "MLFLOW_TRACKING_URI": f"sqlite:///{trained_project / 'mlflow.db'}",
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    log = (test_pngs.parent / "serve.log").open("w")
    server = subprocess.Popen(
        ["mlflow", "models", "serve", "-m", f"runs:/{ref['run_id']}/model", "--env-manager",
         "local", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # classlens predict on the same files while the server starts
        cli = run(["classlens", "predict", str(trained_project / paths.MODEL),
                   *map(str, files), "--format", "json"], cwd=trained_project)
        expected = [json.loads(line)["label"] for line in cli.stdout.splitlines()]
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, (test_pngs.parent / "serve.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "server did not start within 180 s"
            time.sleep(0.5)

        records = [{"image": base64.b64encode(f.read_bytes()).decode()} for f in files]
        status, body = _post(port, {"dataframe_records": records, "params": {"top_k": 3}})
        assert status == 200, body
        predictions = json.loads(body)["predictions"]
        assert [p["label"] for p in predictions] == expected
        assert all(len(p["top_k"]) == 3 for p in predictions)
        names = set(json.loads((trained_project / paths.CLASSES).read_text()))
        assert {r["label"] for p in predictions for r in p["top_k"]} <= names

        for bad, needle in (
            ({"dataframe_records": [{"image": "!!not base64!!"}]}, "row 0"),
            ({"dataframe_records": [records[0], {"image": base64.b64encode(b"text").decode()}]},
             "row 1"),
            ({"dataframe_records": [{"picture": records[0]["image"]}]}, "image"),
            (b"{not json", "JSON"),
        ):
            status, body = _post(port, bad)
            assert 400 <= status < 500, (status, body)
            message = json.loads(body)["message"]
            assert needle in message and "Traceback" not in body, message
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=20)
        log.close()
