"""Stage `explain`: attribution maps for chosen test images by every configured method, the
checks that say how far each method can be trusted, figures, raw maps and a trust JSON; all
logged to the experiment's MLflow run. Which class or label each map explains, by task:
`explain_targets`."""

from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np

from classlens import paths
from classlens.atomic import atomic_dir, save_figure, save_npy, write_csv, write_json
from classlens.config import Config, ExplainConfig
from classlens.data.prepared import load_split
from classlens.errors import ConfigError, InputError
from classlens.evaluation.predictions import read_predictions
from classlens.pipeline import explain_targets as targets
from classlens.serving.preprocessing import PreprocessingRecord
from classlens.task import BINARY, MULTILABEL
from classlens.tracking.log import log_metrics, log_table, replace_artifacts
from classlens.tracking.runs import stage_run

INDEX_COLUMNS = ["row", "image", "id", "path", "position", "group", "true_label", "pred_label",
                 "confidence", "target", "target_label", "target_kind"]
# per map, when Integrated Gradients ran: F(x) - F(baseline) of the target logit and the
# completeness gap |sum of attributions - that difference|
IG_COLUMNS = ["ig_logit_delta", "ig_completeness_gap"]


def method_options(cfg: ExplainConfig, *, seed: int) -> dict[str, dict]:
    """Each method's keyword options from its config section."""
    return {
        "gradients": {"reduce": cfg.gradients.reduce},
        "smoothgrad": {"samples": cfg.smoothgrad.samples, "noise": cfg.smoothgrad.noise,
                       "reduce": cfg.smoothgrad.reduce, "seed": seed},
        "integrated_gradients": {"steps": cfg.integrated_gradients.steps,
                                 "baseline": cfg.integrated_gradients.baseline},
        "gradcam": {"layer": cfg.gradcam.layer},
        "gradcam_plus_plus": {"layer": cfg.gradcam.layer},
        "occlusion": {"patch": cfg.occlusion.patch, "stride": cfg.occlusion.stride,
                      "baseline": cfg.occlusion.baseline},
    }


def build_explainers(model, cfg: ExplainConfig, *, seed: int) -> dict:
    """{method: Explainer} for `cfg.methods`; an option the model cannot honour (no conv layer
    for Grad-CAM, a patch larger than the image) is a ConfigError naming the key."""
    from classlens.explain import make_explainer

    options = method_options(cfg, seed=seed)
    explainers = {}
    for name in cfg.methods:
        try:
            explainers[name] = make_explainer(name, model, batch_size=cfg.batch_size,
                                              **options[name])
        except ValueError as err:
            section = "gradcam" if name.startswith("gradcam") else name
            raise ConfigError(f"params.yaml: explain.{section} for this model: {err}; fix the "
                              f"option or drop {name!r} from explain.methods") from None
    return explainers


def run(cfg: Config) -> None:
    from classlens.models.files import load_keras_file

    if not paths.MODEL.exists():
        raise InputError(f"{paths.MODEL}: not found; run the train stage first (`dvc repro train`)")
    table = read_predictions(paths.PREDICTIONS)
    test = load_split("test")
    ecfg = cfg.explain
    record = PreprocessingRecord.read(paths.PREPROCESSING)
    multilabel = record.task == MULTILABEL  # a map per predicted and per missed label
    chosen, rows = targets.choose(table, ecfg, seed=cfg.seed, record=record,
                                  multilabel=multilabel)
    images = np.asarray(test.images[chosen["position"].to_numpy()])
    row_images, row_targets = images[rows["image"].to_numpy()], rows["target"].to_numpy()
    model = load_keras_file(paths.MODEL, advice="re-run `dvc repro train`")
    if record.task == BINARY:  # one sigmoid output, explained per class like any other model
        from classlens.models.binary import two_class_view

        model = two_class_view(model, positive=record.positive_index)
    explainers = build_explainers(model, ecfg, seed=cfg.seed)

    maps, seconds, completeness = {}, {}, None
    for name, explainer in explainers.items():
        start = time.perf_counter()
        if name == "integrated_gradients":
            completeness = explainer.attribute(row_images, row_targets)
            maps[name] = completeness.maps
        else:
            maps[name] = explainer.explain(row_images, row_targets)
        seconds[name] = time.perf_counter() - start

    if completeness is not None:
        rows = rows.assign(ig_logit_delta=completeness.delta, ig_completeness_gap=completeness.gap)
    trust, trust_data = _trust_checks(model, explainers, maps, rows, row_images, ecfg,
                                      seed=cfg.seed, completeness=completeness)
    for name in maps:
        trust["methods"][name]["seconds"] = round(seconds[name], 3)
    if "gradcam" in explainers or "gradcam_plus_plus" in explainers:
        trust["gradcam_layer"] = next(e.layer for n, e in explainers.items()
                                      if n.startswith("gradcam"))
    activations = _activations(model, images, chosen, ecfg)

    written = _write_outputs(chosen, rows, images, maps, explainers, trust, trust_data,
                             activations, method_options(ecfg, seed=cfg.seed),
                             multilabel=multilabel)
    with stage_run(paths.RUN_REF, asdict(cfg)):
        replace_artifacts(written, "explain")
        log_metrics(_flat_metrics(trust))
        log_table(_trust_table(trust), "explain/trust_table.json")
    flagged = [m for m, r in trust["methods"].items() if r["flagged"]]
    print(f"explain: {len(maps)} methods on {len(chosen)} images ({len(rows)} maps each); "
          f"flagged: {', '.join(flagged) or 'none'}")


