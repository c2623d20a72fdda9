"""The run report: one ``index.html`` (no server, no network) that a physicist can read and show.

``make_report`` reads the events, the solution and, when given, the labels in one pass, checking that they
describe the same events (event counts, one label per voxel, solution indices inside each event), and builds
a folder of results aside (``run.outputs.output_directory``), swapped in only when complete:

- ``index.html``: how to read the page; the scores in words; where F1 is lost (``analysis.diagnose``: each
  missed or false voxel's cause, per Michel category with a simulator truth file); F1 against the Michel
  energy and size of the event; the stability plot; the Michel energy spectrum against the toy Monte Carlo
  (``analysis.spectrum``); a few events shown whole and zoomed on their Michels, with the finder's candidates,
  the decision and its top reasons, each linked to an interactive 3D view; the per-event table, paged and
  filtered in the page;
- the figures (PNG), ``event_I.html`` (the interactive views, loading ``plotly.min.js`` beside them),
  ``per_event.csv`` (every event), ``spectrum.csv``.

Without labels the page keeps what a solution alone says: counts, the spectrum of the found Michels, the
displays (found voxels and the finder's candidates) and the per-event table.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from michelreco.analysis.metrics import ScoreTable, event_counts
from michelreco.constants import MICHEL_LABEL
from michelreco.errors import InputError, MichelrecoError
from michelreco.run.io import (LABELS_DATASET, check_label_row, check_solution_row, event_count, iter_events,
                               iter_labels, iter_solution, read_event, read_labels, read_solution,
                               solution_dataset_name)
from michelreco.run.outputs import PathLike, check_output, output_directory, write_bytes_atomically

if TYPE_CHECKING:
    from michelreco.reco.finder import MichelFinder

__all__ = ["ENERGY_EDGES_MEV", "VOXEL_EDGES", "MAX_DISPLAYS", "ReportData", "collect", "f1_in_bins",
           "pick_events", "make_report"]

ENERGY_EDGES_MEV = (0.0, 6.0, 12.0, 18.0, 24.0, 30.0, 36.0, 42.0, 48.0, 54.0, 60.0, np.inf)
VOXEL_EDGES = (1, 10, 25, 50, 75, 100, 150, 250, 500, np.inf)
MAX_DISPLAYS = 6            # events shown whole and zoomed (each ~0.6 s to draw)
DIAGNOSE_EVENTS = 4000      # events diagnosed at most (spread evenly): the finder reruns on each, ~1-2 ms


@dataclass
class ReportData:
    """Per-event numbers of a run, from one pass over its files (``collect``).

    Arrays are indexed by event. ``table`` (TP/FP/FN), ``michel_voxels``, ``michel_energy``,
    ``labelled_energies`` and ``lost`` are None without labels; ``lost`` maps each cause of
    ``analysis.diagnose.LOST_CAUSES`` to the Michel voxels lost for it per event, ``diagnosis`` is the
    summed ``Diagnosis`` (None without labels or without ``analysis.diagnose``), ``diagnosed`` the events
    it covers (every ``diagnose_every``-th: elsewhere ``lost`` is NaN).
    """

    n_voxels: np.ndarray
    found_voxels: np.ndarray
    found_energy: np.ndarray
    found_michels: np.ndarray
    found_energies: np.ndarray
    table: ScoreTable | None = None
    michel_voxels: np.ndarray | None = None
    michel_energy: np.ndarray | None = None
    labelled_michels: np.ndarray | None = None
    labelled_energies: np.ndarray | None = None
    lost: dict | None = None
    diagnosis: object | None = None
    diagnose_every: int = 1
    notes: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)

    @property
    def labelled(self) -> bool:
        """Were labels given?"""
        return self.table is not None

    def __len__(self) -> int:
        return len(self.n_voxels)


def _check_counts(xyze_path, labels_path, solution_path, dataset) -> tuple[int, str]:
    """Event count of the run and the solution's dataset; the files must hold the same number of events."""
    n = event_count(xyze_path)
    name = solution_dataset_name(solution_path, dataset)
    n_sol = event_count(solution_path, name)
    if n_sol != n:
        raise InputError(f"{solution_path} has {n_sol} events but {xyze_path} has {n}; they must describe "
                         f"the same events")
    if labels_path is not None:
        n_lab = event_count(labels_path, LABELS_DATASET)
        if n_lab != n:
            raise InputError(f"{labels_path} has {n_lab} events but {xyze_path} has {n}; they must describe "
                             f"the same events")
    return n, name


