"""The explain stage's targets by task, and the figures that show them: which images, and which
class or label each map explains (`classlens.explain.selection`). A multi-class (or binary)
image is explained for its predicted class, and for its true class when it is wrong; a
multi-label image for every predicted label and every missed one, so its method figure gives it
a block of its own and its comparison columns say which label each map explains. (matplotlib
is imported by the figure functions only, once the stage's inputs are read.)"""

from __future__ import annotations

import numpy as np

from classlens import paths
from classlens.data import label_sets
from classlens.evaluation.predictions import read_array
from classlens.explain.selection import (explanation_rows, multilabel_explanation_rows,
                                         select_examples, select_multilabel_examples)
from classlens.formatting import plural

# index.csv's columns after the shared ones, for a multi-label run: the label's threshold (its
# probability is in `confidence`)
MULTILABEL_INDEX_COLUMNS = ["threshold"]


def choose(table, ecfg, *, seed: int, record, multilabel: bool):
    """(the chosen images, one row per map to compute numbered by `row`); a multi-label run also
    reads each label's probability (data/predictions/probabilities.npy) and its threshold."""
    counts = {"n_misclassified": ecfg.n_misclassified, "n_correct": ecfg.n_correct,
              "n_per_class": ecfg.n_per_class, "seed": seed}
    if not multilabel:
        chosen = select_examples(table, **counts)
        rows = explanation_rows(chosen)
    else:
        names = record.class_names
        probabilities = read_array(paths.PROBABILITIES, shape=(len(table), len(names)))
        chosen = select_multilabel_examples(table, class_names=names, **counts)
        rows = multilabel_explanation_rows(chosen, class_names=names,
                                           probabilities=probabilities,
                                           thresholds=record.threshold_values)
    return chosen, rows.assign(row=np.arange(len(rows)))


def image_headers(chosen, *, multilabel: bool) -> list[str]:
    """One column header per chosen image: true / predicted class and confidence, or the true
    and predicted label sets and how many labels are wrong."""
    from classlens.figures import explain as figures
    from classlens.figures import explain_multilabel as label_figures

    if not multilabel:
        return [figures.header(t, p, c) for t, p, c in
                zip(chosen["true_label"], chosen["pred_label"], chosen["confidence"])]
    return [label_figures.label_set_header(t, p, _wrong(n)) for t, p, n in
            zip(chosen["true_labels"], chosen["pred_labels"], chosen["n_wrong"])]


def spread(groups, limit: int) -> np.ndarray:
    """Up to `limit` image indices taken from each selection group in turn (first ones first),
    in their original order, so a short figure still shows every group."""
    by_group: dict[str, list[int]] = {}
    for i, group in enumerate(groups):
        by_group.setdefault(group, []).append(i)
    queues, taken = list(by_group.values()), []
    while len(taken) < limit and any(queues):
        for queue in queues:
            if queue and len(taken) < limit:
                taken.append(queue.pop(0))
    return np.sort(np.asarray(taken, dtype=np.int64))


def outcomes(rows) -> list[str]:
    """Per multi-label row: what happened to its label (`predicted`, `extra`, `missed`)."""
    from classlens.figures.explain_multilabel import outcome

    return [outcome(kind, true=label in label_sets.names(true))
            for kind, label, true in zip(rows["target_kind"], rows["target_label"],
                                         rows["true_label"])]


def method_figure(name, images, chosen, rows, method_maps, *, signed: bool, options: dict,
                  layer, multilabel: bool):
    """(figure, title, caption) of one method's overlays."""
    from classlens.figures import explain as figures
    from classlens.figures import explain_captions as captions
    from classlens.figures import explain_multilabel as label_figures

    title, n = captions.method_title(name), len(images)
    if not multilabel:
        predicted = rows[rows["target_kind"] == "predicted"]
        true_row_of = {int(r.image): int(r.row) for r in rows.itertuples()
                       if r.target_kind == "true"}
        fig = figures.method_figure(
            images, method_maps[predicted["row"].to_numpy()],
            [method_maps[true_row_of[i]] if i in true_row_of else None for i in range(n)],
            image_headers(chosen, multilabel=False), _wrong_images(chosen),
            chosen["group"].tolist(), signed=signed, title=title)
        shown = min(n, figures.MAX_IMAGES)
    else:
        shown_images = spread(chosen["group"], label_figures.MAX_LABEL_IMAGES)
        drawn = rows[rows["image"].isin(shown_images)]
        what = outcomes(drawn)
        fig = label_figures.label_maps_figure(
            images[shown_images], method_maps[drawn["row"].to_numpy()],
            np.searchsorted(shown_images, drawn["image"].to_numpy()),
            [label_figures.label_header(r.target_label, w, r.confidence, r.threshold)
             for r, w in zip(drawn.itertuples(), what)],
            [w != "predicted" for w in what],
            [label_figures.label_set_title(chosen.at[i, "true_labels"],
                                           chosen.at[i, "pred_labels"]) for i in shown_images],
            [label_figures.ROW_LABELS.get(g, g) for g in chosen["group"].to_numpy()[shown_images]],
            [_wrong(n_wrong).replace(" wrong", "\nwrong")
             for n_wrong in chosen["n_wrong"].to_numpy()[shown_images]],
            signed=signed, title=f"{title}: every predicted and missed label")
        shown = len(shown_images)
    return fig, title, captions.method_caption(name, options, signed=signed, layer=layer,
                                               shown=shown, total=n, multilabel=multilabel)


def comparison_figure(images, chosen, rows, maps: dict, signed: dict, *, multilabel: bool):
    """(figure, caption) of every method side by side: on the predicted class of each image, or
    on each multi-label image's most probable predicted label and most probable missed one."""
    from classlens.figures import explain as figures
    from classlens.figures import explain_captions as captions
    from classlens.figures import explain_multilabel as label_figures

    titles = {m: captions.method_title(m) for m in maps}
    if not multilabel:
        predicted = rows[rows["target_kind"] == "predicted"]["row"].to_numpy()
        fig = figures.comparison_figure(
            images, {m: v[predicted] for m, v in maps.items()}, signed, titles,
            image_headers(chosen, multilabel=False), _wrong_images(chosen),
            title="Every method, predicted class")
        shown, total = min(len(images), figures.MAX_COLUMNS), len(images)
    else:
        ranked = rows.sort_values("confidence", ascending=False, kind="stable")
        columns = ranked.groupby(["image", "target_kind"], sort=True).head(1)
        columns = columns.sort_values(["image", "target_kind"], ascending=[True, False],
                                      kind="stable").head(figures.MAX_COLUMNS)
        what = outcomes(columns)
        picked = columns["row"].to_numpy()
        fig = figures.comparison_figure(
            images[columns["image"].to_numpy()], {m: v[picked] for m, v in maps.items()},
            signed, titles,
            [label_figures.label_set_header(r.true_label, r.pred_label,
                                            f"{w} {label_figures.short(r.target_label, 6)}")
             for r, w in zip(columns.itertuples(), what)],
            [w != "predicted" for w in what], title="Every method, one label a column",
            target="label")
        shown, total = len(columns), len(rows)
    return fig, captions.comparison_caption(list(maps), shown=shown, total=total,
                                            multilabel=multilabel)


def _wrong_images(chosen) -> np.ndarray:
    return (~chosen["correct"].astype(bool)).to_numpy()


def _wrong(n_wrong: int) -> str:
    return "exact match" if n_wrong == 0 else f"{plural(int(n_wrong), 'label')} wrong"
