"""Calibration figures of a simulated sample beside the real-data targets (DESIGN.md §3)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from michelreco.errors import InputError
from michelreco.run.io import iter_events, iter_labels
from .generate import sim_paths
from michelreco.constants import LABEL_DELTA, LABEL_LOW_ENERGY, LABEL_MICHEL, LABEL_SHOWER, LABEL_TRACK

__all__ = ["THRESHOLD_MEV", "Figure", "sim_stats", "print_sim_stats"]

THRESHOLD_MEV = 0.13   # the reference figures count voxels above this energy


@dataclass(frozen=True)
class Figure:
    """One calibration figure: simulated value, the real-data value, and the accepted band."""

    name: str
    value: str
    real: str
    band: tuple[float, float] | None = None
    number: float | None = None

    @property
    def in_band(self) -> bool | None:
        """Is the number inside the band (None when the figure has no band)?"""
        if self.band is None or self.number is None:
            return None
        return self.band[0] <= self.number <= self.band[1]


def _pct(a, qs) -> str:
    if len(a) == 0:
        return "-"
    return " / ".join(f"{v:.3g}" for v in np.percentile(a, qs))


def sim_stats(prefix) -> list[Figure]:
    """Compute the DESIGN.md §3 figures for the sample written with ``michelreco sim --out prefix``."""
    paths = sim_paths(prefix)
    if not paths.truth.exists():
        raise InputError(f"{paths.truth}: no such file (run 'michelreco sim --out {prefix}' first)")
    truth = np.load(paths.truth)
    all_michels = truth["michels"]
    # a Michel is in the image when at least one voxel is labelled Michel for it
    michels = all_michels[all_michels["n_label2"] > 0]
    n_voxels, above, energies, by_class = [], [], [], {k: [] for k in range(5)}
    n_michel_vox = n_delta_vox = 0
    for (_, xyze), (_, labels) in zip(iter_events(paths.xyze), iter_labels(paths.labels)):
        e = xyze[:, 3]
        hi = e > THRESHOLD_MEV
        n_voxels.append(len(e))
        above.append(int(hi.sum()))
        energies.append(e[hi])
        for k in by_class:
            by_class[k].append(e[hi & (labels == k)])
        n_michel_vox += int((labels == LABEL_MICHEL).sum())
        n_delta_vox += int((labels == LABEL_DELTA).sum())
    n_events = len(n_voxels)
    n_voxels, above = np.array(n_voxels), np.array(above)
    energies = np.concatenate(energies)
    med = {k: float(np.median(np.concatenate(v))) if sum(map(len, v)) else float("nan")
           for k, v in by_class.items()}
    per_event = np.bincount(michels["event"], minlength=n_events) if len(michels) else np.zeros(n_events)
    total_vox = max(int(n_voxels.sum()), 1)
    f_michel_vox = 100 * n_michel_vox / total_vox
    figs = [
        Figure("events", f"{n_events}", "-"),
        Figure("voxels per event, all deposits (mean)", f"{n_voxels.mean():.0f}", "about 4,200",
               (2500, 6500), n_voxels.mean()),
        Figure("voxels per event > 0.13 MeV (min / median / max)",
               f"{above.min()} / {np.median(above):.0f} / {above.max()}", "500 / 2,800 / 7,200"),
        Figure("fraction of voxels <= 0.13 MeV", f"{1 - above.sum() / total_vox:.2f}", "about 0.25"),
        Figure("voxel energy > 0.13 MeV, median (MeV)", f"{np.median(energies):.2f}", "0.51",
               (0.35, 0.70), float(np.median(energies))),
        Figure("voxel energy > 0.13 MeV, pct 10 / 90, max", f"{_pct(energies, [10, 90])}, {energies.max():.1f}",
               "0.19 / 1.02, ~13"),
        Figure("median voxel energy: track / shower / low-energy (MeV)",
               f"{med[LABEL_TRACK]:.2f} / {med[LABEL_SHOWER]:.2f} / {med[LABEL_LOW_ENERGY]:.2f}",
               "0.54 / 0.51 / 0.29"),
        Figure("Michel electrons per event (with >= 1 label-2 voxel)", f"{len(michels) / n_events:.3f}",
               "0.736", (0.5, 1.0), len(michels) / n_events),
        Figure("Michel electrons per event, incl. never in the volume", f"{len(all_michels) / n_events:.3f}",
               "-"),
        Figure("events with >= 1 Michel (%)", f"{100 * np.mean(per_event > 0):.1f}", "53", (40, 70),
               100 * np.mean(per_event > 0)),
        Figure("Michel KE pct 5/25/50/75/95 (MeV)", _pct(michels["energy_mev"], [5, 25, 50, 75, 95]),
               "15.5 / 28.5 / 37.7 / 45.2 / 50.7", (33, 42),
               float(np.median(michels["energy_mev"])) if len(michels) else None),
        Figure("label-2 voxels per Michel pct 25/50/75/95", _pct(michels["n_label2"], [25, 50, 75, 95]),
               "about 55 median (touching rule)", (40, 150),
               float(np.median(michels["n_label2"])) if len(michels) else None),
        Figure("voxels of Michel + descendants pct 25/50/75/95", _pct(michels["n_subtree"], [25, 50, 75, 95]),
               "61 / 103 / 145 / 205"),
        Figure("Michels attached to a visible muon end (%)", f"{100 * np.mean(michels['attached']):.1f}", "84"),
        Figure("Michels fully contained (%)", f"{100 * np.mean(michels['contained']):.1f}", "83"),
        Figure("Michel voxels (% of all)", f"{f_michel_vox:.2f}", "1-2 (with delta)", (0.5, 4.0), f_michel_vox),
        Figure("Michel + delta voxels (% of all)", f"{100 * (n_michel_vox + n_delta_vox) / total_vox:.2f}", "1-2"),
    ]
    return figs


def print_sim_stats(prefix) -> None:
    """Print the calibration table of a simulated sample."""
    figs = sim_stats(prefix)
    width = max(len(f.name) for f in figs)
    print(f"{'figure':<{width}}  {'simulated':>28}  {'real data':>30}  band")
    for f in figs:
        band = "" if f.band is None else f"[{f.band[0]:g}, {f.band[1]:g}] " + ("ok" if f.in_band else "OUT")
        print(f"{f.name:<{width}}  {f.value:>28}  {f.real:>30}  {band}")