def _trust_checks(model, explainers, maps, rows, row_images, ecfg: ExplainConfig, *, seed,
                  completeness):
    """Deletion/insertion and randomisation on a seeded subset of the maps of predicted classes
    (or labels: a sigmoid label's own probability is tracked)."""
    from classlens.explain.faithfulness import deletion_insertion
    from classlens.explain.randomization import model_randomization
    from classlens.explain.trust import trust_summary

    predicted = rows.index[rows["target_kind"] == "predicted"].to_numpy()
    rng = np.random.default_rng(seed)
    subset = np.sort(rng.choice(predicted, size=min(ecfg.trust.images, len(predicted)),
                                replace=False))
    images, targets = row_images[subset], rows["target"].to_numpy()[subset]
    faith = {name: deletion_insertion(model, images, maps[name][subset], targets,
                                      steps=ecfg.trust.steps, baseline=ecfg.trust.baseline,
                                      random_orders=ecfg.trust.random_orders, seed=seed,
                                      batch_size=ecfg.batch_size)
             for name in maps}
    randomization = None
    if len(subset):
        randomization = model_randomization(
            model, explainers, images, targets, checkpoints=ecfg.trust.randomization_checkpoints,
            seed=seed, original={name: maps[name][subset] for name in maps})
    methods = trust_summary(faith, randomization, min_gain=ecfg.trust.min_gain,
                            max_spearman=ecfg.trust.max_spearman, completeness=completeness)
    trust = {
        "images": int(len(subset)),
        "image_ids": rows["id"].to_numpy()[subset].tolist(),
        "settings": {"steps": ecfg.trust.steps, "baseline": ecfg.trust.baseline,
                     "random_orders": ecfg.trust.random_orders,
                     "min_gain": ecfg.trust.min_gain, "max_spearman": ecfg.trust.max_spearman},
        "randomization": ({"layers_top_down": randomization.layers,
                           "checkpoint_counts": randomization.counts}
                          if randomization else None),
        "methods": methods,
    }
    return trust, {"faithfulness": faith, "randomization": randomization}


def _activations(model, images, chosen, ecfg: ExplainConfig) -> dict:
    """{layer: (activations, channels)} for the first `activations.images` chosen images."""
    from classlens.explain.activations import layer_activations, strongest_channels
    from classlens.explain.layers import (find_first_conv_layer, find_last_conv_layer,
                                          spatial_layer_paths)

    shown = images[:ecfg.activations.images]
    if not len(shown):
        return {}
    layers = list(ecfg.activations.layers)
    if not layers:
        try:
            layers = list(dict.fromkeys([find_first_conv_layer(model),
                                         find_last_conv_layer(model)]))
        except ValueError:  # no convolution: nothing spatial to show by default
            return {}
    spatial = spatial_layer_paths(model)
    for layer in layers:
        if layer not in spatial and not any(p.rsplit("/", 1)[-1] == layer for p in spatial):
            raise ConfigError(f"params.yaml: key 'explain.activations.layers' must name layers "
                              f"with (h, w, channels) outputs; received {layer!r} (some: "
                              f"{spatial[-6:]})")
    found = layer_activations(model, shown, layers, batch_size=ecfg.batch_size)
    return {layer: (values, strongest_channels(values, ecfg.activations.channels))
            for layer, values in found.items()}


