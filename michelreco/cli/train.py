"""``michelreco train``: learn the Michel selection from labelled events, written as a model file (data only)."""

from __future__ import annotations

import argparse
import json
import sys

from michelreco.cli.common import (add_force_argument, add_quiet_argument, add_workers_argument, finder_params,
                                   labels_or_guess, nonnegative_int, positive_float, positive_int)
from michelreco.errors import InputError
from michelreco.reco.schema import TRAINING_PARAMETERS

__all__ = ["register"]


def _run_train(args: argparse.Namespace) -> int:
    """``michelreco train``: fit a model on labelled events and write its file."""
    from michelreco.reco.schema import PIPELINE_PARAMETERS
    from michelreco.run.outputs import check_output
    from michelreco.run.train import save_model, train_model, training_settings

    labels = labels_or_guess(args.xyze, args.labels)
    more = [tuple(pair) for pair in args.add or []]
    check_output(args.out, [args.xyze, labels, args.config, *(p for pair in more for p in pair)], args.force,
                 option="--out")
    if not 0.0 < args.holdout < 1.0:
        raise InputError(f"--holdout must be between 0 and 1, got {args.holdout}")
    params = {k: v for k, v in finder_params(args.config, note=False).items() if k in PIPELINE_PARAMETERS}
    settings = training_settings(args.config)
    settings.update((k, v) for k, v in (("max_iter", args.max_iter), ("learning_rate", args.learning_rate),
                                        ("max_leaf_nodes", args.max_leaf_nodes)) if v is not None)
    model = train_model(args.xyze, labels, params, settings=settings, holdout_fraction=args.holdout,
                        seed=args.seed, start=args.start,
                        stop=None if args.events is None else args.start + args.events, workers=args.workers,
                        progress=not args.quiet, more=more)
    save_model(model, args.out)
    held = model.meta["holdout"]
    training = model.meta["training"]
    print(f"trained on {training['candidates']:,} candidates of {training['events']:,} events in "
          f"{training['seconds']:.0f} s; on the {held['events']:,} events held back, threshold "
          f"{model.threshold:.2f}: F1 {held['f1']:.4f} (precision {held['precision']:.4f}, recall "
          f"{held['recall']:.4f}); wrote {args.out}", file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(model.meta, indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommand parser(s) of this module to ``sub``."""
    p = sub.add_parser("train", help="learn the Michel selection from labelled events (a tree-ensemble model file)",
                       description="Build every event's Michel candidates, label each by its voxels, fit a "
                                   "gradient-boosted tree ensemble (scikit-learn), choose the decision threshold "
                                   "that maximizes pooled voxel F1 on held-back events, and write the model as "
                                   "JSON data (never pickle): use it with find-michels --model.",
                       epilog="Example: michelreco train train_xyze_1e4.h5 train_label_1e4.h5 --out model.json")
    p.add_argument("xyze", help="labelled events file (*_xyze_*.h5)")
    p.add_argument("labels", nargs="?", help="its labels (default: found by replacing '_xyze_' with '_label_')")
    p.add_argument("--out", required=True, metavar="MODEL", help="model file to write (JSON)")
    p.add_argument("--config", help="finder pipeline parameters of the candidates (recorded in the model) and "
                                    "training settings (max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, "
                                    "l2_regularization), JSON/YAML: a sweep's best.yaml works; options given "
                                    "override it")
    p.add_argument("--add", nargs=2, action="append", metavar=("XYZE", "LABELS"),
                   help="train on this labelled pair as well, whole (repeatable): samples of other detector "
                        "conditions make a model that depends less on any one of them")
    p.add_argument("--start", type=nonnegative_int, default=0, metavar="I",
                   help="skip the first I events (e.g. --start 100 keeps the challenge's 100 example events, the "
                        "first of its training file, out of training so that scoring on them stays fair)")
    p.add_argument("--events", type=positive_int, default=None, metavar="N",
                   help="use N events from --start (default: all)")
    p.add_argument("--holdout", type=positive_float, default=0.25, metavar="F",
                   help="fraction of the events held back to choose the threshold (default 0.25)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="seed of the split and of the ensemble (default 0)")
    p.add_argument("--max-iter", type=positive_int, default=None, metavar="N",
                   help=f"trees (default {TRAINING_PARAMETERS['max_iter'].default})")
    p.add_argument("--learning-rate", type=positive_float, default=None, metavar="R",
                   help=f"shrinkage of each tree (default {TRAINING_PARAMETERS['learning_rate'].default})")
    p.add_argument("--max-leaf-nodes", type=positive_int, default=None, metavar="N",
                   help=f"leaves per tree (default {TRAINING_PARAMETERS['max_leaf_nodes'].default})")
    p.add_argument("--json", action="store_true", help="print the model's record (training, held-back scores) as JSON")
    add_workers_argument(p)
    add_force_argument(p, "the model file")
    add_quiet_argument(p)
    p.set_defaults(run=_run_train)
