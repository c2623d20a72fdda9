"""The Michel energy spectrum: toy Monte Carlo against what the labelled (or found) voxels measure.

A Michel is a cluster of Michel voxels: the voxels labelled 2 (or listed by a solution) grouped by
proximity (``join_voxels``, 2.9 voxels: pieces a voxel or two apart stay together), so an event with two
Michels gives two energies. Its measured energy is the sum of its voxels' energies.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from michelreco.reco.energy import JOIN_VOXELS, michel_cluster_energies, recovered_energies
from michelreco.constants import MICHEL_LABEL
from michelreco.errors import InputError
from michelreco.run.io import iter_events, iter_labels, iter_solution, write_bytes_atomically
from michelreco.sim.constants import MICHEL_ENDPOINT_MEV, M_E
from michelreco.sim.michel_spectrum import sample_michel_energy

__all__ = ["JOIN_VOXELS", "michel_cluster_energies", "recovered_energies", "measured_energies", "summary",
           "write_spectrum", "truth_path_for", "truth_energies"]

BINS_MEV = np.arange(0.0, 82.0, 2.0)


def measured_energies(xyze_path, labels_path=None, solution_path=None, join_voxels: float = JOIN_VOXELS,
                      recover_radius_mm: float | None = None) -> np.ndarray:
    """Energies of all Michels of a file: from the label-2 voxels, or from a solution's voxels; with
    ``recover_radius_mm``, photon activity within that distance is added (``recovered_energies``)."""
    if (labels_path is None) == (solution_path is None):
        raise ValueError("give either labels_path or solution_path")
    rows = iter_labels(labels_path) if labels_path is not None else iter_solution(solution_path)
    out = []
    for (i, xyze), (_, row) in zip(iter_events(xyze_path), rows):
        index = np.flatnonzero(row == MICHEL_LABEL) if labels_path is not None else row
        if recover_radius_mm is None:
            out.append(michel_cluster_energies(xyze, index, join_voxels))
        else:
            out.append(recovered_energies(xyze, index, recover_radius_mm, join_voxels=join_voxels))
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


def write_spectrum(spectra: dict[str, np.ndarray], out_dir, toy_draws: int = 10_000_000, seed: int = 0) -> dict:
    """Write DIR/spectrum.csv and DIR/spectrum.png: shape-normalized spectra beside the toy MC variants.

    ``spectra`` maps a name to Michel energies (MeV). Returns the summary of each spectrum, toy MC included.
    """
    from michelreco.analysis.plots import pyplot, save_figure

    plt = pyplot()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    toys = {f"toy MC, {variant}": sample_michel_energy(toy_draws, rng, variant, kinetic=True)
            for variant in ("tree", "radiative", "bound")}
    width = np.diff(BINS_MEV)
    centres = 0.5 * (BINS_MEV[1:] + BINS_MEV[:-1])
    lines = ["bin_low_mev,bin_high_mev," + ",".join(f"{name} density,{name} count"
                                                    for name in (*toys, *spectra))]
    table = []
    for e in (*toys.values(), *spectra.values()):
        counts, _ = np.histogram(e, bins=BINS_MEV)
        table.append((counts / max(counts.sum(), 1) / width, counts))
    for b in range(len(centres)):
        cells = [f"{BINS_MEV[b]:g}", f"{BINS_MEV[b + 1]:g}"]
        for density, counts in table:
            cells += [f"{density[b]:.6g}", str(int(counts[b]))]
        lines.append(",".join(cells))
    write_bytes_atomically(out_dir / "spectrum.csv", ("\n".join(lines) + "\n").encode())

    fig, ax = plt.subplots(figsize=(11, 5))
    for (name, e), style in zip(toys.items(), ("-", "--", ":")):
        counts, _ = np.histogram(e, bins=BINS_MEV)
        ax.plot(centres, counts / counts.sum() / width, style, color="0.3", label=name)
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
    return {name: summary(e) for name, e in {**toys, **spectra}.items()}


def truth_path_for(xyze_path) -> Path | None:
    """The simulator's truth file beside an events file (PREFIX_xyze.h5 -> PREFIX_truth.npz), if there."""
    p = Path(xyze_path)
    if not p.name.endswith("_xyze.h5"):
        return None
    truth = p.with_name(p.name[:-len("_xyze.h5")] + "_truth.npz")
    return truth if truth.exists() else None


def truth_energies(truth_npz) -> dict[str, np.ndarray]:
    """From a simulated sample's truth: true kinetic energy, visible ionization, visible ionization plus
    all photon activity, of the Michels that left at least one labelled voxel."""
    if not os.path.exists(truth_npz):
        raise InputError(f"{truth_npz}: no such file")
    m = np.load(truth_npz)["michels"]
    m = m[m["n_label2"] > 0]
    return {"true kinetic energy": m["energy_mev"], "visible ionization (truth)": m["core_energy_mev"],
            "visible ionization + all photons (truth)": m["subtree_energy_mev"]}
