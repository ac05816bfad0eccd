"""Stage `analyze`: correct and misclassified lists, confused pairs, the misclassification gallery."""

from __future__ import annotations

from classlens import paths, tracking
from classlens.analysis import confused_pairs, split_by_correctness
from classlens.atomic import atomic_dir, save_figure, write_csv
from classlens.config import Config
from classlens.data.prepared import load_classes, load_split
from classlens.predictions import read_predictions


def run(cfg: Config) -> None:
    from classlens import figures

    classes = load_classes()
    table = read_predictions(paths.PREDICTIONS)
    test = load_split("test")
    correct, wrong = split_by_correctness(table)
    pairs = confused_pairs(table["true"].to_numpy(), table["pred"].to_numpy(), classes)
    shown = wrong.head(cfg.analyze.gallery_size)
    titles = [f"true {t} / pred {p}\n{c:.2f}" for t, p, c in
              zip(shown["true_label"], shown["pred_label"], shown["confidence"])]
    gallery = figures.image_grid(test.images[shown["position"].to_numpy()], titles,
                                 suptitle=f"Most confident errors ({len(shown)} of {len(wrong)})")
    with atomic_dir(paths.ANALYSIS_DIR) as out:
        write_csv(out / paths.CORRECT.name, correct)
        write_csv(out / paths.MISCLASSIFIED.name, wrong)
        write_csv(out / paths.CONFUSED_PAIRS.name, pairs)
        save_figure(out / paths.GALLERY_PNG.name, gallery)

    with tracking.stage_run(paths.RUN_REF, cfg):
        tracking.log_metrics({"n_misclassified": len(wrong), "n_correct": len(correct)})
        tracking.log_table(pairs.head(cfg.analyze.top_pairs), "analyze/top_confused_pairs.json")
        tracking.replace_artifacts([paths.CORRECT, paths.MISCLASSIFIED, paths.CONFUSED_PAIRS,
                                    paths.GALLERY_PNG], "analyze")
    top = ", ".join(f"{r.true_label}->{r.pred_label} ({r.count})"
                    for r in pairs.head(3).itertuples()) or "none"
    print(f"analyze: {len(wrong)} misclassified of {len(table)}; most confused: {top}")
