"""The Michel energy spectrum: toy Monte Carlo against what the labelled (or found) voxels measure.

A Michel is a cluster of Michel voxels: the voxels labelled 2 (or listed by a solution) grouped by
proximity (``join_voxels``, 2.9 voxels: pieces a voxel or two apart stay together), so an event with two
Michels gives two energies. Its measured energy is the sum of its voxels' energies.

The toy Monte Carlo is drawn in batches of ``TOY_BATCH`` and histogrammed as it goes, so its memory does
not grow with the number of draws; the default (``DEFAULT_TOY_DRAWS`` per variant) gives a smooth curve
(about 10,000 draws in the peak's 2 MeV bin) in about a second.
"""

from __future__ import annotations

import csv
import io
import zipfile
from os import PathLike
from pathlib import Path

import numpy as np

from michelreco.constants import MICHEL_LABEL
from michelreco.errors import InputError
from michelreco.reco.energy import JOIN_VOXELS, michel_cluster_energies, recovered_energies
from michelreco.run.io import (LABELS_DATASET, check_label_row, check_solution_row, event_count, iter_events,
                               iter_labels, iter_solution, solution_dataset_name, write_bytes_atomically)
from michelreco.sim.constants import M_E, MICHEL_ENDPOINT_MEV
from michelreco.sim.michel_spectrum import sample_michel_energy

__all__ = ["JOIN_VOXELS", "michel_cluster_energies", "recovered_energies", "measured_energies", "summary",
           "write_spectrum", "truth_path_for", "truth_energies", "truth_event_count", "toy_spectra",
           "DEFAULT_TOY_DRAWS", "TOY_BATCH", "TRUTH_FIELDS"]

BINS_MEV = np.arange(0.0, 82.0, 2.0)
DEFAULT_TOY_DRAWS = 500_000
TOY_BATCH = 250_000
TOY_VARIANTS = ("tree", "radiative", "bound")
TRUTH_FIELDS = ("n_label2", "energy_mev", "core_energy_mev", "subtree_energy_mev")
_FINE_MEV = 0.01                       # resolution of the streamed toy quantiles
_FINE_TOP_MEV = 150.0


def measured_energies(xyze_path: str | PathLike, labels_path: str | PathLike | None = None,
                      solution_path: str | PathLike | None = None, join_voxels: float = JOIN_VOXELS,
                      recover_radius_mm: float | None = None, dataset: str | None = None,
                      progress: bool = False) -> np.ndarray:
    """Energies of all Michels of a file: from the label-2 voxels, or from a solution's voxels.

    With ``recover_radius_mm``, photon activity within that distance is added (``recovered_energies``).
    The two files must have the same number of events, a label row one label per voxel, a solution row
    indices within its event: otherwise InputError names the file and the event.

    Parameters
    ----------
    xyze_path : path-like
        The events file.
    labels_path, solution_path : path-like, optional
        Exactly one of them: the Michels are the label-2 voxels, or the solution's voxels.
    join_voxels : float
        Michel voxels this close (in voxels) belong to the same Michel.
    recover_radius_mm : float, optional
        Also add the small detached blobs (photon activity) within this distance of each Michel.
    dataset : str, optional
        The solution's dataset (default: its only variable-length integer one).
    progress : bool
        A progress bar (shown for files of 2,000 events or more).

    Returns
    -------
    numpy.ndarray
        One energy (MeV) per Michel, events in order.

    Raises
    ------
    ValueError
        Both or neither of ``labels_path`` and ``solution_path`` given.
    """
    from michelreco.run.parallel import progress_bar

    if (labels_path is None) == (solution_path is None):
        raise ValueError("give either labels_path or solution_path")
    n = event_count(xyze_path)
    if labels_path is not None:
        other, n_other = labels_path, event_count(labels_path, LABELS_DATASET)
        rows = iter_labels(labels_path)
    else:
        dataset = solution_dataset_name(solution_path, dataset)
        other, n_other = solution_path, event_count(solution_path, dataset)
        rows = iter_solution(solution_path, dataset=dataset)
    if n_other != n:
        raise InputError(f"{other} has {n_other} events but {xyze_path} has {n}")
    out = []
    bar = progress_bar(n, progress and n >= 2000)
    for (i, xyze), (_, row) in zip(iter_events(xyze_path), rows):
        if labels_path is not None:
            index = np.flatnonzero(check_label_row(row, len(xyze), i, labels_path) == MICHEL_LABEL)
        else:
            index = check_solution_row(row, len(xyze), i, solution_path)
        if recover_radius_mm is None:
            out.append(michel_cluster_energies(xyze, index, join_voxels))
        else:
            out.append(recovered_energies(xyze, index, recover_radius_mm, join_voxels=join_voxels))
        bar.update(1)
    bar.close()
    return np.concatenate(out) if out else np.empty(0)


