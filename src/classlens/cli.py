"""`classlens` command line: run a stage, compose params.yaml from conf/, check they agree.

    classlens stage train            # what `stages/train.py` (and so `dvc repro`) runs
    classlens params                 # conf/ -> params.yaml (what `dvc exp run` does)
    classlens params model=cnn_small # ... with Hydra overrides
    classlens check-params           # exit 1 if params.yaml is not what conf/ composes to
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from classlens.errors import ClassLensError

STAGES = ("prepare", "train", "predict", "evaluate", "analyze", "explain", "report")


def run_stage(name: str, params_path: str | Path = "params.yaml") -> None:
    """Load and validate params, run stage `name`; a user error becomes one line and exit 2."""
    from classlens.config import load_params

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's C++ start-up chatter out
    try:
        cfg = load_params(params_path)
        importlib.import_module(f"classlens.pipeline.{name}").run(cfg)
    except ClassLensError as err:
        print(f"classlens {name}: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


def _params(args: argparse.Namespace) -> int:
    from classlens.config import write_params

    write_params(args.output, args.config_dir, args.overrides)
    print(f"wrote {args.output} from {args.config_dir}/")
    return 0


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


def main(argv: Optional[Sequence[str]] = None) -> int:
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