def collect(xyze_path: PathLike, solution_path: PathLike, labels_path: PathLike | None = None,
            dataset: str | None = None, finder: MichelFinder | None = None,
            truth_rows: dict | None = None, progress: bool = False,
            diagnose_events: int | None = DIAGNOSE_EVENTS) -> ReportData:
    """Read a run's files once and gather the per-event numbers of the report.

    Parameters
    ----------
    xyze_path, solution_path : path-like
        Events and solution.
    labels_path : path-like, optional
        Truth labels; without them only what the solution says is gathered.
    dataset : str, optional
        The solution's dataset (default: its only variable-length integer dataset).
    finder : MichelFinder, optional
        With labels, the finder whose candidates explain each lost voxel (``analysis.diagnose``).
    truth_rows : dict, optional
        The simulator's Michel rows by event, for the diagnosis by Michel category.
    progress : bool
        Show a progress bar on stderr.
    diagnose_events : int or None
        Diagnose at most this many events, spread evenly over the file (every k-th); None: all, 0: none.

    Returns
    -------
    ReportData
    """
    from michelreco.analysis.spectrum import michel_cluster_energies

    n, name = _check_counts(xyze_path, labels_path, solution_path, dataset)
    diagnose_event = None
    every = 1 if not diagnose_events else max(1, -(-n // diagnose_events))
    if labels_path is not None and finder is not None and diagnose_events != 0:
        try:
            from michelreco.analysis.diagnose import LOST_CAUSES, Diagnosis, diagnose_event
        except ImportError:            # pragma: no cover - an older tree without analysis.diagnose
            diagnose_event = None
    n_voxels, found_voxels, found_michels = (np.zeros(n, np.int64) for _ in range(3))
    found_energy = np.zeros(n)
    found_e: list[np.ndarray] = []
    counts = np.zeros((n, 3), np.int64)
    michel_voxels, labelled_michels = np.zeros(n, np.int64), np.zeros(n, np.int64)
    michel_energy = np.zeros(n)
    labelled_e: list[np.ndarray] = []
    lost = {c: np.full(n, np.nan) for c in LOST_CAUSES} if diagnose_event else None
    total = Diagnosis() if diagnose_event else None
    rows = zip(iter_events(xyze_path), iter_solution(solution_path, dataset=name),
               iter_labels(labels_path) if labels_path is not None else iter([(None, None)] * n))
    if progress:
        from tqdm import tqdm
        rows = tqdm(rows, total=n, unit="ev", desc="report", leave=False)
    for (i, xyze), (_, sol), (_, lab) in rows:
        nv = len(xyze)
        sol = check_solution_row(sol, nv, i, solution_path)
        n_voxels[i], found_voxels[i] = nv, len(sol)
        if len(sol):
            e = michel_cluster_energies(xyze, sol)
            found_e.append(e)
            found_michels[i], found_energy[i] = len(e), e.sum()
        if lab is None:
            continue
        lab = check_label_row(lab, nv, i, labels_path)
        counts[i] = event_counts(sol, lab)
        michel = np.flatnonzero(lab == MICHEL_LABEL)
        if len(michel):
            e = michel_cluster_energies(xyze, michel)
            labelled_e.append(e)
            michel_voxels[i], labelled_michels[i], michel_energy[i] = len(michel), len(e), e.sum()
        if diagnose_event is not None and i % every == 0:
            rows_i = truth_rows.get(i, truth_rows.get(-1)) if truth_rows is not None else None
            d = diagnose_event(finder, xyze, lab, sol, rows_i)
            total.add(d)
            for c in LOST_CAUSES:
                lost[c][i] = d.lost[c]
    data = ReportData(n_voxels=n_voxels, found_voxels=found_voxels, found_energy=found_energy,
                      found_michels=found_michels,
                      found_energies=np.concatenate(found_e) if found_e else np.empty(0))
    if labels_path is not None:
        data.table = ScoreTable(*counts.T)
        data.michel_voxels, data.michel_energy, data.labelled_michels = michel_voxels, michel_energy, labelled_michels
        data.labelled_energies = np.concatenate(labelled_e) if labelled_e else np.empty(0)
        data.lost, data.diagnosis, data.diagnose_every = lost, total, every
    return data


def f1_in_bins(table: ScoreTable, values: np.ndarray, edges: Sequence[float]) -> list[dict]:
    """Pooled scores of the events whose value falls in each bin ``[edges[k], edges[k + 1])``.

    Parameters
    ----------
    table : ScoreTable
        Per-event counts.
    values : ndarray
        One value per event of ``table`` (e.g. its Michel energy).
    edges : sequence of float
        Increasing bin edges; the last may be ``inf`` (an overflow bin), so every event at or above
        ``edges[0]`` falls in a bin.

    Returns
    -------
    list of dict
        For each bin with events: ``lo``, ``hi``, ``events``, ``mean`` and ``max`` (of its values), ``tp``,
        ``fp``, ``fn``, ``f1``, ``precision``, ``recall``.
    """
    values = np.asarray(values, dtype=np.float64)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (values >= lo) & (values < hi)
        if sel.any():
            c = table.subset(sel).pooled
            out.append({"lo": float(lo), "hi": float(hi), "events": int(sel.sum()), "mean": float(values[sel].mean()),
                        "max": float(values[sel].max()), **c.as_dict()})
    return out


def pick_events(data: ReportData, limit: int = MAX_DISPLAYS) -> list[tuple[int, str]]:
    """The events to show, each with why it was chosen, at most ``limit``, each once.

    With labels: two typical events (a Michel of typical size, between the quartiles of Michel voxels per
    event, with its F1 nearest the pooled F1), the best-found large Michel,
    the two with most Michel voxels missed, the two with most false voxels (one of them, when there is one,
    an event without a Michel). Without labels: the two events with most energy in their found Michels, two
    of median energy, the one with least.
    """
    picks: list[tuple[int, str]] = []

    def add(events: Iterable[int], why: str, k: int) -> None:
        """Pick up to ``k`` of ``events`` not picked yet, for the reason ``why``."""
        added = 0
        for i in events:
            if added == k:
                break
            if int(i) not in {e for e, _ in picks}:
                picks.append((int(i), why))
                added += 1

    if data.labelled:
        t = data.table
        per = t.per_event()
        has = np.flatnonzero(t.has_michel)
        if has.size:
            pooled = t.pooled.f1
            size = (t.tp + t.fn)[has]
            lo, hi = np.quantile(size, [0.25, 0.75])
            middle = has[(size >= lo) & (size <= hi)]          # a Michel of typical size, not a 3-voxel one
            add(middle[np.lexsort((middle, np.abs(per["f1"][middle] - pooled)))], "typical: F1 near the pooled F1",
                2)
            add(has[np.lexsort((has, -(t.tp[has]), -per["f1"][has]))], "well found: the largest Michel fully found",
                1)
        missed = np.flatnonzero(t.fn > 0)
        add(missed[np.lexsort((missed, -t.fn[missed]))], "most Michel voxels missed", 2)
        clean = np.flatnonzero((t.fp > 0) & ~t.has_michel)
        add(clean[np.lexsort((clean, -t.fp[clean]))], "false Michel in an event without one", 1)
        wrong = np.flatnonzero(t.fp > 0)
        add(wrong[np.lexsort((wrong, -t.fp[wrong]))], "most wrong voxels", 2 if not clean.size else 1)
    else:
        found = np.flatnonzero(data.found_voxels > 0)
        if found.size:
            e = data.found_energy[found]
            add(found[np.lexsort((found, -e))], "most energy found", 2)
            add(found[np.lexsort((found, np.abs(e - np.median(e))))], "typical: median energy found", 2)
            add(found[np.lexsort((found, e))], "least energy found", 1)
    return picks[:limit]


def _load_truth(xyze_path, truth_path, notes: list, n_events: int) -> tuple[object, dict]:
    """The truth file's Michel rows by event (diagnosis) and energies (spectrum).

    A file given with ``--truth`` that is not a truth file of these events is refused (InputError); one
    found beside the events is then left out with a note on the page, as ``michelreco spectrum`` does.
    """
    from michelreco.analysis.spectrum import truth_energies, truth_event_count, truth_path_for

    path = Path(truth_path) if truth_path is not None else truth_path_for(xyze_path)
    if path is None:
        return None, {}
    try:
        n_truth = truth_event_count(path)
        if n_truth is not None and n_truth != n_events:
            raise InputError(f"{path}: describes {n_truth} events but {xyze_path} has {n_events}")
        energies = truth_energies(path)
        try:
            from michelreco.analysis import diagnose
        except ImportError:                                     # pragma: no cover - no analysis.diagnose
            return None, energies
        rows = diagnose.truth_by_event(xyze_path, path)
    except (MichelrecoError, KeyError, ValueError, OSError) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        if truth_path is not None:
            raise InputError(message if str(path) in message else f"{path}: {message}") from None
        notes.append(f"The truth file found beside the events was not used: {message}")
        return None, {}
    return rows, energies


def _write_csv(path: Path, header: list[str], columns: list[np.ndarray], formats: list[str]) -> None:
    """A CSV (csv module: names quoted when needed) of equal-length columns."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for row in zip(*columns):
        w.writerow([format(v, f) for v, f in zip(row, formats)])
    write_bytes_atomically(path, buf.getvalue().encode())


def make_report(xyze_path: PathLike, labels_path: PathLike | None, solution_path: PathLike, out_dir: PathLike,
                dataset: str | None = None, *, truth_path: PathLike | None = None,
                finder_params: dict | None = None, config_path: PathLike | None = None, force: bool = False,
                progress: bool = False, diagnose_events: int | None = DIAGNOSE_EVENTS) -> Path:
    """Write a report folder (``DIR/index.html`` and its files) for a solution; return the page's path.

    Parameters
    ----------
    xyze_path : path-like
        Events file.
    labels_path : path-like or None
        Truth labels; None gives the page without scores (counts, spectrum of the found Michels, displays).
    solution_path : path-like
        Solution file.
    out_dir : path-like
        The report folder. It may not be, nor hold, an input; an existing one is replaced only with
        ``force``, and only once the new report is complete (a failed run leaves it as it was).
    dataset : str, optional
        The solution's dataset (default: its only variable-length integer dataset).
    truth_path : path-like, optional
        Simulator truth (``PREFIX_truth.npz``; found beside ``PREFIX_xyze.h5`` by default): true
        spectra and the diagnosis by Michel category.
    finder_params : dict, optional
        Parameters of the finder that made the solution (its candidates explain the decisions).
    config_path : path-like, optional
        The file ``finder_params`` came from (named on the page; an input, so never overwritten).
    force : bool
        Replace an existing report folder.
    progress : bool
        Show a progress bar while reading.
    diagnose_events : int or None
        Where F1 is lost is measured on at most this many events, spread evenly (the finder reruns on
        each); None: all, 0: no diagnosis.

    Returns
    -------
    pathlib.Path
        ``out_dir/index.html``.
    """
    from michelreco.analysis.plots import plot_block_f1
    from michelreco.analysis.report_figures import plot_bins, plot_lost
    from michelreco.analysis.report_page import render
    from michelreco.analysis.spectrum import write_spectrum
    from michelreco.reco.finder import MichelFinder

    started = time.perf_counter()
    inputs = [xyze_path, labels_path, solution_path, truth_path, config_path]
    check_output(out_dir, inputs, force, folder=True)
    n_events, _ = _check_counts(xyze_path, labels_path, solution_path, dataset)   # fail fast, before any work
    finder = MichelFinder(**(finder_params or {}))
    notes: list[str] = []
    truth_rows, truth_spectra = _load_truth(xyze_path, truth_path, notes, n_events)
    clock = time.perf_counter()
    data = collect(xyze_path, solution_path, labels_path, dataset, finder, truth_rows, progress, diagnose_events)
    data.notes = notes
    data.timings["reading the files" + (" and diagnosing" if data.diagnosis is not None else "")] = \
        time.perf_counter() - clock
    with output_directory(out_dir, inputs, force) as out:
        clock = time.perf_counter()
        figures = {}
        if data.labelled:
            t = data.table
            plot_block_f1(t, max(1, len(t) // 20), out / "stability.png")
            has = t.has_michel
            figures["energy_rows"] = f1_in_bins(t.subset(has), data.michel_energy[has], ENERGY_EDGES_MEV)
            figures["voxel_rows"] = f1_in_bins(t.subset(has), data.michel_voxels[has], VOXEL_EDGES)
            plot_bins(figures["energy_rows"], "Michel energy in the event (MeV, summed over its labelled Michel "
                      "voxels)", out / "f1_energy.png")
            plot_bins(figures["voxel_rows"], "labelled Michel voxels in the event", out / "f1_voxels.png", log_x=True)
            if data.diagnosis is not None:
                plot_lost(data.diagnosis.as_dict(), out / "lost.png")
        spectra = {}
        if data.labelled:
            spectra["labelled Michel voxels"] = data.labelled_energies
        spectra["found by the finder"] = data.found_energies
        spectra.update(truth_spectra)
        figures["spectrum"] = write_spectrum(spectra, out)
        data.timings["plots and spectrum"] = time.perf_counter() - clock
        clock = time.perf_counter()
        shown = _draw_events(xyze_path, labels_path, solution_path, dataset, data, finder, out)
        data.timings[f"{len(shown)} event displays"] = time.perf_counter() - clock
        _write_per_event(data, out / "per_event.csv")
        files = {"events": xyze_path, "labels": labels_path, "solution": solution_path,
                 "truth": truth_path if truth_rows is not None or truth_spectra else None,
                 "finder configuration": config_path}
        page = render(data, figures, shown, files, finder, time.perf_counter() - started)
        write_bytes_atomically(out / "index.html", page.encode())
    return Path(out_dir) / "index.html"


_MISSED = ("missed: no candidate (FN)", "missed: candidate rejected (FN)", "missed: boundary (FN)", "missed (FN)")
_FOCUS = {"most Michel voxels missed": {**dict.fromkeys(_MISSED, 5.0), "wrong (FP)": 1.0},
          "most wrong voxels": {"wrong (FP)": 5.0},
          "false Michel in an event without one": {"wrong (FP)": 5.0}}


def _draw_events(xyze_path, labels_path, solution_path, dataset, data: ReportData, finder, out: Path) -> list[dict]:
    """Draw the picked events (PNG and interactive page); return what the page says about each."""
    from michelreco.analysis.display_plotly import plotly_js
    from michelreco.analysis.event_view_html import event_view_html
    from michelreco.analysis.event_view_png import event_view_png

    shown = []
    interactive = True
    try:
        write_bytes_atomically(out / "plotly.min.js", plotly_js())
    except MichelrecoError:
        interactive = False
        data.notes.append("plotly is not installed: no interactive views (pip install 'michelreco[plot]').")
    for i, why in pick_events(data):
        focus = _FOCUS.get(why.split(":")[0])
        xyze = read_event(xyze_path, i)
        labels = read_labels(labels_path, i) if labels_path is not None else None
        sol = read_solution(solution_path, i, dataset)
        records = finder.explain(xyze)
        title = f"event {i}: {why}"
        box = event_view_png(xyze, labels, sol, records, out / f"event_{i}.png", title=title, focus=focus)
        if interactive:
            event_view_html(xyze, labels, sol, records, out / f"event_{i}.html", title=title, box=box,
                            plotlyjs="directory")
        shown.append({"event": i, "why": why, "png": f"event_{i}.png",
                      "html": f"event_{i}.html" if interactive else None, "records": records, "box": box,
                      "labels": labels, "solution": sol, "n_voxels": len(xyze)})
    return shown


def _write_per_event(data: ReportData, path: Path) -> None:
    """per_event.csv: every event, with the scores (labels) or what was found (no labels)."""
    found = {"found_voxels": data.found_voxels, "found_michels": data.found_michels,
             "found_energy_mev": data.found_energy, "voxels": data.n_voxels}
    if data.labelled:
        extra = {"michel_voxels": data.michel_voxels, "michel_energy_mev": data.michel_energy,
                 "labelled_michels": data.labelled_michels, **found}
        if data.lost is not None:
            extra.update({f"lost_{c.replace(' ', '_')}": v for c, v in data.lost.items()})
        data.table.write_per_event_csv(path, extra)
        return
    cols = [np.arange(len(data)), data.n_voxels, data.found_voxels, data.found_michels, data.found_energy]
    _write_csv(path, ["event", "voxels", "found_voxels", "found_michels", "found_energy_mev"], cols,
               ["d", "d", "d", "d", ".6g"])