def summary(energies: np.ndarray) -> dict:
    """Mean, most probable value (2 MeV bins), 90% quantile and the fraction above the 52.83 MeV endpoint."""
    e = np.asarray(energies, dtype=np.float64)
    if e.size == 0:
        return {"n": 0, "mean_mev": float("nan"), "peak_mev": float("nan"), "q90_mev": float("nan"),
                "above_endpoint": float("nan")}
    counts, edges = np.histogram(e, bins=BINS_MEV)
    k = int(np.argmax(counts))
    return {"n": int(e.size), "mean_mev": float(e.mean()), "peak_mev": float(0.5 * (edges[k] + edges[k + 1])),
            "q90_mev": float(np.quantile(e, 0.9)), "above_endpoint": float(np.mean(e > MICHEL_ENDPOINT_MEV))}


class _Streamed:
    """Histogram and summary of draws given batch by batch (memory independent of their number)."""

    def __init__(self):
        self.n = 0
        self.total = 0.0
        self.above = 0
        self.counts = np.zeros(len(BINS_MEV) - 1, np.int64)
        self.fine = np.zeros(int(round(_FINE_TOP_MEV / _FINE_MEV)) + 1, np.int64)

    def add(self, e: np.ndarray) -> None:
        """Count one batch of energies (MeV)."""
        self.n += e.size
        self.total += float(e.sum())
        self.above += int(np.count_nonzero(e > MICHEL_ENDPOINT_MEV))
        self.counts += np.histogram(e, bins=BINS_MEV)[0]
        k = np.clip((e / _FINE_MEV).astype(np.int64), 0, len(self.fine) - 1)
        self.fine += np.bincount(k, minlength=len(self.fine))

    def summary(self) -> dict:
        """The same figures as ``summary`` (the 90% quantile to 0.01 MeV)."""
        if self.n == 0:
            return summary(np.empty(0))
        k = int(np.argmax(self.counts))
        q90 = (int(np.searchsorted(np.cumsum(self.fine), 0.9 * self.n)) + 0.5) * _FINE_MEV
        return {"n": self.n, "mean_mev": self.total / self.n, "peak_mev": float(0.5 * (BINS_MEV[k] + BINS_MEV[k + 1])),
                "q90_mev": q90, "above_endpoint": self.above / self.n}


def toy_spectra(draws: int = DEFAULT_TOY_DRAWS, seed: int = 0, progress: bool = False) -> dict[str, _Streamed]:
    """The toy Monte Carlo variants (kinetic energies), drawn in batches of ``TOY_BATCH``.

    Parameters
    ----------
    draws : int
        Draws per variant (at least 1).
    seed : int
        Seed of the draws.
    progress : bool
        A progress bar, shown when the draws are more than the default.

    Returns
    -------
    dict
        ``"toy MC, VARIANT"`` -> streamed histogram (``.counts`` in ``BINS_MEV``, ``.summary()``).
    """
    from michelreco.run.parallel import progress_bar

    if draws < 1:
        raise InputError(f"--toy-draws must be at least 1, got {draws}")
    rng = np.random.default_rng(seed)
    out = {f"toy MC, {variant}": _Streamed() for variant in TOY_VARIANTS}
    bar = progress_bar(draws * len(TOY_VARIANTS), progress and draws > DEFAULT_TOY_DRAWS, unit="draw")
    for variant, acc in zip(TOY_VARIANTS, out.values()):
        left = draws
        while left:
            n = min(left, TOY_BATCH)
            acc.add(sample_michel_energy(n, rng, variant, kinetic=True))
            left -= n
            bar.update(n)
    bar.close()
    return out


