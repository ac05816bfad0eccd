"""The evaluate -> analyze -> report outputs on the shrunk project (files, metrics.json format,
MLflow run), the HTML builder, and the report opened in headless Chromium."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from classlens import paths
from classlens.reporting.html import SECTIONS, Figure, ReportContent, Table, render
from tests.conftest import run
from tests.helpers import modules_loaded, stages_code, tensorflow_modules

PNG = b"\x89PNG"


def _json(project: Path, rel: Path) -> dict:
    return json.loads((project / rel).read_text())


def _no_nan(node) -> None:
    if isinstance(node, dict):
        for value in node.values():
            _no_nan(value)
    elif isinstance(node, list):
        for value in node:
            _no_nan(value)
    elif isinstance(node, float):
        assert math.isfinite(node)


def test_metrics_json_has_every_number_and_the_bootstrap_format(trained_project):
    metrics = _json(trained_project, paths.METRICS)
    for key in ("accuracy", "balanced_accuracy", "top_3_accuracy", "macro_avg", "weighted_avg",
                "micro_avg", "log_loss", "cohen_kappa", "roc_auc_ovr_macro", "per_class",
                "undefined", "bootstrap", "calibration"):
        assert key in metrics, key
    assert set(metrics["per_class"]["7"]) == {"precision", "recall", "f1", "support", "roc_auc",
                                              "average_precision"}
    boot = metrics["bootstrap"]
    assert (boot["level"], boot["resamples"], boot["seed"]) == (0.95, 1000, 0)
    assert set(boot["intervals"]) == {"accuracy", "macro_avg.f1",
                                      *(f"per_class.{c}.f1" for c in map(str, range(10)))}
    for path, interval in boot["intervals"].items():
        node = metrics
        for part in path.split(".") if not path.startswith("per_class.") else [
                "per_class", path.split(".")[1], "f1"]:
            node = node[part]
        if interval["low"] is not None:
            assert interval["low"] <= node + 1e-12 and node <= interval["high"] + 1e-12, path
    cal = metrics["calibration"]
    assert cal["n_bins"] == 15 and {"ece", "mce", "adaptive_ece", "nll"} <= set(cal)
    assert cal["temperature"]["accuracy"] == metrics["accuracy"]
    assert cal["temperature"]["n_validation"] == 270
    _no_nan(metrics)


def test_evaluate_writes_curves_figures_and_calibration(trained_project):
    for png in (paths.CONFUSION_COUNTS_PNG, paths.CONFUSION_NORMALIZED_PNG,
                paths.CONFUSION_COLUMN_NORMALIZED_PNG, paths.RELIABILITY_PNG, paths.ROC_PNG,
                paths.PR_PNG, paths.PER_CLASS_F1_PNG):
        assert (trained_project / png).read_bytes()[:4] == PNG, png
    roc = sorted(p.name for p in (trained_project / paths.ROC_DIR).iterdir())
    assert roc == [f"{i}.csv" for i in range(10)]
    curve = pd.read_csv(trained_project / paths.ROC_DIR / "3.csv")
    assert list(curve.columns) == ["fpr", "tpr", "threshold"] and len(curve) <= 200
    assert list(pd.read_csv(trained_project / paths.PR_DIR / "3.csv").columns) == [
        "recall", "precision", "threshold"]
    bins = _json(trained_project, paths.CALIBRATION_BINS)
    assert sum(bins["before"]["counts"]) == 360 and len(bins["before"]["edges"]) == 16
    matrix = _json(trained_project, paths.CONFUSION_MATRIX)
    assert {"counts", "row_normalized", "column_normalized", "order"} <= set(matrix)
    per_class = pd.read_csv(trained_project / paths.PER_CLASS)
    assert {"f1_low", "f1_high", "roc_auc", "average_precision"} <= set(per_class.columns)


def test_analyze_writes_lists_pairs_suspects_and_galleries(trained_project):
    table = pd.read_csv(trained_project / paths.PREDICTIONS)
    assert {"margin", "entropy", "loss"} <= set(table.columns)
    summary = _json(trained_project, paths.ANALYSIS_SUMMARY)
    assert summary["n_correct"] + summary["n_misclassified"] == 360
    low = pd.read_csv(trained_project / paths.LOW_CONFIDENCE)
    assert len(low) == summary["n_low_confidence"] and (low["confidence"] < 0.5).all()
    sym = pd.read_csv(trained_project / paths.CONFUSED_PAIRS_SYMMETRIC)
    assert sym["count"].sum() == summary["n_misclassified"]
    suspects = pd.read_csv(trained_project / paths.LABEL_SUSPECTS)
    assert len(suspects) == summary["n_label_suspects"]
    assert {"id", "path", "suggested_label", "self_confidence", "rank"} <= set(suspects.columns)
    weak = pd.read_csv(trained_project / paths.WEAK_CLASSES, dtype={"class": str})
    assert weak["class"].tolist() == summary["weak_classes"]
    keys = [g["key"] for g in summary["galleries"]]
    assert keys[:2] == ["most_confident_errors", "least_confident_correct"]
    assert sum(k.startswith("class_") for k in keys) == 10 and keys[-1] == "label_suspects"
    for gallery in summary["galleries"]:
        assert (trained_project / gallery["file"]).read_bytes()[:4] == PNG, gallery["key"]
    index = pd.read_csv(trained_project / paths.GALLERY_INDEX)
    assert set(index["gallery"]) <= set(keys) and {"id", "path", "confidence"} <= set(
        index.columns)


def test_mlflow_holds_per_class_metrics_tables_images_and_the_report(trained_project):
    ref = _json(trained_project, paths.RUN_REF)
    mlflow.set_tracking_uri(f"sqlite:///{trained_project / 'mlflow.db'}")
    client = mlflow.MlflowClient()
    metrics = client.get_run(ref["run_id"]).data.metrics
    written = _json(trained_project, paths.METRICS)
    for name, values in written["per_class"].items():
        for metric, value in values.items():  # undefined (null) numbers are not logged
            assert (f"{metric}.{name}" in metrics) == (value is not None), f"{metric}.{name}"
            if value is not None:
                assert metrics[f"{metric}.{name}"] == pytest.approx(value)
        assert f"f1_ci_low.{name}" in metrics and f"f1_ci_high.{name}" in metrics
    for key in ("balanced_accuracy", "f1_micro", "log_loss", "cohen_kappa", "roc_auc_ovr_macro",
                "accuracy_ci_low", "f1_macro_ci_high", "ece", "mce", "adaptive_ece",
                "temperature", "ece_temperature_scaled", "n_label_suspects", "n_weak_classes"):
        assert key in metrics, key
    listed = {a.path for folder in ("evaluate", "analyze", "report")
              for a in client.list_artifacts(ref["run_id"], folder)}
    for name in ("evaluate/per_class.json", "evaluate/roc", "evaluate/reliability.png",
                 "analyze/galleries.json", "analyze/weak_classes.json", "analyze/galleries",
                 "report/report.html", "report/model_card.md"):
        assert name in listed, name
    table = json.loads(Path(client.download_artifacts(ref["run_id"], "analyze/galleries.json"))
                       .read_text())
    images = [row[table["columns"].index("image")] for row in table["data"]]
    assert images and all(cell["type"] == "image" for cell in images)
    stored = client.list_artifacts(ref["run_id"], "table_images/analyze/galleries")
    assert len(stored) == 2 * len(images)  # PNG + compressed WebP each; a rerun must not add


def test_rerun_replaces_table_images_report_tolerates_no_explanations_and_no_tensorflow(
        trained_copy):
    # one subprocess for three checks (stage start-up dominates): re-running analyze replaces
    # its MLflow table images instead of adding to them; the report copes without data/explain;
    # neither stage imports TensorFlow
    project = trained_copy
    ref = _json(project, paths.RUN_REF)
    before = _count_table_images(project, ref["run_id"])
    shutil.rmtree(project / paths.EXPLAIN_DIR)
    loaded, _ = modules_loaded(project, code=stages_code("analyze", "report"))
    assert "classlens.pipeline.report" in loaded  # the stages did run
    assert not tensorflow_modules(loaded)
    assert _count_table_images(project, ref["run_id"]) == before
    assert "no explanation figures" in (project / paths.REPORT).read_text()


def _count_table_images(project: Path, run_id: str) -> int:
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    return len(mlflow.MlflowClient().list_artifacts(run_id, "table_images/analyze/galleries"))


# ---------------------------------------------------------------- the HTML itself


def _content(**kw) -> ReportContent:
    rows = [{"class": "<b>cat</b>", "f1": 0.5, "precision": None},
            {"class": "dog", "f1": 0.9, "precision": 0.8}]
    return ReportContent(
        title="t", metrics={"accuracy": 0.7, "macro_avg": {"f1": 0.6}, "undefined": {
            "per_class.<b>cat</b>.precision": "class never predicted on the test split"}},
        run={"MLflow run": "abc"}, per_class=Table("Metrics per class", rows),
        analysis={"weak_classes": ["<b>cat</b>"], "weak_f1_floor": 0.8},
        figures={"explanations": [Figure("saliency.png", PNG + b"0000")]}, **kw)


def test_report_holds_the_model_card_completed_with_the_evaluated_metrics(trained_project):
    card = (trained_project / paths.REPORT_MODEL_CARD).read_text()
    metrics = _json(trained_project, paths.METRICS)
    assert "Not evaluated yet" not in card and "Weakest classes" in card
    assert f"| accuracy | {metrics['accuracy']:.4f}".rstrip("0").rstrip(".") in card
    for name in map(str, range(10)):
        assert f"| {name} | " in card, name
    section = (trained_project / paths.REPORT).read_text().split("<section id='model-card'>")[1]
    section = section.split("</section>")[0]
    assert "<table>" in section and "Weakest classes" in section
    assert "Not evaluated yet" not in section
    assert "&lt;details&gt;" not in section and "&lt;!--" not in section  # markers dropped


def test_report_shows_each_explanation_methods_trust_numbers_and_flags(trained_project):
    trust = _json(trained_project, paths.EXPLAIN_TRUST)
    section = (trained_project / paths.REPORT).read_text().split("<section id='explanations'>")[1]
    table = section.split("</section>")[0].split("Trust checks per method")[1].split("</table>")[0]
    for method, record in trust["methods"].items():
        row = table.split(f">{method}</td>")[1].split("</tr>")[0]
        assert f">{record['deletion_auc']:.4f}<" in row, method
        for flag in record["flags"]:
            assert flag.replace("'", "&#x27;") in row, (method, flag)


def test_card_and_page_name_the_interval_level_from_bootstrap_level():
    from classlens.reporting.model_card import evaluation_section

    metrics = {"n_samples": 40, "accuracy": 0.75, "macro_avg": {"f1": 0.7},
               "per_class": {"cat": {"f1": 0.6}, "dog": {"f1": 0.8}},
               "bootstrap": {"level": 0.9, "resamples": 50, "seed": 0, "intervals": {
                   "accuracy": {"low": 0.625, "high": 0.875}}}}
    section = evaluation_section(metrics)
    assert "| metric | value | 90% interval |" in section
    assert "| accuracy | 0.75 | 0.625 – 0.875 |" in section and "95%" not in section
    page = render(ReportContent(title="t", metrics=metrics, run={}, per_class=Table("p", []),
                                analysis={}))
    assert "Brackets: 90% percentile bootstrap intervals (50 resamples, seed 0)." in page
    assert "[0.6250, 0.8750]" in page


def test_render_escapes_names_and_lays_out_every_section():
    page = render(_content(model_card="# Card\n\n<script>x()</script>\n\n| a | b |\n|---|---|\n"
                                      "| <b>cat</b> | 1 |\n"))
    card = page.split("<section id='model-card'>")[1].split("</section>")[0]
    assert "<script>" not in card and "&lt;script&gt;" in card  # raw HTML is escaped
    assert "<table>" in card and "<td>&lt;b&gt;cat&lt;/b&gt;</td>" in card
    assert "<b>cat</b>" not in page and "&lt;b&gt;cat&lt;/b&gt;" in page
    for section_id, _ in SECTIONS:
        assert f"<section id='{section_id}'>" in page
    assert "class='sortable'" in page and "data:image/png;base64," in page
    assert "class='weak'" in page  # the weak class row is tinted
    assert not re.search(r"(src|href)=['\"]https?:", page)  # nothing fetched from the network


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("headless Chromium not installed (Debian: `apt-get install chromium`; "
                ".ci/run installs it)")


def _chromium_run(url: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", f"--user-data-dir={tmp_path / 'chromium-profile'}",
           "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", *extra, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_report_renders_in_headless_chromium_without_console_errors(trained_project, tmp_path):
    report = trained_project / paths.REPORT
    url = report.as_uri() + "#sort=per-class-table:f1:asc"
    proc = _chromium_run(url, tmp_path, "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console  # the page logs nothing, so any console line is an error
    dom = proc.stdout
    assert 'data-report-ready="1"' in dom  # the inline script ran to its end
    for section_id, title in SECTIONS:
        assert f'<section id="{section_id}"><h2>{title}</h2>' in dom, section_id
    assert 'data-sorted="f1:asc"' in dom  # the per-class table sorted itself from the URL
    table = dom.split('id="per-class-table"')[1].split("</table>")[0]
    header = re.findall(r"<th[^>]*>(.*?)</th>", table)
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", row)
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table.split("<tbody>")[1])]
    f1 = [row[header.index("f1")] for row in rows]
    defined = [float(v) for v in f1 if v != "\u2014"]
    assert len(rows) == 10 and defined == sorted(defined)
    assert f1[len(defined):] == ["\u2014"] * (10 - len(defined))  # undefined last
    shot = tmp_path / "report.png"
    proc = _chromium_run(report.as_uri(), tmp_path, f"--screenshot={shot}",
                         "--window-size=1280,2400", "--hide-scrollbars")
    assert proc.returncode == 0 and shot.read_bytes()[:4] == PNG
    assert shot.stat().st_size > 50_000  # a rendered page, not a blank one


def test_dvc_plots_draws_the_per_class_curves(trained_copy):
    project = trained_copy
    run(["git", "init", "-q"], cwd=project)
    run(["dvc", "init", "-q"], cwd=project)
    shown = json.loads(run(["dvc", "plots", "show", "--json"], cwd=project).stdout)
    assert not shown.get("errors"), shown.get("errors")
    for kind in ("roc", "pr"):
        for name in map(str, range(10)):
            values = shown["data"][f"data/eval/{kind}/{name}.csv"][0]["content"]["data"]["values"]
            assert len(values) >= 2, (kind, name)
    assert shown["data"]["Confusion matrix (test)"]
