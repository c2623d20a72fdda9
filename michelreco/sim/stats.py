"""Calibration figures of a simulated sample beside the real-data values, each with its accepted band.

The real values come from DeepLearnPhysics samples of the challenge's kind (the table in
``docs/simulation.md``, section 4). Every figure has a band; :func:`sim_stats` returns them,
:func:`print_sim_stats` prints the table (``OUT`` marks a figure outside its band) and
:func:`sim_stats_json` gives one JSON object (``michelreco sim-stats PREFIX --json``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from michelreco.constants import LABEL_DELTA, LABEL_LOW_ENERGY, LABEL_MICHEL, LABEL_SHOWER, LABEL_TRACK
from michelreco.errors import InputError
from michelreco.run.io import iter_events, iter_labels
from .generate import sim_paths

__all__ = ["THRESHOLD_MEV", "Figure", "sim_stats", "sim_stats_json", "print_sim_stats", "out_of_band"]

THRESHOLD_MEV = 0.13   # the reference figures count voxels above this energy


@dataclass(frozen=True)
class Figure:
    """One calibration figure.

    Attributes
    ----------
    key : str
        Name in the JSON object.
    name : str
        Row title in the table.
    number : float or None
        The banded value, in the JSON unit (fractions as 0-1), None when it cannot be computed.
    text : str
        The value as printed (may show percentiles around ``number``).
    real : str
        The real-data value.
    band : tuple of float
        Accepted range of ``number`` (inclusive).
    percent : bool
        Print ``number`` and the band as a percentage.
    """

    key: str
    name: str
    number: float | None
    text: str
    real: str
    band: tuple[float, float]
    percent: bool = False

    @property
    def in_band(self) -> bool:
        """Is the number inside the band (False when it could not be computed)?"""
        return self.number is not None and bool(self.band[0] <= self.number <= self.band[1])

    def band_text(self) -> str:
        """The band in the printed unit."""
        k = 100.0 if self.percent else 1.0
        return f"[{self.band[0] * k:g}, {self.band[1] * k:g}]"


def _pct(a, qs) -> str:
    """Percentiles ``qs`` of ``a`` as 'a / b / c' (3 significant digits), '-' when empty."""
    if len(a) == 0:
        return "-"
    return " / ".join(f"{v:.3g}" for v in np.percentile(a, qs))


def _median(a) -> float | None:
    """Median of ``a`` as a float, None when empty."""
    return float(np.median(a)) if len(a) else None


def _load_truth(prefix):
    """The sample's truth file, or a one-line error."""
    paths = sim_paths(prefix)
    if not paths.truth.exists():
        raise InputError(f"{paths.truth}: no such file (run 'michelreco sim --out {prefix}' first)")
    try:
        return paths, np.load(paths.truth)
    except (OSError, ValueError) as err:
        raise InputError(f"{paths.truth}: not a simulator truth file ({err})") from None


def sim_stats(prefix) -> list[Figure]:
    """Compute the calibration figures of the sample written with ``michelreco sim --out PREFIX``.

    Parameters
    ----------
    prefix : str or path
        The sample's prefix (PREFIX_xyze.h5, PREFIX_label.h5, PREFIX_truth.npz).

    Returns
    -------
    list of Figure
        One figure per table row, each with a band.

    Raises
    ------
    InputError
        When the files are missing or not a simulated sample.
    """
    return _compute(prefix)[0]


