"""Stage `report`: one self-contained HTML page per experiment (`data/report/report.html`) from
what evaluate, analyze and explain wrote, and the model card completed with the evaluated metrics
(`data/report/model_card.md`, also a section of the page); both logged to the experiment's
MLflow run.

The explanation figures are whatever PNGs the explain stage left in `data/explain/` (a directory
listing, so the report does not depend on how explain names or draws them); none is fine.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from classlens import paths
from classlens.atomic import write_text
from classlens.config import Config
from classlens.errors import InputError
from classlens.evaluation import results
from classlens.explain.trust import HEADLINE_COLUMNS, trust_rows
from classlens.reporting.html import Figure, ReportContent, Table, render
from classlens.reporting.model_card import completed_card
from classlens.tracking.log import replace_artifacts
from classlens.tracking.runs import RunRef, stage_run

LIST_ROWS = 50  # rows of each long list shown in the report (the CSVs hold them all)


def _need(path: Path) -> Path:
    if not path.exists():
        raise InputError(f"{path}: not found; run the stage that writes it first (`dvc repro`)")
    return path


def _csv(path: Path, *, head: int | None = None) -> Table:
    import pandas as pd

    frame = pd.read_csv(_need(path), keep_default_na=False, na_values=[""])
    total = len(frame)
    if head is not None:
        frame = frame.head(head)
    rows = [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
            for r in frame.to_dict("records")]
    return Table(caption=path.name, rows=rows, columns=list(frame.columns), total=total)


def _figure(path: Path, caption: str) -> list[Figure]:
    return [Figure(caption, path.read_bytes())] if path.exists() else []


def _titled(table: Table, caption: str, note: str = "") -> Table:
    table.caption, table.note = caption, note
    return table


def collect(cfg: Config) -> ReportContent:
    """Read every input of the report (raises InputError naming a missing one)."""
    metrics = results.load(paths.METRICS)
    analysis = json.loads(_need(paths.ANALYSIS_SUMMARY).read_text(encoding="utf-8"))
    ref = RunRef.read(paths.RUN_REF)
    calibration = metrics.calibration or {}
    scaled = calibration.get("temperature") or {}
    cal_rows = [
        {"": "as predicted", "ECE": calibration.get("ece"), "MCE": calibration.get("mce"),
         "adaptive ECE": calibration.get("adaptive_ece"), "NLL": calibration.get("nll"),
         "accuracy": metrics.accuracy},
        {"": f"temperature {scaled.get('value', float('nan')):.3f}", "ECE": scaled.get("ece"),
         "MCE": scaled.get("mce"), "adaptive ECE": scaled.get("adaptive_ece"),
         "NLL": scaled.get("nll"), "accuracy": scaled.get("accuracy")},
    ]
    galleries = {g["key"]: g for g in analysis.get("galleries", [])}
    groups = {"errors": "Most confident errors and least confident correct predictions",
              "correct": "Most confident errors and least confident correct predictions",
              "pair": "Most confused pairs", "class": "Per class (weakest F1 first)"}
    gallery_figures: dict[str, list[Figure]] = {}
    for g in galleries.values():
        if g["kind"] in groups and Path(g["file"]).exists():
            gallery_figures.setdefault(f"galleries:{groups[g['kind']]}", []).append(
                Figure(g["title"], Path(g["file"]).read_bytes()))
    suspects = galleries.get("label_suspects")
    explain_pngs = sorted(paths.EXPLAIN_DIR.rglob("*.png")) if paths.EXPLAIN_DIR.is_dir() else []
    card = completed_card(paths.MODEL_CARD, metrics, confusion_path=paths.CONFUSION_MATRIX)
    trust_tables = []
    if paths.EXPLAIN_TRUST.exists():
        trust = json.loads(paths.EXPLAIN_TRUST.read_text(encoding="utf-8"))
        trust_tables.append(Table(
            "Trust checks per method", trust_rows(trust, HEADLINE_COLUMNS),
            note=f"On {trust.get('images')} explained images. AUCs: predicted-class probability "
                 "as pixels are deleted (lower is better) or inserted (higher is better) in the "
                 "map's order; *_random: the same in random orders. spearman_final: rank "
                 "correlation with the maps of the fully re-initialised model (near 0 is "
                 "good). A flagged method did no better than random or barely depends on the "
                 "model: trust its maps least."))
    a = analysis
    return ReportContent(
        title=f"classlens report \u2014 {cfg.tracking.experiment}"
              + (f" / {os.environ['DVC_EXP_NAME']}" if os.environ.get("DVC_EXP_NAME") else ""),
        metrics=metrics,
        run={"MLflow run": ref.run_id, "experiment id": ref.experiment_id,
             "params digest": ref.params_digest},
        per_class=_titled(_csv(paths.PER_CLASS), "Metrics per class"),
        analysis=analysis,
        figures={
            "per-class": _figure(paths.PER_CLASS_F1_PNG, "F1 per class with bootstrap intervals"),
            "confusion": (_figure(paths.CONFUSION_NORMALIZED_PNG, "Row-normalised (recall)")
                          + _figure(paths.CONFUSION_COLUMN_NORMALIZED_PNG,
                                    "Column-normalised (precision)")
                          + _figure(paths.CONFUSION_COUNTS_PNG, "Counts")),
            "curves": (_figure(paths.ROC_PNG, "ROC, one-vs-rest")
                       + _figure(paths.PR_PNG, "Precision-recall, one-vs-rest")),
            "calibration": _figure(paths.RELIABILITY_PNG, "Reliability diagram, before and after "
                                   "temperature scaling (bottom: confidence histogram)"),
            **gallery_figures,
            "label-suspects": ([Figure(suspects["title"], Path(suspects["file"]).read_bytes())]
                               if suspects and Path(suspects["file"]).exists() else []),
            "explanations": [Figure(str(p.relative_to(paths.EXPLAIN_DIR)), p.read_bytes())
                             for p in explain_pngs],
        },
        tables={
            "confusion": [_titled(_csv(paths.CONFUSED_PAIRS, head=LIST_ROWS),
                                  "Most confused pairs, directional (true \u2192 predicted)",
                                  "rate: share of the true class's images"),
                          _titled(_csv(paths.CONFUSED_PAIRS_SYMMETRIC, head=LIST_ROWS),
                                  "Most confused pairs, symmetric (a \u2194 b)",
                                  "rate: errors either way over the images of both classes")],
            "calibration": [Table("Calibration of the top-1 confidence", cal_rows,
                                  note=f"{calibration.get('n_bins')} equal-width bins; adaptive "
                                       "ECE uses as many equal-mass bins; the temperature is "
                                       f"fitted on {scaled.get('n_validation')} validation "
                                       "images and leaves every prediction unchanged.")],
            "errors": [
                _titled(_csv(paths.WEAK_CLASSES), "Weak classes and why",
                        f"F1 below {a.get('weak_f1_floor')}. Low precision: the model "
                        "over-predicts the class (steals_from: the classes whose images it "
                        "takes). Low recall: its images go elsewhere (absorbed_by)."),
                _titled(_csv(paths.CONFIDENTLY_WRONG, head=LIST_ROWS),
                        f"Confidently wrong (confidence > "
                        f"{a.get('confidently_wrong_threshold')})"),
                _titled(_csv(paths.LOW_CONFIDENCE, head=LIST_ROWS),
                        f"Low confidence (confidence < {a.get('low_confidence_threshold')})"),
            ],
            "label-suspects": [_titled(_csv(paths.LABEL_SUSPECTS, head=LIST_ROWS),
                                       f"Suspects ranked by {a.get('suspect_score')}",
                                       "lower score = more suspicious")],
            "explanations": trust_tables,
        },
        model_card=card,
    )


def run(cfg: Config) -> None:
    content = collect(cfg)
    page = render(content)
    write_text(paths.REPORT_MODEL_CARD, content.model_card)
    write_text(paths.REPORT, page)
    with stage_run(paths.RUN_REF, asdict(cfg)):
        replace_artifacts([paths.REPORT, paths.REPORT_MODEL_CARD], "report")
    print(f"report: {paths.REPORT} ({len(page) / 1e6:.1f} MB, "
          f"{len(content.figures.get('explanations', []))} explanation figures)")
