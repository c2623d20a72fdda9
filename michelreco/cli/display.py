"""``michelreco display`` and ``report``: one event in 3D, and the HTML page of a whole solution."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from michelreco.errors import InputError

DIAGNOSE_EVENTS = 4000       # as analysis.report.DIAGNOSE_EVENTS (not imported here: the CLI starts fast)

__all__ = ["register", "report_inputs"]


def _run_display(args: argparse.Namespace) -> int:
    """``michelreco display``: draw one event to a file."""
    from michelreco.analysis.display import display_event

    display_event(args.xyze, args.event, args.out, labels_path=args.labels, solution_path=args.solution,
                  zoom_voxels=args.zoom, explain=args.explain, force=args.force, dataset=args.dataset_name)
    print(f"wrote {args.out}")
    return 0


def report_inputs(files: list[str], labels: str | None, no_labels: bool) -> tuple[str, str | None, str, str]:
    """Events, labels (or None), solution, and how the labels were chosen, from ``report``'s arguments.

    ``XYZE LABELS SOLUTION`` (the labels given), or ``XYZE SOLUTION`` with ``--labels``, or ``XYZE SOLUTION``
    alone: the label file beside the events (``*_xyze*`` -> ``*_label*``) when it exists, else none.
    """
    from michelreco.run.io import label_path_for

    if len(files) not in (2, 3):
        raise InputError(f"report takes XYZE [LABELS] SOLUTION: {len(files)} files given")
    if len(files) == 3:
        if labels is not None or no_labels:
            raise InputError("labels given twice: as the second file and with --labels/--no-labels")
        return files[0], files[1], files[2], f"labels: {files[1]}"
    xyze, solution = files
    if no_labels:
        if labels is not None:
            raise InputError("--labels and --no-labels together")
        return xyze, None, solution, "no labels (--no-labels): a page without scores"
    if labels is not None:
        return xyze, labels, solution, f"labels: {labels}"
    try:
        guess = label_path_for(xyze)
    except InputError:
        guess = None
    if guess is not None and guess.exists() and not Path(guess).samefile(xyze):
        return xyze, str(guess), solution, f"labels: {guess} (found beside the events; --no-labels to leave them out)"
    return xyze, None, solution, "no label file found beside the events: a page without scores (--labels FILE)"


def _run_report(args: argparse.Namespace) -> int:
    """``michelreco report``: write the HTML report folder of a solution."""
    from michelreco.analysis.report import make_report
    from michelreco.cli.common import finder_params

    xyze, labels, solution, how = report_inputs(args.files, args.labels, args.no_labels)
    if args.diagnose_events < 0:
        raise InputError(f"--diagnose-events must be 0 or more, got {args.diagnose_events}")
    print(how, file=sys.stderr)
    page = make_report(xyze, labels, solution, args.out, args.dataset_name, truth_path=args.truth,
                       finder_params=finder_params(args.config), config_path=args.config, force=args.force,
                       progress=sys.stderr.isatty(), diagnose_events=args.diagnose_events)
    print(f"wrote {page}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommand parser(s) of this module to ``sub``."""
    p = sub.add_parser("display", help="draw one event: energy, truth labels, prediction (PNG or HTML)",
                       description="Draw one event in 3D, coloured by energy, by truth label and by the "
                                   "prediction (found, wrong, missed). FILE.png (also .svg, .pdf) through "
                                   "matplotlib, FILE.html interactive through plotly. Only that event is read.")
    p.add_argument("xyze", help="events file")
    p.add_argument("--event", type=int, required=True, help="event index (0 is the first)")
    p.add_argument("--out", required=True, help="FILE.png, .svg, .pdf or .html")
    p.add_argument("--labels", help="label file (truth panel)")
    p.add_argument("--solution", help="solution file (prediction panel)")
    p.add_argument("--dataset-name", default=None, help="solution dataset (default: the only vlen int one)")
    p.add_argument("--zoom", type=float, default=None, metavar="VOXELS",
                   help="show only this many voxels around the Michel voxels, each way")
    p.add_argument("--explain", action="store_true",
                   help="run the finder and mark its candidates' Bragg peaks (taken or rejected)")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.set_defaults(run=_run_display)

    p = sub.add_parser("report", help="HTML report of a solution: scores, where F1 is lost, spectrum, displays",
                       description="Write DIR/index.html (opens in a browser, no server, no network): the scores "
                                   "in words, where F1 is lost, F1 against Michel energy and size, stability, the "
                                   "Michel spectrum against the toy Monte Carlo, events zoomed on their Michels with "
                                   "the finder's candidates and reasons (each with an interactive 3D view), and "
                                   "every event in a paged table. Without labels: counts, the spectrum of the "
                                   "found Michels, displays and the table.",
                       epilog="Labels: XYZE LABELS SOLUTION, or XYZE SOLUTION --labels FILE; with XYZE SOLUTION "
                              "alone the label file beside the events (*_xyze* -> *_label*) is used when it "
                              "exists (--no-labels: never).")
    p.add_argument("files", nargs="+", metavar="XYZE [LABELS] SOLUTION",
                   help="events file, its labels (optional), the solution file")
    p.add_argument("--out", required=True, help="report folder (built aside, swapped in when complete)")
    p.add_argument("--labels", default=None, help="label file (with XYZE SOLUTION)")
    p.add_argument("--no-labels", action="store_true", help="make the page without labels, even if found")
    p.add_argument("--truth", default=None,
                   help="simulator truth (PREFIX_truth.npz; found beside PREFIX_xyze.h5 by default)")
    p.add_argument("--config", default=None,
                   help="finder parameters (JSON/YAML) the solution was made with: its candidates explain it")
    p.add_argument("--dataset-name", default=None, help="solution dataset (default: the only vlen int one)")
    p.add_argument("--diagnose-events", type=int, default=DIAGNOSE_EVENTS, metavar="N",
                   help=f"find where F1 is lost on at most N events, spread over the file (the finder reruns on "
                        f"each; default {DIAGNOSE_EVENTS:,}; 0: skip)")
    p.add_argument("--force", action="store_true", help="replace an existing report folder")
    p.set_defaults(run=_run_report)
