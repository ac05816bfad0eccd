"""`classlens compare A B`: two experiments side by side, as Markdown (printed) and HTML.

A and B are MLflow run ids or DVC experiment names. Reads both runs' params and metrics and their
logged prediction tables (`predict/predictions.csv`), and draws a gallery of the flipped images
when the local prepared data is the data both runs were trained on.
"""

from __future__ import annotations

import base64
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from classlens import paths
from classlens.atomic import write_text
from classlens.errors import InputError
from classlens.evaluation.compare import (
    f1_movers,
    metrics_side_by_side,
    params_diff,
    prediction_flips,
)
from classlens.tracking.options import TrackingConfig
from classlens.tracking.runs import download_artifact, find_run, run_data


@dataclass
class Comparison:
    a: str
    b: str
    params: "object"
    metrics: "object"
    movers: "object"
    right_to_wrong: "object"
    wrong_to_right: "object"
    gallery_png: Optional[bytes]
    gallery_note: str


def compare_runs(ref_a: str, ref_b: str, *, tracking_cfg: TrackingConfig, top: int = 10,
                 gallery_size: int = 16) -> Comparison:
    from classlens.evaluation.predictions import read_predictions

    run_a = find_run(ref_a, tracking=tracking_cfg)
    run_b = find_run(ref_b, tracking=tracking_cfg)
    params_a, metrics_a, tags_a = run_data(run_a)
    params_b, metrics_b, tags_b = run_data(run_b)
    with tempfile.TemporaryDirectory(prefix="classlens-compare-") as tmp:
        tables = []
        for run_id, sub in ((run_a, "a"), (run_b, "b")):
            local = download_artifact(run_id, "predict/predictions.csv", Path(tmp) / sub)
            tables.append(read_predictions(local))
    try:
        right_to_wrong, wrong_to_right = prediction_flips(*tables)
    except ValueError as err:
        raise InputError(f"compare {ref_a} {ref_b}: {err}") from None
    png, note = _flip_gallery(right_to_wrong, wrong_to_right, tags_a, tags_b, gallery_size)
    return Comparison(a=f"{ref_a} ({run_a[:8]})", b=f"{ref_b} ({run_b[:8]})",
                      params=params_diff(params_a, params_b),
                      metrics=metrics_side_by_side(metrics_a, metrics_b),
                      movers=f1_movers(metrics_a, metrics_b, top=top),
                      right_to_wrong=right_to_wrong, wrong_to_right=wrong_to_right,
                      gallery_png=png, gallery_note=note)


def _flip_gallery(right_to_wrong, wrong_to_right, tags_a, tags_b, size):
    """PNG bytes of the flipped images, or None with the reason (data not available locally)."""
    from classlens.figures import images as figures
    from classlens.data.prepared import load_fingerprint, load_split

    if right_to_wrong.empty and wrong_to_right.empty:
        return None, "no prediction flipped"
    try:
        local = load_fingerprint()["digest"]
    except InputError:
        return None, f"no local {paths.PREPARED_DIR} to draw images from"
    if not (tags_a.get("data_fingerprint") == tags_b.get("data_fingerprint") == local):
        return None, "the runs were not trained on the local prepared data; gallery skipped"
    shown = (list(right_to_wrong.head(size // 2).itertuples())
             + list(wrong_to_right.head(size - min(len(right_to_wrong), size // 2)).itertuples()))
    test = load_split("test")
    images = test.images[[row.position for row in shown]]
    titles = [f"{'R→W' if i < min(len(right_to_wrong), size // 2) else 'W→R'} true {r.true_label}\n"
              f"A {r.pred_label_A} → B {r.pred_label_B}" for i, r in enumerate(shown)]
    fig = figures.image_grid(images, titles, suptitle="Prediction flips A → B")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buffer.getvalue(), ""


def _sections(c: Comparison):
    return [
        ("Params that differ", c.params),
        ("Classes whose F1 moved most", c.movers),
        (f"Right → wrong ({len(c.right_to_wrong)} images)", c.right_to_wrong),
        (f"Wrong → right ({len(c.wrong_to_right)} images)", c.wrong_to_right),
        ("All metrics", c.metrics),
    ]


def to_markdown(c: Comparison) -> str:
    out = [f"## Compare A = {c.a} vs B = {c.b}", ""]
    for title, frame in _sections(c):
        out += [f"### {title}", "",
                frame.to_markdown(index=False, floatfmt=".4f") if len(frame) else "_none_", ""]
    if c.gallery_note:
        out += [f"_Gallery: {c.gallery_note}_", ""]
    return "\n".join(out)


def to_html(c: Comparison) -> str:
    from html import escape

    parts = [f"<h2>Compare A = {escape(c.a)} vs B = {escape(c.b)}</h2>"]
    for title, frame in _sections(c):
        parts.append(f"<h3>{escape(title)}</h3>")
        parts.append(frame.to_html(index=False, float_format="{:.4f}".format, border=0)
                     if len(frame) else "<p><em>none</em></p>")
    if c.gallery_png:
        data = base64.b64encode(c.gallery_png).decode()
        parts.append(f'<h3>Flipped images</h3><img alt="flips" src="data:image/png;base64,{data}">')
    elif c.gallery_note:
        parts.append(f"<p><em>Gallery: {escape(c.gallery_note)}</em></p>")
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
             "td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}"
             "td:first-child,th:first-child{text-align:left}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>classlens compare</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n")


def write(c: Comparison, out_dir: Path) -> tuple[Path, Path]:
    md, html = out_dir / "compare.md", out_dir / "compare.html"
    write_text(md, to_markdown(c))
    write_text(html, to_html(c))
    return md, html
