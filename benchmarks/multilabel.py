"""What fitted thresholds buy on multi-label data: macro F1 on the Fashion-MNIST mosaics
(`data=fashion_mnist_mosaics`: 56x56 images of 2x2 tiles, labelled with the classes shown) with
each label's threshold fitted on the validation split (`task.threshold_rule=f1`, the pipeline's
default) against every label at a fixed 0.5, on the same test predictions of the same model, side
by side in one run, each with its bootstrap interval and the paired interval of the difference.
Goal: tuned >= 0.5 (ratio >= 1).

    python benchmarks/multilabel.py              # 12,000 / 3,000 / 5,000 mosaics, 4 epochs

The model is the pipeline's own: `model=cnn_fashion` built for `task=multilabel` (one sigmoid
per label) and trained by the train stage's `fit`; the thresholds by
`classlens.evaluation.thresholds`, the numbers by `classlens.evaluation.multilabel`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, emit, figure, machine  # noqa: E402

GOAL = 1.0
SEED = 0


def _mosaics(sizes: dict[str, int]):
    """{split: (images, labels)}: a seeded sample of each split's Fashion-MNIST mosaics."""
    from classlens.data.options import DataConfig
    from classlens.data.sources import load_catalog

    catalog = load_catalog(DataConfig(source="fashion_mnist_mosaics", val_fraction=0.1,
                                      test_fraction=0.2))
    splits = np.asarray(catalog.splits)
    rng = np.random.default_rng(SEED)
    out = {}
    for split, n in sizes.items():
        picked = np.sort(rng.choice(np.flatnonzero(splits == split), size=n, replace=False))
        out[split] = (np.stack(list(catalog.read(picked))), catalog.labels[picked])
    return out, catalog.class_names


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=12000)
    parser.add_argument("--val", type=int, default=3000)
    parser.add_argument("--test", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args(argv)

    from classlens.config import compose, validate
    from classlens.evaluation.compare_multilabel import paired_change
    from classlens.evaluation.multilabel import multilabel_report
    from classlens.evaluation.thresholds import fit_thresholds
    from classlens.models import build_model
    from classlens.models.inference import predict_probabilities
    from classlens.training.loop import fit, seed_everything
    from classlens.training.objective import targets

    data, names = _mosaics({"train": args.train, "val": args.val, "test": args.test})
    cfg = validate(compose(REPO / "conf", ["task=multilabel", "model=cnn_fashion",
                                           f"train.epochs={args.epochs}"]))
    seed_everything(SEED, deterministic=False)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (data[s] for s in
                                                            ("train", "val", "test"))
    model = build_model(cfg.model, input_shape=x_train.shape[1:], num_classes=len(names),
                        seed=SEED, task="multilabel")
    fit(model, (x_train, targets(y_train, "multilabel")), (x_val, targets(y_val, "multilabel")),
        cfg.train, seed=SEED, task="multilabel")
    p_val, p_test = (predict_probabilities(model, x, batch_size=256) for x in (x_val, x_test))
    fitted = fit_thresholds(y_val, p_val, rule="f1", value=0.5)
    reports = {name: multilabel_report(y_test, p_test, values, label_names=names,
                                       bootstrap_resamples=args.resamples, seed=SEED)
               for name, values in (("tuned", fitted.values), ("fixed", [0.5] * len(names)))}
    change = paired_change(y_test.astype(bool), p_test >= 0.5,
                           p_test >= np.asarray(fitted.values)[None, :],
                           resamples=args.resamples, seed=SEED)

    def f1(name: str) -> float:
        return reports[name].averages["macro_avg"]["f1"]

    def interval(name: str) -> list[float]:
        low, high = reports[name].bootstrap.intervals["macro_avg.f1"]
        return [round(low, 4), round(high, 4)]

    row = emit(figure(
        "multilabel", "macro F1, Fashion-MNIST mosaics: thresholds fitted on validation vs 0.5",
        ours=f1("tuned"), reference=f1("fixed"), unit="macro F1", goal=GOAL,
        tuned_interval=interval("tuned"), fixed_interval=interval("fixed"),
        difference_interval=[round(v, 4) for v in change.intervals["macro_avg.f1"]],
        exact_match={"tuned": round(reports["tuned"].subset_accuracy, 4),
                     "fixed": round(reports["fixed"].subset_accuracy, 4)},
        mean_average_precision=round(reports["tuned"].mean_average_precision, 4),
        thresholds=[round(t, 3) for t in fitted.values], epochs=args.epochs,
        images={"train": args.train, "val": args.val, "test": args.test},
        resamples=args.resamples, **machine()))
    return 0 if row["meets_goal"] else 1


if __name__ == "__main__":
    sys.exit(main())
