"""`classlens` command line: run a stage, compose params.yaml from conf/, check they agree.

    classlens stage train            # what `stages/train.py` (and so `dvc repro`) runs
    classlens params                 # conf/ -> params.yaml (what `dvc exp run` does)
    classlens params model=cnn_small # ... with Hydra overrides
    classlens check-params           # exit 1 if params.yaml is not what conf/ composes to
    classlens gate                   # all metrics vs baseline: exit 0 pass, 1 fail, 2 unusable
    classlens compare A B            # two runs / DVC experiments side by side
    classlens predict models/model.keras photos/ extra/*.png   # classify new images
    classlens card                   # the model card, completed with data/eval/all_metrics.json
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from classlens.errors import ClassLensError
from classlens.quiet import quiet_tensorflow

# dvc.yaml's order: check first (it stops a bad config before any work); the report shows the
# gate's verdict, so the gate runs before it
STAGES = ("check", "prepare", "train", "predict", "evaluate", "analyze", "explain", "gate",
          "report")


class _CurrentStream(logging.StreamHandler):
    """Writes to whatever `sys.stdout` / `sys.stderr` is when a record comes (pytest and other
    callers of `run_stage` swap them)."""

    def __init__(self, name: str):
        self._which = name
        super().__init__()

    @property
    def stream(self):
        return getattr(sys, self._which)

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ sets it; the property wins
        pass


def configure_logging() -> None:
    """The library reports through `logging.getLogger(__name__)` (never `print`); a stage shows
    its progress lines on stdout and its warnings on stderr, as the stage's own lines."""
    logger = logging.getLogger("classlens")
    if logger.handlers:
        return
    out = _CurrentStream("stdout")
    out.addFilter(lambda record: record.levelno < logging.WARNING)
    err = _CurrentStream("stderr")
    err.setLevel(logging.WARNING)
    for handler in (out, err):
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # not through the root logger that TensorFlow and MLflow configure


