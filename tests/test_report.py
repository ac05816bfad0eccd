"""The evaluate -> analyze -> report outputs on the shrunk project (files, all_metrics.json
format, MLflow run), the report's sections from the real stage outputs, the HTML builder, and
the report opened in headless Chromium (layout: nothing overflows, no image is squashed)."""

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
from classlens.formatting import plural
from classlens.reporting.html import Figure, Table
from classlens.reporting.report_page import (
    SECTIONS,
    ClassGalleries,
    ReportContent,
    render,
)
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


def test_all_metrics_json_has_every_number_and_the_bootstrap_format(trained_project):
    metrics = _json(trained_project, paths.ALL_METRICS)
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
    # every class both ways: missed (true is the class), false alarms (predicted as it)
    assert sum(k.startswith("class_") for k in keys) == 20 and keys[-1] == "label_suspects"
    for gallery in summary["galleries"]:
        if gallery["file"]:  # an empty gallery draws no figure
            assert (trained_project / gallery["file"]).read_bytes()[:4] == PNG, gallery["key"]
        else:
            assert gallery["images"] == 0, gallery["key"]
    index = pd.read_csv(trained_project / paths.GALLERY_INDEX)
    assert set(index["gallery"]) <= set(keys) and {"id", "path", "confidence"} <= set(
        index.columns)


