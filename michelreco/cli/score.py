"""``michelreco score``: a solution against labels, pooled and per event."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from michelreco.cli.common import add_force_argument, nonnegative_int, positive_int

if TYPE_CHECKING:
    from michelreco.analysis.metrics import ScoreTable

__all__ = ["print_scores", "register", "PLOT_FORMATS"]

PLOT_FORMATS = (".png", ".pdf", ".svg")


def print_scores(table: ScoreTable, title: str) -> None:
    """Pooled scores of a table, then the events with and without a Michel, every count named."""
    c = table.pooled
    has = table.has_michel
    with_m, without = table.subset(has).pooled, table.subset(~has)
    print(title)
    print(f"  events    {len(table)}")
    print(f"  F1        {c.f1:.4f}   (pooled over all voxels of all events)")
    print(f"  precision {c.precision:.4f}")
    print(f"  recall    {c.recall:.4f}")
    print(f"  voxels: {c.tp} Michel voxels found (TP), {c.fp} found wrongly (FP), {c.fn} missed (FN)")
    print(f"  events with a Michel: {int(has.sum())}, F1 {with_m.f1:.4f}")
    print(f"  events without: {len(without)}; {without.pooled.fp} voxels wrongly found in "
          f"{int((without.fp > 0).sum())} of them")
    print("  (definitions: docs/scoring.md)")


def _run_score(args: argparse.Namespace) -> int:
    """``michelreco score``: score a solution; print, JSON, per-event CSV, block plot."""
    from michelreco.analysis.metrics import score_files
    from michelreco.run.outputs import check_extension, check_outputs

    inputs = [args.solution, args.labels]
    check_outputs({"--per-event": args.per_event, "--plot": args.plot}, inputs, args.force)
    if args.plot:
        from michelreco.analysis.plots import pyplot

        check_extension(args.plot, PLOT_FORMATS, "--plot")
        pyplot()                                   # matplotlib missing: say so before anything is written
    table = score_files(args.solution, args.labels, dataset=args.dataset_name, start=args.start)
    if args.plot:
        table.per_block(args.block)               # a bad --block fails before any file is written
    if args.per_event:
        table.write_per_event_csv(args.per_event)
    if args.plot:
        from michelreco.analysis.plots import plot_block_f1
        plot_block_f1(table, args.block, args.plot)
    if args.json:
        has = table.has_michel
        without = table.subset(~has)
        out = {"events": len(table), "first_event": table.first_event, **table.pooled.as_dict(),
               "empty_events": int(table.empty.sum()),
               "with_michel": {"events": int(has.sum()), **table.subset(has).pooled.as_dict()},
               "without_michel": {"events": len(without), "fp": without.pooled.fp,
                                  "events_with_fp": int((without.fp > 0).sum())}}
        print(json.dumps(out, indent=2))
    else:
        first = f" (events {table.first_event}..{table.first_event + len(table) - 1})" if table.first_event else ""
        print_scores(table, f"{args.solution} against {args.labels}{first}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommand parser(s) of this module to ``sub``."""
    p = sub.add_parser("score", help="score a solution file against labels (pooled precision/recall/F1)",
                       description="Score a solution file against a label file: pooled F1 over all voxels "
                                   "(definitions: docs/scoring.md).")
    p.add_argument("solution", help="solution file (one row of Michel voxel indices per event)")
    p.add_argument("labels", help="label file (*_label_*.h5, dataset 'labels')")
    p.add_argument("--dataset-name", default=None, help="solution dataset (default: the file's only vlen int one)")
    p.add_argument("--start", type=nonnegative_int, default=None, metavar="I",
                   help="the label event of the solution's first row, for a solution of an event range "
                        "(default: recorded by find-michels --start, else 0)")
    p.add_argument("--json", action="store_true", help="print the scores as JSON")
    p.add_argument("--per-event", metavar="CSV", help="write per-event TP/FP/FN, precision, recall, F1")
    p.add_argument("--plot", metavar="PNG", help="plot F1 per block of events (.png, .pdf or .svg)")
    p.add_argument("--block", type=positive_int, default=100, help="events per block for --plot (default 100)")
    add_force_argument(p, "--per-event and --plot files")
    p.set_defaults(run=_run_score)