def write_spectrum(spectra: dict[str, np.ndarray], out_dir: str | PathLike, toy_draws: int = DEFAULT_TOY_DRAWS,
                   seed: int = 0, progress: bool = False) -> dict:
    """Write DIR/spectrum.csv and DIR/spectrum.png: shape-normalized spectra beside the toy MC variants.

    Parameters
    ----------
    spectra : dict
        Name -> Michel energies (MeV).
    out_dir : path-like
        An existing folder (the command builds its results folder aside, ``outputs.output_directory``).
    toy_draws : int
        Toy Monte Carlo draws per variant.
    seed : int
        Seed of the toy Monte Carlo.
    progress : bool
        A progress bar for more toy draws than the default.

    Returns
    -------
    dict
        Name -> summary (``summary``) of each spectrum, toy MC included.
    """
    from michelreco.analysis.plots import pyplot, save_figure

    plt = pyplot()
    out_dir = Path(out_dir)
    out_dir.mkdir(exist_ok=True)
    toys = toy_spectra(toy_draws, seed, progress)
    width = np.diff(BINS_MEV)
    centres = 0.5 * (BINS_MEV[1:] + BINS_MEV[:-1])
    names = [*toys, *spectra]
    table = [acc.counts for acc in toys.values()] + [np.histogram(e, bins=BINS_MEV)[0] for e in spectra.values()]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["bin_low_mev", "bin_high_mev"] + [f"{name} {what}" for name in names
                                                       for what in ("density", "count")])
    for b in range(len(centres)):
        cells = [f"{BINS_MEV[b]:g}", f"{BINS_MEV[b + 1]:g}"]
        for counts in table:
            cells += [f"{counts[b] / max(counts.sum(), 1) / width[b]:.6g}", str(int(counts[b]))]
        writer.writerow(cells)
    write_bytes_atomically(out_dir / "spectrum.csv", buf.getvalue().encode())

    fig, ax = plt.subplots(figsize=(11, 5))
    for (name, acc), style in zip(toys.items(), ("-", "--", ":")):
        ax.plot(centres, acc.counts / max(acc.counts.sum(), 1) / width, style, color="0.3", label=name)
    for name, e in spectra.items():
        counts, _ = np.histogram(e, bins=BINS_MEV)
        norm = max(counts.sum(), 1) * width
        ax.errorbar(centres, counts / norm, yerr=np.sqrt(counts) / norm, fmt="o", ms=3, capsize=2,
                    label=f"{name} ({int(counts.sum())} Michels)")
    ax.axvline(MICHEL_ENDPOINT_MEV - M_E, color="0.6", lw=0.8)
    ax.set_xlabel("energy (MeV): kinetic for the toy MC and the truth, deposited for the voxels")
    ax.set_ylabel("fraction per MeV")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("Michel electron energy")
    save_figure(fig, out_dir / "spectrum.png")
    plt.close(fig)
    return {**{name: acc.summary() for name, acc in toys.items()}, **{name: summary(e) for name, e in spectra.items()}}


def truth_path_for(xyze_path: str | PathLike) -> Path | None:
    """The simulator's truth file beside an events file (PREFIX_xyze.h5 -> PREFIX_truth.npz), if there."""
    p = Path(xyze_path)
    if not p.name.endswith("_xyze.h5"):
        return None
    truth = p.with_name(p.name[:-len("_xyze.h5")] + "_truth.npz")
    return truth if truth.exists() else None


def _load_truth(truth_npz: str | PathLike) -> dict[str, np.ndarray]:
    """The arrays of a truth file, or InputError saying in one line why it is not one of ours."""
    path = Path(truth_npz)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    not_ours = f"{path}: not a michelreco simulation truth file"
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {key: f[key] for key in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        raise InputError(f"{not_ours} (not a readable .npz)") from None
    michels = arrays.get("michels")
    if michels is None or michels.dtype.names is None:
        raise InputError(f"{not_ours} (no 'michels' table)")
    missing = [name for name in TRUTH_FIELDS if name not in michels.dtype.names]
    if missing:
        raise InputError(f"{not_ours} (the 'michels' table has no {', '.join(missing)}: made by another version?)")
    return arrays


def truth_event_count(truth_npz: str | PathLike) -> int | None:
    """Number of events a truth file describes.

    Parameters
    ----------
    truth_npz : path-like
        A simulated sample's ``PREFIX_truth.npz`` (refused in one line when it is not one).

    Returns
    -------
    int or None
        The length of its ``n_voxels`` array; ``None`` when it has none.
    """
    n_voxels = _load_truth(truth_npz).get("n_voxels")
    return None if n_voxels is None else len(n_voxels)


def truth_energies(truth_npz: str | PathLike) -> dict[str, np.ndarray]:
    """From a simulated sample's truth: true kinetic energy, visible ionization, visible ionization plus
    all photon activity, of the Michels that left at least one labelled voxel.

    A file that is not a michelreco truth file raises a one-line InputError before any work is done.
    """
    m = _load_truth(truth_npz)["michels"]
    m = m[m["n_label2"] > 0]
    return {"true kinetic energy": m["energy_mev"], "visible ionization (truth)": m["core_energy_mev"],
            "visible ionization + all photons (truth)": m["subtree_energy_mev"]}