def test_mlflow_holds_per_class_metrics_tables_images_and_the_report(trained_project):
    ref = _json(trained_project, paths.RUN_REF)
    mlflow.set_tracking_uri(f"sqlite:///{trained_project / 'mlflow.db'}")
    client = mlflow.MlflowClient()
    metrics = client.get_run(ref["run_id"]).data.metrics
    written = _json(trained_project, paths.ALL_METRICS)
    for name, values in written["per_class"].items():
        for metric, value in values.items():  # undefined (null) numbers are not logged
            key = f"test/{metric}/{name}"
            assert (key in metrics) == (value is not None), key
            if value is not None:
                assert metrics[key] == pytest.approx(value)
        assert f"test/f1_low/{name}" in metrics and f"test/f1_high/{name}" in metrics
    for key in ("test/balanced_accuracy", "test/f1_micro", "test/log_loss", "test/cohen_kappa",
                "test/roc_auc_ovr_macro", "test/accuracy_low", "test/f1_macro_high", "test/ece",
                "test/mce", "test/adaptive_ece", "test/temperature", "test/ece_scaled",
                "n_label_suspects", "n_weak_classes"):
        assert key in metrics, key
    assert metrics["test/accuracy"] == pytest.approx(written["accuracy"])
    listed = {a.path for folder in ("evaluate", "evaluate/figures", "analyze", "report")
              for a in client.list_artifacts(ref["run_id"], folder)}
    for name in ("evaluate/all_metrics.json", "evaluate/per_class.json", "evaluate/roc",
                 "evaluate/figures/reliability.png",
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
    metrics = _json(trained_project, paths.ALL_METRICS)
    assert "Not evaluated yet" not in card and "Weakest classes" in card
    assert f"| accuracy | {metrics['accuracy']:.4f}".rstrip("0").rstrip(".") in card
    for name in map(str, range(10)):
        assert f"| {name} | " in card, name
    section = (trained_project / paths.REPORT).read_text().split("<section id='model-card'>")[1]
    section = section.split("</section>")[0]
    assert "<table>" in section and "Weakest classes" in section
    assert "Not evaluated yet" not in section
    assert "&lt;details&gt;" not in section and "&lt;!--" not in section  # markers dropped
    assert "<details><summary>Layers</summary>" in section  # the layer table stays folded


def test_report_shows_each_explanation_methods_trust_numbers_and_flags(trained_project):
    trust = _json(trained_project, paths.EXPLAIN_TRUST)
    section = (trained_project / paths.REPORT).read_text().split("<section id='explanations'>")[1]
    table = section.split("</section>")[0].split("Trust checks per method")[1].split("</table>")[0]
    for method, record in trust["methods"].items():
        row = table.split(f">{method}</td>")[1].split("</tr>")[0]
        assert f">{record['deletion_auc']:.4f}<" in row, method
        for flag in record["flags"]:
            assert flag.replace("'", "&#x27;") in row, (method, flag)
    # the explain stage's figures in its order, with its captions; one tab per method
    import html

    listed = json.loads((trained_project / paths.EXPLAIN_DIR / "figures.json").read_text())
    for entry in listed:
        assert html.escape(entry["caption"], quote=True) in section, entry["file"]
    tabs = re.findall(r"<label for='method-\d+'>(.*?)</label>", section)
    assert tabs == [html.escape(e["title"], quote=True) for e in listed if e["kind"] == "method"]
    assert section.count("<img") == len(listed)


def _section(page: str, section_id: str) -> str:
    return page.split(f"<section id='{section_id}'>")[1].split("</section>")[0]


def _text(html_part: str) -> str:
    """The visible text of a piece of the page (tags dropped, entities decoded)."""
    import html

    return html.unescape(re.sub(r"<[^>]+>", " ", html_part))


def test_report_title_and_headline_name_the_options_and_the_test_numbers(trained_project):
    import yaml

    page = (trained_project / paths.REPORT).read_text()
    params = yaml.safe_load((trained_project / paths.PARAMS).read_text())
    title = f"{params['model']['name']} on {params['data']['name']}"
    assert f"<title>{title}" in page and f"<h1>{title}" in page
    metrics = _json(trained_project, paths.ALL_METRICS)
    low, high = (metrics["bootstrap"]["intervals"]["accuracy"][k] for k in ("low", "high"))
    summary = _text(_section(page, "summary"))
    assert f"test accuracy {metrics['accuracy']:.4f} 95% interval {low:.4f}\u2013{high:.4f}" in (
        " ".join(summary.split()))
    assert f"test images (n) {metrics['n_samples']}" in " ".join(summary.split())
    gate = _json(trained_project, paths.GATE_JSON)
    verdict = {"unusable": "not judged"}.get(gate["verdict"], gate["verdict"])
    assert f"gate verdict {verdict}" in " ".join(summary.split())
    # the gate section: its verdict, and one row per rule (none when it could not judge)
    section = _section(page, "gate")
    assert section.count("<tr>") == len(gate["rows"]) + (1 if gate["rows"] else 0)
    assert (gate.get("reason") or "") .replace("'", "&#x27;")[:60] in section


def test_report_shows_training_curves_data_report_and_augmentation(trained_project):
    from classlens.training import summary

    page = (trained_project / paths.REPORT).read_text()
    history = pd.read_csv(trained_project / paths.HISTORY)
    best = summary.best_epoch(history)
    training = _section(page, "training")
    n = summary.epochs_run(history)
    assert f"{n} epoch{'s' if n != 1 else ''} run" in training
    assert f"best epoch {best} by validation loss" in training
    assert training.count("<img") == 1  # the curves
    data = _section(page, "data")
    counts = _json(trained_project, paths.FINGERPRINT)["counts"]
    table = data.split("Images per class and split")[1].split("</table>")[0]
    for name in counts["train"]:
        row = [c for c in re.findall(r"<td[^>]*>(.*?)</td>", table.split(f">{name}</td>")[1]
                                     .split("</tr>")[0])]
        assert row == [str(counts[s][name]) for s in paths.SPLITS] + [
            str(sum(counts[s][name] for s in paths.SPLITS))], name
    assert data.count("No files skipped.") == 1 and "Skipped files" not in data
    assert "Augmentation preview." in data and data.count("<img") == 3  # counts, samples, preview


def test_report_galleries_show_each_class_both_ways(trained_project):
    page = (trained_project / paths.REPORT).read_text()
    section = _section(page, "galleries")
    matrix = _json(trained_project, paths.CONFUSION_MATRIX)
    counts = matrix["counts"]
    summary = _json(trained_project, paths.ANALYSIS_SUMMARY)
    drawn = {(g["class"], g["kind"]) for g in summary["galleries"]
             if g["kind"] in ("missed", "false_alarms") and g["images"]}
    clean = []
    for i, name in enumerate(matrix["classes"]):
        missed = sum(counts[i]) - counts[i][i]
        alarms = sum(row[i] for row in counts) - counts[i][i]
        if not missed and not alarms:
            clean.append(name)
            continue
        line = (f"Class {name}: {missed} of {sum(counts[i])} missed \u00b7 "
                f"{plural(alarms, 'false alarm')} (precision")
        assert line in _text(section), line
        block = section.split(f"Class {name}: ")[1].split("</details>")[0]
        assert block.count("<img") == ((name, "missed") in drawn) + (
            (name, "false_alarms") in drawn), name
    if clean:
        assert f"No misses and no false alarms: class{'es' if len(clean) > 1 else ''}" in section
    assert not re.search(r"\b1 (errors|images|false alarms|classes)\b", _text(page))


def test_empty_parts_say_so_once_and_plurals_agree():
    content = _content()
    content.analysis.update(n_label_suspects=0)
    content.tables["label-suspects"] = [Table("Suspects", [])]
    content.figures["label-suspects"] = [Figure("empty", PNG + b"0000")]
    content.class_galleries = [
        ClassGalleries("7", support=36, missed=0, false_alarms=3, precision=0.92, recall=1.0,
                       false_alarm_figure=Figure("fa", PNG + b"0000")),
        ClassGalleries("1", support=36, missed=1, false_alarms=1, precision=0.97, recall=0.97),
        ClassGalleries("2", support=35, missed=0, false_alarms=0, precision=1.0, recall=1.0)]
    page = render(content)
    suspects = _section(page, "label-suspects")
    assert "No label suspects." in suspects and "<img" not in suspects and "<table" not in suspects
    galleries = _text(_section(page, "galleries"))
    assert "Class 7: 0 of 36 missed \u00b7 3 false alarms (precision 0.9200" in galleries
    assert "Class 1: 1 of 36 missed \u00b7 1 false alarm (precision" in galleries
    assert galleries.count("none missed") == 1 and "No misses and no false alarms: class 2." in (
        galleries)
    assert "1 missed (no gallery drawn)" in galleries  # counted, but the stage drew none
    assert [plural(n, "error") for n in (0, 1, 2)] == ["0 errors", "1 error", "2 errors"]


def test_headline_says_when_temperature_scaling_made_calibration_worse():
    def page(after: float) -> str:
        metrics = {"accuracy": 0.9, "macro_avg": {"f1": 0.9}, "per_class": {},
                   "calibration": {"n_bins": 15, "ece": 0.0100, "temperature": {
                       "value": 1.3, "ece": after}}}
        return render(ReportContent(title="t", metrics=metrics, run={},
                                    per_class=Table("p", []), analysis={}))

    worse = _text(_section(page(0.0127), "summary"))
    assert "did not improve calibration on the test split" in worse
    assert "ECE (15 bins, as predicted) 0.0100 after temperature scaling: 0.0127" in (
        " ".join(worse.split()))  # the headline ECE is the unscaled one
    assert "did not improve" not in page(0.0050)


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
    assert "Intervals: 90% percentile bootstrap (50 resamples of the test split, seed 0)." in page
    assert "90% interval 0.6250\u20130.8750" in page


def test_render_escapes_names_and_lays_out_every_section():
    page = render(_content(model_card="# Card\n\n<script>x()</script>\n\n| a | b |\n|---|---|\n"
                                      "| <b>cat</b> | 1 |\n"))
    card = page.split("<section id='model-card'>")[1].split("</section>")[0]
    assert "<script>" not in card and "&lt;script&gt;" in card  # raw HTML is escaped
    assert "<table>" in card and "<td>&lt;b&gt;cat&lt;/b&gt;</td>" in card
    assert "<b>cat</b>" not in page and "&lt;b&gt;cat&lt;/b&gt;" in page
    for section_id, _ in SECTIONS:  # Decisions: binary and multi-label runs only
        assert (f"<section id='{section_id}'>" in page) == (section_id != "decisions")
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


# Measures the rendered page: any section whose content is wider than its box (a table that
# overflows), any image shown at another aspect ratio than drawn or above its drawn size, and
# the page's height at a 1400 px wide window.
_LAYOUT_PROBE = """<script>window.addEventListener('load',function(){var bad=[];
document.querySelectorAll('section').forEach(function(s){
 if(s.scrollWidth>s.clientWidth+1)bad.push('overflows: '+s.id);});
document.querySelectorAll('img').forEach(function(i){var w=i.clientWidth,h=i.clientHeight;
 if(!w)return;var drawn=i.naturalWidth/i.naturalHeight;
 if(Math.abs(w/h-drawn)>0.02*drawn)bad.push('squashed: '+i.alt);
 if(w>i.naturalWidth+1)bad.push('upscaled: '+i.alt);});
document.body.setAttribute('data-layout',JSON.stringify(
 {bad:bad,height:document.documentElement.scrollHeight}));});</script></body>"""
MAX_PAGE_HEIGHT = 17000  # px at 1400 px wide (about 15,200 here); it was over 22,000


def _layout(report: Path, tmp_path: Path) -> dict:
    import html

    probed = tmp_path / "probed.html"
    probed.write_text(report.read_text().replace("</body>", _LAYOUT_PROBE))
    proc = _chromium_run(probed.as_uri(), tmp_path, "--dump-dom", "--window-size=1400,1000")
    found = re.search(r'data-layout="([^"]*)"', proc.stdout)
    assert found, proc.stderr[-2000:]
    return json.loads(html.unescape(found.group(1)))


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
        assert (f'<section id="{section_id}"><h2>{title}</h2>' in dom) == (
            section_id != "decisions"), section_id
    assert 'data-sorted="f1:asc"' in dom  # the per-class table sorted itself from the URL
    table = dom.split('id="per-class-table"')[1].split("</table>")[0]
    header = re.findall(r"<th[^>]*>(.*?)</th>", table)
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", row)
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table.split("<tbody>")[1])]
    f1 = [row[header.index("f1")] for row in rows]
    defined = [float(v) for v in f1 if v != "\u2014"]
    assert len(rows) == 10 and defined == sorted(defined)
    assert f1[len(defined):] == ["\u2014"] * (10 - len(defined))  # undefined last
    layout = _layout(report, tmp_path)
    assert not layout["bad"], layout["bad"]  # no section wider than its box, no image squashed
    assert layout["height"] < MAX_PAGE_HEIGHT, layout["height"]
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
