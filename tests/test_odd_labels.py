"""Class labels that are anything but tidy (issue 16): `ship/`, `../../x`, `a.b`, raw HTML, 300
characters, any script. The one sanitiser (`classlens.naming`) gives every class a metric key
MLflow accepts and a file stem valid on every disk, unique and independent of order; Markdown
text shows a name as written, never as HTML. And one run of every stage with such labels:
nothing lands outside the project, every HTML and Markdown output escapes them, MLflow holds
each class's metrics under its recorded key."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from mlflow.utils.validation import MAX_ENTITY_KEY_LENGTH, _validate_metric

from classlens import naming, paths
from classlens.naming import class_keys, file_stems, markdown_code, markdown_text, metric_keys
from tests.data_builders import write_idx
from tests.helpers import digits

HTML_LABEL = "<img src=x onerror=alert(1)>"
LONG = ("a very long class name " * 14)[:300]
LABELS = ["ship/", "../../x", "a.b", HTML_LABEL, LONG]
TRICKY = [*LABELS, "", ".", "..", "...", " ", " a ", ".hidden", "trailing.", "CON", "nul.txt",
          "a/b", "a_b", "a b", "A B", "Ship_", "x" * 300, "x" * 301, "猫", "犬", "café", "cafe",
          "a\x00b", "tab\there", "line\nbreak", "a|b", "`code`", "*bold*", "_x_", "[l](u)",
          "&amp;", "\\", "$\\frac$", "\u202eevil", "e\u0301", "\U0001f600", ":", "C:\\x",
          "test/f1", "per_class.a.f1"]
# the longest metric name a class key goes into, and the file names a stem goes into
METRIC_PREFIXES = ["test/f1/", "test/average_precision_high/", "test/support/"]
FILE_NAMES = ["roc/{}.csv", "class_{}_false_alarms.png", "pair_{0}_to_{0}.png"]

names = st.lists(st.sampled_from(TRICKY) | st.text(max_size=320), max_size=12, unique=True)


def test_the_key_length_matches_mlflow():
    assert max(len(p) for p in METRIC_PREFIXES) + naming.MAX_KEY <= MAX_ENTITY_KEY_LENGTH


@settings(max_examples=300, deadline=None)
@given(names)
def test_file_stems_are_unique_valid_file_names_whatever_the_labels(labels):
    stems = file_stems(labels)
    assert list(stems) == labels and stems == file_stems(list(reversed(labels)))  # order-free
    assert len({s.lower() for s in stems.values()}) == len(labels)  # case-insensitive disks too
    for stem in stems.values():
        assert stem and stem not in (".", "..") and re.fullmatch(r"[A-Za-z0-9_.\-]+", stem), stem
        assert not stem.startswith(".") and not stem.endswith(".")
        assert stem.split(".")[0].upper() not in naming._DEVICES
        for pattern in FILE_NAMES:
            assert len(pattern.format(stem).split("/")[-1].encode("utf-8")) <= 255


@settings(max_examples=300, deadline=None)
@given(names)
def test_metric_keys_pass_mlflow_validation_whatever_the_labels(labels):
    keys = metric_keys(labels)
    assert keys == metric_keys(list(reversed(labels))) and keys == metric_keys(labels)
    assert len({k.casefold() for k in keys.values()}) == len(labels)
    for key in keys.values():
        assert "/" not in key and 0 < len(key) <= naming.MAX_KEY
        for prefix in METRIC_PREFIXES:
            _validate_metric(prefix + key, 1.0, 0, 0)  # MLflow's own check: raises if refused


def test_collisions_and_long_names_are_resolved_by_hash_and_recorded():
    keys = class_keys(["a b", "a_b", "x" * 300, "x" * 301, "ship/"])
    assert keys["a_b"]["file_stem"] == "a_b"  # the name that already is the key keeps it
    assert re.fullmatch(r"a_b-[0-9a-f]{8}", keys["a b"]["file_stem"])
    assert keys["x" * 300]["metric_key"] != keys["x" * 301]["metric_key"]
    assert len(keys["x" * 300]["metric_key"]) == naming.MAX_KEY
    assert keys["ship/"] == {"metric_key": "ship_", "file_stem": "ship_"}
    assert metric_keys(["Ship", "ship"])["ship"] != "ship"  # one key ignoring case (MySQL)
    # items that read the same (two pairs of classes) still get two stems
    pairs = file_stems([("a_to_b", "c"), ("a", "b_to_c")], "_to_".join)
    assert set(pairs.values()) == {"a_to_b_to_c", f"a_to_b_to_c-{naming._digest('a_to_b_to_c')}"}


class _Cells(HTMLParser):
    """The tags of rendered Markdown and the text of each body cell."""

    def __init__(self):
        super().__init__()
        self.tags, self.cells, self.inside = [], [], False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "td":
            self.cells.append("")
        self.inside = tag == "td"

    def handle_endtag(self, tag):
        self.inside = False

    def handle_data(self, data):
        if self.inside:
            self.cells[-1] += data


def _rendered_row(text: str) -> _Cells:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    row = _Cells()
    row.feed(md.render(f"| a | b |\n|---|---|\n| {text} | z |\n"))
    return row


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(TRICKY) | st.text(st.characters(blacklist_categories=("Cs", "Cc"))))
def test_markdown_text_shows_any_name_as_written_in_a_table_cell(label):
    # rendered with raw HTML allowed, as GitHub renders a PR comment: still only the table's tags
    row = _rendered_row(markdown_text(label))
    assert set(row.tags) <= {"table", "thead", "tbody", "tr", "th", "td"}
    expected = re.sub(r"[\r\n\t\v\f]+", " ", label).replace("\x00", "\ufffd").strip()
    assert row.cells == [expected, "z"]


def test_markdown_code_is_code_only_when_that_shows_the_text():
    assert markdown_code("per_class.cat.f1") == "`per_class.cat.f1`"
    assert markdown_code(f"per_class.{HTML_LABEL}.f1") == \
        "per_class.&lt;img src=x onerror=alert(1)&gt;.f1"
    assert markdown_code("a|b") == "a\\|b" and markdown_text("hot_dog _x_") == "hot_dog \\_x\\_"


def test_figures_draw_tex_and_long_names_as_text(tmp_path):
    from classlens.atomic import save_figure
    from classlens.figures.evaluation import confusion_heatmap

    figure = confusion_heatmap(np.eye(3), ["$\\frac$", "a$b$", LONG], normalized=True, title="t")
    ticks = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert ticks[:2] == ["$\\frac$", "a$b$"] and ticks[2] == LONG[:31] + "\u2026"
    save_figure(tmp_path / "confusion.png", figure)  # mathtext would raise a ValueError here
    assert (tmp_path / "confusion.png").read_bytes()[:4] == b"\x89PNG"


# ---------------------------------------------------------------- every stage


def _idx_folder(root: Path, classes: int) -> Path:
    images, labels = digits()
    keep = labels < classes
    images, labels = images[keep][:300, ..., 0], labels[keep][:300]
    root.mkdir(parents=True)
    write_idx(root / "train-images-idx3-ubyte", images[:240])
    write_idx(root / "train-labels-idx1-ubyte", labels[:240])
    write_idx(root / "t10k-images-idx3-ubyte", images[240:])
    write_idx(root / "t10k-labels-idx1-ubyte", labels[240:])
    return root


def _outside_project(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.relative_to(root).parts[0] != "project"}


@pytest.mark.slow
def test_odd_labels_go_through_every_stage_escaped_and_logged(project, tmp_path):
    import mlflow

    from classlens.cli import STAGES, run_stage
    from classlens.config import write_params

    data = _idx_folder(tmp_path / "data" / "idx", len(LABELS))
    write_params(project / "params.yaml", project / "conf", [
        "data=idx", f"data.root={data}", "evaluate.bootstrap_resamples=50",
        "explain.methods=[gradients,gradcam]", "explain.trust.images=2",
        "explain.trust.randomization_checkpoints=1", "explain.n_per_class=0"])
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["data"]["class_names"] = LABELS
    # the run's own numbers as the baseline: the gate table then lists every class's F1
    params["gate"]["baseline_file"] = str(paths.ALL_METRICS)
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    before = _outside_project(tmp_path)
    for stage in STAGES:
        run_stage(stage)

    # nothing written outside the project; `../../x` became a name, not a path
    assert _outside_project(tmp_path) == before
    assert not list(tmp_path.parent.glob("x*")) and not list(tmp_path.rglob("x.*"))
    recorded = json.loads(paths.CONFUSION_MATRIX.read_text())["class_keys"]
    assert recorded == class_keys(LABELS)
    stems = {v["file_stem"] for v in recorded.values()}
    assert {p.stem for p in paths.PR_DIR.iterdir()} == stems
    galleries = {p.stem for p in paths.GALLERIES_DIR.iterdir()}
    assert any(g.startswith("class_") for g in galleries)
    assert all(g.removeprefix("class_").rsplit("_missed", 1)[0] in stems
               for g in galleries if g.endswith("_missed"))

    # every HTML and Markdown output shows the HTML label escaped, never raw
    outputs = {p for folder in ("data", "models") for p in Path(folder).rglob("*")
               if p.suffix in (".md", ".html")}
    assert {paths.GATE_MD, paths.MODEL_CARD, paths.REPORT_MODEL_CARD, paths.REPORT} <= outputs
    escaped = "&lt;img src=x onerror=alert(1)&gt;"
    for path in outputs:
        text = path.read_text(encoding="utf-8")
        assert HTML_LABEL not in text and escaped in text, path
        shown = markdown_text if path.suffix == ".md" else html.escape
        assert [label for label in LABELS if shown(label) not in text] == [], path
    assert "per_class.&lt;img" in paths.GATE_MD.read_text()  # its F1 row
    assert LONG in paths.REPORT.read_text()  # a long name is shown whole

    # per-class metrics logged under the recorded keys
    run_id = json.loads(paths.RUN_REF.read_text())["run_id"]
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    logged = client.get_run(run_id).data.metrics
    all_metrics = json.loads(paths.ALL_METRICS.read_text())["per_class"]
    for label, keys in recorded.items():
        f1 = all_metrics[label]["f1"]  # None (undefined) is not logged
        assert logged.get(f"test/f1/{keys['metric_key']}") == (
            None if f1 is None else pytest.approx(f1, abs=1e-9)), label
        assert logged[f"test/support/{keys['metric_key']}"] == all_metrics[label]["support"]

    # the compare page (a run against itself) escapes them too
    from classlens.config import load_params
    from classlens.reporting.compare_page import compare_runs, write

    comparison = compare_runs(run_id, run_id, tracking_cfg=load_params("params.yaml").tracking)
    for path in write(comparison, project / "compare"):
        text = Path(path).read_text(encoding="utf-8")
        assert HTML_LABEL not in text and escaped in text, path  # in the every-number table


def test_markdown_text_does_not_mention_people_or_link_issues():
    """gate.md is posted as a PR comment: a class named `@team` or `#12` must not notify or
    link there; an address or a path@rev stays readable."""
    assert markdown_text("@team") == "&#64;team" and markdown_text("#12 bad") == "&#35;12 bad"
    assert markdown_text("data/eval/all_metrics.json@main") == "data/eval/all_metrics.json@main"