def _write_outputs(chosen, rows, images, maps, explainers, trust, trust_data, activations,
                   options, *, multilabel: bool):
    """Everything under data/explain/, atomically; figures.json lists the figures in display
    order with a title and a caption each (what the report shows under them)."""
    from classlens.figures import explain as figures
    from classlens.figures import explain_captions as captions

    headers = targets.image_headers(chosen, multilabel=multilabel)
    signed = {name: explainers[name].signed for name in maps}
    files, manifest = [], []
    with atomic_dir(paths.EXPLAIN_DIR) as out:
        def target(path):
            files.append(paths.EXPLAIN_DIR / path.name)
            return out / path.name

        def figure(path, fig, title, caption, kind, width="full"):
            save_figure(target(path), fig)
            manifest.append({"file": str(path), "title": title, "caption": caption,
                             "kind": kind, "width": width})

        columns = INDEX_COLUMNS + (targets.MULTILABEL_INDEX_COLUMNS if multilabel else [])
        write_csv(target(paths.EXPLAIN_INDEX), rows[columns + [c for c in IG_COLUMNS if c in rows]])
        write_json(target(paths.EXPLAIN_TRUST), trust)
        for name, method_maps in maps.items():
            save_npy(target(paths.explain_maps(name)), method_maps)
            fig, title, caption = targets.method_figure(
                name, images, chosen, rows, method_maps, signed=signed[name],
                options=options[name], layer=getattr(explainers[name], "layer", None),
                multilabel=multilabel)
            figure(paths.explain_overlay_png(name), fig, title, caption, "method")
        if maps:
            fig, caption = targets.comparison_figure(images, chosen, rows, maps, signed,
                                                     multilabel=multilabel)
            figure(paths.EXPLAIN_COMPARISON_PNG, fig, "All methods side by side", caption,
                   "comparison")
        faith, settings = trust_data["faithfulness"], trust["settings"]
        if faith and trust["images"]:
            first = next(iter(faith.values()))
            figure(paths.EXPLAIN_FAITHFULNESS_PNG, figures.faithfulness_curves(
                first.fractions,
                {m: f.deletion.mean(axis=0) for m, f in faith.items()},
                {m: f.insertion.mean(axis=0) for m, f in faith.items()},
                np.mean([f.random_deletion.mean(axis=0) for f in faith.values()], axis=0),
                np.mean([f.random_insertion.mean(axis=0) for f in faith.values()], axis=0),
                tracked="predicted label's probability" if multilabel
                else "predicted-class probability"),
                "Deletion and insertion", captions.faithfulness_caption(
                    images=trust["images"], steps=settings["steps"],
                    baseline=settings["baseline"], random_orders=settings["random_orders"],
                    multilabel=multilabel), "faithfulness")
        randomization = trust_data["randomization"]
        if randomization is not None:
            figure(paths.EXPLAIN_RANDOMIZATION_PNG, figures.randomization_curves(
                randomization.layers, randomization.counts,
                {m: r["spearman_by_checkpoint"] for m, r in trust["methods"].items()},
                threshold=settings["max_spearman"]),
                "Model randomisation", captions.randomization_caption(
                    images=trust["images"], threshold=settings["max_spearman"],
                    multilabel=multilabel), "randomization", width="half")
        for layer, (values, channels) in activations.items():
            figure(paths.explain_activations_png(layer), figures.activation_figure(
                images[:len(values)], values, channels, headers[:len(values)],
                title=f"Activations of {layer}"),
                f"Activations of {layer}", captions.activations_caption(
                    layer, channels=len(channels), images=len(values),
                    signed=bool((values[..., channels] < 0).any())), "activations")
        write_json(target(paths.EXPLAIN_FIGURES), manifest)
    return files


def _flat_metrics(trust: dict) -> dict[str, float]:
    """explain.<method>.<number> for the numbers worth comparing across runs."""
    keys = ("deletion_auc", "deletion_auc_random", "insertion_auc", "insertion_auc_random",
            "deletion_gain", "insertion_gain", "spearman_final", "completeness_relative_gap",
            "completeness_gap_max", "seconds")
    metrics = {}
    for method, record in trust["methods"].items():
        for key in keys:
            if record.get(key) is not None:
                metrics[f"explain.{method}.{key}"] = record[key]
        metrics[f"explain.{method}.flagged"] = float(record["flagged"])
    return metrics


def _trust_table(trust: dict):
    import pandas as pd

    from classlens.explain.trust import trust_rows

    return pd.DataFrame(trust_rows(trust))