def run_stage(name: str, params_path: str | Path = "params.yaml") -> None:
    """Load and validate params, run stage `name`; a user error becomes one line and exit 2."""
    from classlens.config import load_params
    from classlens.pipeline.stage_outputs import failure_note, outputs_state

    quiet_tensorflow()  # TF's start-up lines stay out of the stage log (CLASSLENS_VERBOSE=1: in)
    configure_logging()
    before = outputs_state(name)
    try:
        cfg = load_params(params_path)
        importlib.import_module(f"classlens.pipeline.{name}").run(cfg)
    except ClassLensError as err:
        print(f"classlens {name}: error: {err}{failure_note(name, before)}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:  # Ctrl-C (DVC passes it on): say what is left, exit as shells do
        print(f"classlens {name}: interrupted{failure_note(name, before)}", file=sys.stderr)
        raise SystemExit(130) from None


def _params(args: argparse.Namespace) -> int:
    from classlens.config import write_params

    write_params(args.output, args.config_dir, args.overrides)
    print(f"wrote {args.output} from {args.config_dir}/")
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; received {text}")
    return value


def _check_params(args: argparse.Namespace) -> int:
    import yaml

    from classlens.config import compose, load_params

    load_params(args.params)
    have = yaml.safe_load(Path(args.params).read_text(encoding="utf-8"))
    if have != compose(args.config_dir):
        print(f"{args.params} differs from what {args.config_dir}/ composes to; regenerate it "
              "with `classlens params`", file=sys.stderr)
        return 1
    print(f"{args.params} matches {args.config_dir}/")
    return 0


def _gate(args: argparse.Namespace) -> int:
    from classlens.pipeline.gate import judge, load_gate_config, write_verdict

    gate_cfg = load_gate_config(Path(args.rules))
    result, source = judge(gate_cfg, metrics_path=Path(args.metrics),
                           baseline_file=args.baseline_file, baseline_rev=args.baseline_rev)
    if args.out_dir:
        markdown = write_verdict(result, source, Path(args.out_dir))
    else:
        markdown = result.to_markdown(title=f"Metric gate vs {source}")
    print(markdown)
    return 0 if result.passed else 1


def _compare(args: argparse.Namespace) -> int:
    from classlens.reporting.compare_page import compare_runs, to_markdown, write
    from classlens.config import load_params

    cfg = load_params(args.params)
    comparison = compare_runs(args.a, args.b, tracking_cfg=cfg.tracking, top=args.top)
    print(to_markdown(comparison, full_table=False))  # the full table is in the files
    if args.out:
        md, html = write(comparison, Path(args.out))
        print(f"wrote {md} and {html}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    """Top-k classes per image; exit 0 if every image was read, 1 if any was not."""
    import json

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from classlens.errors import InputError
    from classlens.serving.inputs import expand_inputs
    from classlens.serving.predictor import load_predictor
    from classlens.task import MULTILABEL

    files, problems = expand_inputs(args.images)
    if not files:
        raise InputError("no image files to predict: " + "; ".join(problems))
    predictor = load_predictor(args.model, tracking_uri=args.tracking_uri)
    for line in problems:
        print(f"classlens predict: error: {line}", file=sys.stderr)
    failed = len(problems)
    width = max(len("image"), *(len(str(f)) for f in files))
    k = min(args.top_k, len(predictor.class_names))
    multilabel = predictor.record.task == MULTILABEL
    if args.format == "table":
        print(f"{'image':<{width}}  {'labels (at their thresholds)':<28}  top-{k} probabilities"
              if multilabel else f"{'image':<{width}}  {'label':<12} {'prob':>7}  top-{k}")
    for result in predictor.iter_predictions(files, top_k=args.top_k, batch_size=args.batch_size,
                                             progress=False if args.no_progress else None):
        if "error" in result:
            failed += 1
            print(f"classlens predict: error: {result['error']}", file=sys.stderr)
        elif args.format == "json":
            print(json.dumps(result), flush=True)
        elif multilabel:
            top = sorted(result["probabilities"], key=lambda r: -r["probability"])[:k]
            shown = ", ".join(f"{r['label']} {r['probability']:.3f}" for r in top)
            print(f"{result['image']:<{width}}  {'|'.join(result['labels']) or '(none)':<28}  "
                  f"{shown}", flush=True)
        else:
            ranked = ", ".join(f"{r['label']} {r['probability']:.3f}" for r in result["top_k"])
            print(f"{result['image']:<{width}}  {result['label']:<12} "
                  f"{result['probability']:>7.4f}  {ranked}", flush=True)
    if failed:
        print(f"classlens predict: {failed} of {len(files) + len(problems)} input(s) failed",
              file=sys.stderr)
    return 1 if failed else 0


def _card(args: argparse.Namespace) -> int:
    from classlens.atomic import write_text
    from classlens.reporting.model_card import completed_card

    card = completed_card(Path(args.card), Path(args.metrics),
                          confusion_path=Path(args.confusion))
    if args.output:
        write_text(args.output, card)
        print(f"wrote {args.output}")
    else:
        print(card, end="")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    quiet_tensorflow()
    parser = argparse.ArgumentParser(prog="classlens", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    stage = sub.add_parser("stage", help="run one pipeline stage (as dvc.yaml does)")
    stage.add_argument("name", choices=STAGES)
    stage.add_argument("--params", default="params.yaml")

    params = sub.add_parser("params", help="compose conf/ into params.yaml")
    params.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. train.epochs=3")
    params.add_argument("--config-dir", default="conf")
    params.add_argument("-o", "--output", default="params.yaml")
    params.set_defaults(func=_params)

    check = sub.add_parser("check-params", help="fail if params.yaml != composed conf/")
    check.add_argument("--config-dir", default="conf")
    check.add_argument("--params", default="params.yaml")
    check.set_defaults(func=_check_params)

    gate = sub.add_parser("gate", help="fail (exit 1) when metrics regress against a baseline")
    gate.add_argument("--metrics", default="data/eval/all_metrics.json",
                      help="current metrics (the layout of data/eval/all_metrics.json)")
    where = gate.add_mutually_exclusive_group()
    where.add_argument("--baseline-file", help="a committed baseline metrics file")
    where.add_argument("--baseline-rev", help="git revision whose metrics file is the baseline")
    gate.add_argument("--rules", default="params.yaml",
                      help="gate config: params.yaml (its gate section) or a conf/gate/*.yaml")
    gate.add_argument("--out-dir", default=None, help="also write gate.md and gate.json here")
    gate.set_defaults(func=_gate)

    compare = sub.add_parser("compare", help="two MLflow runs or DVC experiments side by side")
    compare.add_argument("a", help="DVC experiment name, run name, git revision (main) or "
                         "MLflow run id")
    compare.add_argument("b", help="the same kinds of name as A")
    compare.add_argument("--out", default="reports/compare", help="folder for .md and .html")
    compare.add_argument("--top", type=int, default=10, help="classes listed by F1 change")
    compare.add_argument("--params", default="params.yaml", help="for the tracking store")
    compare.set_defaults(func=_compare)
    predict = sub.add_parser(
        "predict", help="classify new images with a trained model",
        description="Top-k classes for image files, folders or glob patterns, with the "
                    "preprocessing the model was trained with. Exit status 1 if any image could "
                    "not be read (one stderr line each), 2 if nothing could run.")
    predict.add_argument("model", help="a .keras file (preprocessing.json beside it), an MLflow "
                                        "model folder, an MLflow run id, or a runs:/ or models:/ URI")
    predict.add_argument("images", nargs="+", help="image files, folders (searched recursively) "
                                                   "or glob patterns (quote them: 'imgs/**/*.png')")
    predict.add_argument("-k", "--top-k", type=_positive_int, default=5)
    predict.add_argument("--format", choices=("table", "json"), default="table",
                         help="a table, or one JSON object per line")
    predict.add_argument("--batch-size", type=_positive_int, default=64)
    predict.add_argument("--tracking-uri", default=None,
                         help="MLflow store for run ids and models:/ URIs (default: "
                              "MLFLOW_TRACKING_URI, else this project's)")
    predict.add_argument("--no-progress", action="store_true",
                         help="no progress bar (it shows only on a terminal, for long inputs)")
    predict.set_defaults(func=_predict)

    card = sub.add_parser("card", help="print the model card, completed with the evaluated metrics")
    card.add_argument("--card", default="models/model_card.md")
    card.add_argument("--metrics", default="data/eval/all_metrics.json")
    card.add_argument("--confusion", default="data/eval/confusion_matrix.json")
    card.add_argument("-o", "--output", default=None, help="write it here instead of printing")
    card.set_defaults(func=_card)

    args = parser.parse_args(argv)
    if args.command == "stage":
        run_stage(args.name, args.params)
        return 0
    try:
        return args.func(args)
    except ClassLensError as err:
        print(f"classlens {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
