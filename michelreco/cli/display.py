"""``michelreco display`` and ``report``: one event in 3D, and the HTML page of a whole solution."""

from __future__ import annotations

__all__ = ["register"]


def _run_display(args) -> int:
    from michelreco.analysis.display import display_event

    display_event(args.xyze, args.event, args.out, labels_path=args.labels, solution_path=args.solution,
                  zoom_voxels=args.zoom, explain=args.explain)
    print(f"wrote {args.out}")
    return 0


def _run_report(args) -> int:
    from michelreco.analysis.report import make_report

    page = make_report(args.xyze, args.labels, args.solution, args.out, args.dataset_name)
    print(f"wrote {page}")
    return 0


def register(sub) -> None:
    """Add the subcommand parser(s) of this module to ``sub``."""
    p = sub.add_parser("display", help="draw one event: energy, truth labels, prediction (PNG or HTML)",
                       description="Draw one event in 3D, coloured by energy, by truth label and by the "
                                   "prediction (found, wrong, missed). FILE.png through matplotlib, FILE.html "
                                   "interactive through plotly. Only that event is read.")
    p.add_argument("xyze", help="events file")
    p.add_argument("--event", type=int, required=True, help="event index")
    p.add_argument("--out", required=True, help="FILE.png or FILE.html")
    p.add_argument("--labels", help="label file (truth panel)")
    p.add_argument("--solution", help="solution file (prediction panel)")
    p.add_argument("--zoom", type=float, default=None, metavar="VOXELS",
                   help="show only this many voxels around the Michel voxels, each way")
    p.add_argument("--explain", action="store_true",
                   help="run the finder and mark its candidates' Bragg peaks (taken or rejected)")
    p.set_defaults(run=_run_display)

    p = sub.add_parser("report", help="HTML report of a solution: scores, stability, F1 by energy, displays",
                       description="Write DIR/index.html (opens with no server): scores, per-event table, "
                                   "F1 per block of events, F1 against Michel energy and voxel count, and "
                                   "displays of the best, worst and typical events.")
    p.add_argument("xyze", help="events file")
    p.add_argument("labels", help="label file")
    p.add_argument("solution", help="solution file")
    p.add_argument("--out", required=True, help="report directory")
    p.add_argument("--dataset-name", default=None, help="solution dataset (default: the only vlen int one)")
    p.set_defaults(run=_run_report)