def _compute(prefix) -> tuple[list[Figure], dict]:
    """The figures and the unbanded extras (events, all Michels per event, family quartiles, config)."""
    paths, truth = _load_truth(prefix)
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
    if n_events == 0:
        raise InputError(f"{paths.xyze}: no events")
    n_voxels, above = np.array(n_voxels), np.array(above)
    energies = np.concatenate(energies)
    med = {k: _median(np.concatenate(v)) for k, v in by_class.items()}
    per_event = np.bincount(michels["event"], minlength=n_events) if len(michels) else np.zeros(n_events)
    total_vox = max(int(n_voxels.sum()), 1)
    e_pct = np.percentile(energies, [10, 90]) if len(energies) else [np.nan, np.nan]
    fam = michels["n_subtree"]

    def fmt(x, spec):
        return "-" if x is None else format(x, spec)

    return [
        Figure("voxels_per_event_mean", "voxels per event, all deposits (mean)", float(n_voxels.mean()),
               f"{n_voxels.mean():.0f}", "about 4,200", (2500, 6500)),
        Figure("voxels_above_threshold_per_event_median", "voxels per event > 0.13 MeV (min / median / max)",
               float(np.median(above)), f"{above.min()} / {np.median(above):.0f} / {above.max()}",
               "500 / 2,800 / 7,200", (1800, 4000)),
        Figure("low_energy_voxel_fraction", "fraction of voxels <= 0.13 MeV", 1 - above.sum() / total_vox,
               f"{1 - above.sum() / total_vox:.3f}", "about 0.25", (0.21, 0.29)),
        Figure("voxel_energy_above_threshold_median_mev", "voxel energy > 0.13 MeV, median (MeV)",
               _median(energies), fmt(_median(energies), ".2f"), "0.51", (0.35, 0.70)),
        Figure("voxel_energy_above_threshold_pct90_mev", "voxel energy > 0.13 MeV, pct 10 / 90, max (MeV)",
               float(e_pct[1]) if len(energies) else None,
               f"{e_pct[0]:.2f} / {e_pct[1]:.2f}, {energies.max():.1f}" if len(energies) else "-",
               "0.19 / 1.02, ~13", (0.75, 1.30)),
        Figure("track_voxel_energy_median_mev", "median voxel energy > 0.13 MeV: track (MeV)", med[LABEL_TRACK],
               fmt(med[LABEL_TRACK], ".2f"), "0.54", (0.40, 0.70)),
        Figure("shower_voxel_energy_median_mev", "median voxel energy > 0.13 MeV: shower (MeV)", med[LABEL_SHOWER],
               fmt(med[LABEL_SHOWER], ".2f"), "0.51", (0.35, 0.70)),
        Figure("low_energy_label_voxel_energy_median_mev", "median voxel energy > 0.13 MeV: low-energy (MeV)",
               med[LABEL_LOW_ENERGY], fmt(med[LABEL_LOW_ENERGY], ".2f"), "0.29", (0.20, 0.40)),
        Figure("michels_per_event", "Michel electrons per event (>= 1 label-2 voxel)", len(michels) / n_events,
               f"{len(michels) / n_events:.3f}", "0.736", (0.5, 1.0)),
        Figure("events_with_michel_fraction", "events with >= 1 Michel", float(np.mean(per_event > 0)),
               f"{100 * np.mean(per_event > 0):.1f}%", "53%", (0.40, 0.70), percent=True),
        Figure("michel_energy_median_mev", "Michel KE pct 5/25/50/75/95 (MeV)", _median(michels["energy_mev"]),
               _pct(michels["energy_mev"], [5, 25, 50, 75, 95]), "15.5 / 28.5 / 37.7 / 45.2 / 50.7", (33, 42)),
        Figure("label2_voxels_per_michel_median", "label-2 voxels per Michel pct 25/50/75/95",
               _median(michels["n_label2"]), _pct(michels["n_label2"], [25, 50, 75, 95]),
               "about 55 median (touching rule)", (40, 150)),
        Figure("michel_family_voxels_median", "voxels of Michel + descendants pct 25/50/75/95", _median(fam),
               _pct(fam, [25, 50, 75, 95]), "61 / 103 / 145 / 205", (85, 125)),
        Figure("michels_attached_fraction", "Michels attached to a visible muon end",
               float(np.mean(michels["attached"])) if len(michels) else None,
               f"{100 * np.mean(michels['attached']):.1f}%" if len(michels) else "-", "84%", (0.78, 0.90),
               percent=True),
        Figure("michels_contained_fraction", "Michels fully contained",
               float(np.mean(michels["contained"])) if len(michels) else None,
               f"{100 * np.mean(michels['contained']):.1f}%" if len(michels) else "-", "83%", (0.78, 0.90),
               percent=True),
        Figure("michel_voxel_fraction", "Michel voxels (of all)", n_michel_vox / total_vox,
               f"{100 * n_michel_vox / total_vox:.2f}%", "about 1%", (0.005, 0.04), percent=True),
        Figure("michel_delta_voxel_fraction", "Michel + delta voxels (of all)",
               (n_michel_vox + n_delta_vox) / total_vox,
               f"{100 * (n_michel_vox + n_delta_vox) / total_vox:.2f}%", "1-2%", (0.01, 0.025), percent=True),
    ], {"events": n_events, "michels_per_event_all": len(all_michels) / n_events,
        "michel_family_voxels_q25": float(np.percentile(fam, 25)) if len(fam) else None,
        "michel_family_voxels_q75": float(np.percentile(fam, 75)) if len(fam) else None,
        "config": json.loads(str(truth["config"])) if "config" in truth.files else None}


def out_of_band(figs: list[Figure]) -> list[str]:
    """Keys of the figures outside their band."""
    return [f.key for f in figs if not f.in_band]


def sim_stats_json(prefix) -> dict:
    """The calibration figures as one JSON-ready dict.

    Parameters
    ----------
    prefix : str or path
        The sample's prefix.

    Returns
    -------
    dict
        Every figure's ``key: number`` (fractions as 0-1, counts, MeV), ``events``,
        ``michels_per_event_all`` (Michels whether in the image or not), the family-voxel quartiles,
        ``bands`` (``key: [lo, hi]``), ``out_of_band`` (keys) and the sample's ``config``.
    """
    figs, extra = _compute(prefix)
    out = {f.key: f.number for f in figs}
    out.update({k: v for k, v in extra.items() if k != "config"})
    out["bands"] = {f.key: list(f.band) for f in figs}
    out["out_of_band"] = out_of_band(figs)
    out["config"] = extra["config"]
    return out


def print_sim_stats(prefix, as_json: bool = False) -> list[str]:
    """Print the calibration table (or the JSON object) of a simulated sample.

    Parameters
    ----------
    prefix : str or path
        The sample's prefix.
    as_json : bool, optional
        Print one JSON object instead of the table.

    Returns
    -------
    list of str
        Keys of the figures outside their band.
    """
    if as_json:
        out = sim_stats_json(prefix)
        print(json.dumps(out, indent=1, sort_keys=False))
        return out["out_of_band"]
    figs, extra = _compute(prefix)
    width = max(len(f.name) for f in figs)
    print(f"{extra['events']} events")
    print(f"{'figure':<{width}}  {'simulated':>30}  {'real data':>32}  band")
    for f in figs:
        flag = "ok" if f.in_band else "OUT"
        print(f"{f.name:<{width}}  {f.text:>30}  {f.real:>32}  {f.band_text()} {flag}")
    bad = out_of_band(figs)
    print(f"{len(figs) - len(bad)} of {len(figs)} figures inside their band"
          + (f"; outside: {', '.join(bad)}" if bad else ""))
    return bad
