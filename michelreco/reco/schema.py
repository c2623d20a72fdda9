"""The finder's schema: every candidate feature and every parameter, with unit, range and meaning, in one place.

The feature columns of the candidate table and the order of the settings passed to the compiled kernels are
generated from the tuples here, and every parameter value that reaches the finder (keyword arguments,
``--config`` files, sweep grids) is checked against its range here, so a compiled kernel never sees a value it
cannot handle. Units: mm, MeV, MeV/cm, voxels (3 mm), nodes (skeleton nodes, about one voxel apart).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from michelreco.constants import MICHEL_ENDPOINT_MEV, VOXEL_MM
from michelreco.errors import InputError

__all__ = ["Feature", "Param", "KINDS", "PEAK_SHELLS", "FEATURE_SPECS", "FEATURES", "FEATURE_INDEX",
           "PIPELINE_PARAMETERS", "RULE_PARAMETERS", "SELECTION_PARAMETERS", "ALL_PARAMETERS", "TRAINING_PARAMETERS", "SETTINGS",
           "check_value", "parameter_table"]

INF = math.inf


@dataclass(frozen=True)
class Feature:
    """A column of the candidate table: name, unit and meaning."""

    name: str
    unit: str
    doc: str


@dataclass(frozen=True)
class Param:
    """A finder parameter: default, unit, allowed range (inclusive) or choices, and meaning."""

    default: Any
    unit: str
    lo: float
    hi: float
    doc: str
    choices: tuple = ()

    @property
    def kind(self) -> type:
        """The parameter's type: that of its default (float for an optional number)."""
        return float if self.default is None else type(self.default)

    def describe_range(self) -> str:
        """The allowed values, as a user reads them."""
        if self.choices:
            return " | ".join(repr(c) for c in self.choices)
        hi = "inf" if self.hi == INF else f"{self.hi:g}"
        return f"{self.lo:g} .. {hi}"


KINDS = ("stopping_muon", "entering")

# Shells around a candidate's peak (name, inner and outer radius in voxels, the outer one included): the 26
# neighbours, then doubling radii
PEAK_SHELLS: tuple[tuple[str, float, float], ...] = (("0_5mm", 0.0, 1.8), ("5_10mm", 1.8, 3.5),
                                                     ("10_21mm", 3.5, 7.0), ("21_42mm", 7.0, 14.0))

FEATURE_SPECS: tuple[Feature, ...] = (
    Feature("kind", "", "index in KINDS: 0 stopping muon, 1 entering cluster"),
    Feature("cluster", "", "cluster number in the event"),
    Feature("peak_dedx", "MeV/cm", "smoothed dE/ds at the Bragg peak (entering: the largest along the cluster)"),
    Feature("baseline_dedx", "MeV/cm", "truncated-mean dE/ds of the track beyond the peak (entering: of the "
                                       "cluster's main path, from its inner end)"),
    Feature("bragg_ratio", "", "peak_dedx / baseline_dedx (entering: the dE/ds peak within 3 cm of the inner end "
                               "over that baseline: a particle stopping inside)"),
    Feature("muon_length_mm", "mm", "skeleton path length of the track beyond the peak"),
    Feature("muon_linearity", "", "PCA linearity of the last muon_pca_mm of the track before the peak"),
    Feature("muon_face_gap", "voxels", "distance of the far end of that track from the nearest face"),
    Feature("n_voxels", "voxels", "voxels of the candidate"),
    Feature("energy_mev", "MeV", "summed energy of the candidate"),
    Feature("extent_mm", "mm", "largest distance of a candidate voxel from the peak (entering: from the face)"),
    Feature("linearity", "", "PCA linearity of the candidate voxels"),
    Feature("linear_extent_mm", "mm", "extent along the candidate's PCA axis times its linearity"),
    Feature("attach_gap_mm", "mm", "distance from the peak voxel to the nearest candidate voxel"),
    Feature("michel_dedx", "MeV/cm", "candidate energy over its skeleton path length"),
    Feature("crossing_mm", "mm", "track continuing on the far side of the skeleton junction next to the peak "
                                 "(a delta ray or a crossing, not a stopping track; 0 when none)"),
    Feature("rise_ratio", "", "truncated-mean dE/ds 1-3 cm beyond the peak over the baseline (a stopping "
                              "track's rising Bragg curve; a delta-ray bump falls back at once)"),
    Feature("muon_voxels_per_node", "", "voxels per skeleton node along the baseline stretch (~1-2 for a track)"),
    Feature("tortuosity", "", "candidate's skeleton path length over the straight end-to-peak distance"),
    Feature("muon_branches", "", "skeleton branches joining the track between muon_skip_mm and muon_pca_mm"),
    Feature("muon_width_mm", "mm", "transverse rms of the voxels of that stretch of track"),
    Feature("drop_ratio", "", "peak dE/ds over the truncated-mean dE/ds 0.5-2.5 cm after the stop, on the "
                              "candidate's side (one electron, not a shower carrying on)"),
    Feature("michel_cos", "", "cosine between the muon's direction at its stop and the candidate's start"),
    Feature("face_gap", "voxels", "distance of the candidate's nearest voxel from a face of the volume"),
    Feature("mean_voxel_mev", "MeV", "candidate energy per voxel"),
    Feature("max_voxel_mev", "MeV", "largest voxel energy of the candidate"),
    Feature("path_mm", "mm", "skeleton path from the free end to the peak (entering: the whole skeleton)"),
    Feature("cluster_voxels", "voxels", "voxels of the candidate's cluster"),
    Feature("cluster_energy_mev", "MeV", "energy of the candidate's cluster"),
    Feature("cluster_candidates", "", "candidates built from the same cluster (a shower gives many)"),
    Feature("same_peak_candidates", "", "candidates of the cluster whose peak is within 2 voxels of this one "
                                        "(the branches of one electron share their muon's stop)"),
    Feature("peak_node_mev", "MeV", "energy of the voxels assigned to the peak node (the muon's last voxel)"),
    Feature("blob_energy_mev", "MeV", "energy of the small detached clusters (fewer than min_cluster_voxels "
                                      "voxels: Compton electrons of photons) within 15 cm of the peak"),
    Feature("stop_gap_mm", "mm", "distance from the candidate to the nearest stopping-track end of another "
                                 "cluster (a Michel detached from its muon; 10 m when there is none)"),
    Feature("cut_rank", "", "0: cut at the end's highest dE/ds; 1: the second cut, at the highest dE/ds closer to "
                            "the end, made when the first candidate holds more than second_cut_above_mev"),
    Feature("near_energy_mev", "MeV", "entering: energy of the voxels of other clusters of at least "
                                      "min_cluster_voxels within 30 cm of the cluster's centroid (a shower "
                                      "arriving from outside brings other fragments; a Michel whose muon stopped "
                                      "outside arrives alone); 0 for stopping muons"),
    Feature("inward_widening_mm", "mm", "entering: energy-weighted RMS distance from the cluster's principal "
                                        "axis of its inner half minus that of its half at the face (an "
                                        "electromagnetic particle spreads as it goes: an electron entering widens "
                                        "inwards, a shower leaving widens towards the face); 0 for stopping muons"),
    Feature("face_half_energy_frac", "", "entering: share of the cluster's energy in its half at the face (along "
                                         "the principal axis); 0 for stopping muons"),
    Feature("peak_x", "voxels", "Bragg-peak voxel x (entering: the voxel nearest a face)"),
    Feature("peak_y", "voxels", "Bragg-peak voxel y"),
    Feature("peak_z", "voxels", "Bragg-peak voxel z"),
    *(Feature(f"shell_{what}_{name}", unit, f"{doc} of the event's voxels above the energy threshold (every "
              f"cluster, the candidate's own too) {lo:g}-{hi:g} voxels ({lo * VOXEL_MM:g}-{hi * VOXEL_MM:g} mm) "
              f"from the peak: a muon's stop and one electron, or a vertex or a shower's core, where more "
              f"particles meet")
      for what, unit, doc in (("mev", "MeV", "energy"), ("voxels", "voxels", "number"))
      for name, lo, hi in PEAK_SHELLS),
)
FEATURES: tuple[str, ...] = tuple(f.name for f in FEATURE_SPECS)
FEATURE_INDEX: dict[str, int] = {name: k for k, name in enumerate(FEATURES)}

# Clustering and candidate-building parameters.
PIPELINE_PARAMETERS: dict[str, Param] = {
    "energy_threshold_mev": Param(0.13, "MeV", 0.0, 100.0, "voxels at or below this energy are left out of the "
                                  "clusters, skeletons and candidates (0.13: the real data's reference cut, at or "
                                  "below which lie a quarter of its voxels)"),
    "low_voxels": Param("attach", "", 0, 0, "what becomes of the voxels at or below energy_threshold_mev: "
                        "'attach' (those touching a found Michel voxel are Michel too) or 'drop' (never Michel)",
                        choices=("attach", "drop")),
    "eps_voxels": Param(1.8, "voxels", 1.0, 5.0, "clustering radius (1.8: the 26 touching voxels)"),
    "clustering": Param("numba", "", 0, 0, "neighbour search and clusters: 'numba' (ours) or 'sklearn' (the "
                        "slower reference, for benchmarks)", choices=("numba", "sklearn")),
    "min_cluster_voxels": Param(8, "voxels", 1, INF, "smaller clusters are not analysed"),
    "min_branch_hops": Param(6, "voxels", 1, INF, "a skeleton branch must reach this far from the skeleton"),
    "max_chains": Param(12, "", 1, 10_000, "skeleton chains per cluster at most"),
    "window_nodes": Param(5, "nodes", 1, 99, "sliding window of the dE/ds profile (about 3 mm per node)"),
    "max_peak_from_end_mm": Param(250.0, "mm", 3.0, 5000.0, "look for the Bragg peak this far from a free end "
                                  "(a Michel electron's range is at most ~13 cm)"),
    "min_candidate_peak_dedx_mev_cm": Param(4.0, "MeV/cm", 0.0, INF, "ends whose dE/ds peak is lower make no "
                                            "candidate at all (keep at or below the rules' peak threshold)"),
    "baseline_gap_mm": Param(30.0, "mm", 0.0, 5000.0, "skip this much track after the peak before measuring "
                             "the muon dE/ds"),
    "baseline_mm": Param(120.0, "mm", 3.0, 5000.0, "measure the muon's truncated-mean dE/ds over this length"),
    "muon_pca_mm": Param(60.0, "mm", 3.0, 5000.0, "track length beyond the peak used for the muon's PCA"),
    "muon_skip_mm": Param(9.0, "mm", 0.0, 5000.0, "the muon's width and branches are measured from this far "
                          "past the stop"),
    "junction_window_mm": Param(45.0, "mm", 0.0, 5000.0, "a skeleton junction this close to the peak may "
                                "reveal a crossing track"),
    "rise_lo_mm": Param(10.0, "mm", 0.0, 5000.0, "start of the stretch beyond the peak where a stopping "
                        "track's dE/ds rises"),
    "rise_hi_mm": Param(30.0, "mm", 0.0, 5000.0, "end of that stretch (above rise_lo_mm)"),
    "drop_lo_mm": Param(5.0, "mm", 0.0, 5000.0, "start of the stretch after the stop where the candidate's "
                        "dE/ds is measured"),
    "drop_hi_mm": Param(25.0, "mm", 0.0, 5000.0, "end of that stretch (above drop_lo_mm)"),
    "start_mm": Param(30.0, "mm", 0.0, 5000.0, "the candidate's direction is taken over its voxels this close "
                      "to the peak"),
    "max_entering_voxels": Param(300, "voxels", 0, INF, "clusters touching a face up to this size are "
                                 "entering candidates (0: none)"),
    "entering_face_gap": Param(2.0, "voxels", 0.0, 768.0, "a cluster this close to a face touches it"),
    "second_cut_above_mev": Param(round(MICHEL_ENDPOINT_MEV, 2), "MeV", 0.0, INF,
                                  "a free end whose candidate holds more than this (default: the Michel endpoint) "
                                  "gets a second candidate, cut at the highest dE/ds closer to the end (inf: never)"),
}

# Thresholds of the hand rules (``rules.DEFAULT_RULES``).
RULE_PARAMETERS: dict[str, Param] = {
    "min_muon_length_mm": Param(65.0, "mm", 0.0, INF, "track path beyond the Bragg peak (the muon) at least this"),
    "min_muon_linearity": Param(0.6, "", 0.0, 1.0, "PCA linearity of the muon's last centimetres at least this"),
    "max_muon_width_mm": Param(2.3, "mm", 0.0, INF, "transverse rms of the muon's last centimetres at most this "
                               "(a track, not a shower)"),
    "max_muon_branches": Param(0.0, "", 0.0, INF, "skeleton branches joining the muon's last centimetres at most"),
    "min_rise_ratio": Param(1.2, "", 0.0, INF, "dE/ds 1-3 cm before the stop over the muon baseline at least "
                            "this (the rising Bragg curve)"),
    "min_bragg_ratio": Param(1.7, "", 0.0, INF, "peak dE/ds over the muon's truncated-mean dE/ds at least this"),
    "min_peak_dedx_mev_cm": Param(7.0, "MeV/cm", 0.0, INF, "smoothed dE/ds at the peak at least this"),
    "min_baseline_dedx_mev_cm": Param(1.2, "MeV/cm", 0.0, INF, "muon dE/ds at least this (not a faint shower "
                                      "twig)"),
    "max_baseline_dedx_mev_cm": Param(4.5, "MeV/cm", 0.0, INF, "muon dE/ds at most this (a minimum-ionizing "
                                      "track, not a proton)"),
    "max_michel_cos": Param(0.95, "", -1.0, 1.0, "cosine between the muon's last direction and the candidate's "
                            "start at most this (a kink, not a shower carrying on)"),
    "min_drop_ratio": Param(1.3, "", 0.0, INF, "peak dE/ds over the candidate's dE/ds just after the stop at "
                            "least this (one electron leaves, not a shower)"),
    "min_collinear_drop_ratio": Param(4.0, "", 0.0, INF, "a candidate leaving along the muon (no kink) needs at "
                                      "least this drop"),
    "max_attach_gap_mm": Param(6.0, "mm", 0.0, INF, "nearest candidate voxel at most this far from the peak"),
    "min_michel_voxels": Param(4.0, "voxels", 0.0, INF, "candidate at least this many voxels"),
    "max_michel_voxels": Param(400.0, "voxels", 0.0, INF, "candidate at most this many voxels"),
    "min_michel_energy_mev": Param(3.0, "MeV", 0.0, INF, "candidate energy at least this"),
    "max_michel_energy_mev": Param(50.0, "MeV", 0.0, INF, "candidate energy at most this (the Michel endpoint "
                                   "is 52.8 MeV, and photons carry part of it away)"),
    "max_crossing_mm": Param(30.0, "mm", 0.0, INF, "track continuing past the junction next to the peak at "
                             "most this long (the muon must end at the peak)"),
    "max_muon_face_gap": Param(2.0, "voxels", 0.0, 768.0, "a muon shorter than min_muon_length_mm must reach a "
                               "face (it entered the volume and stopped soon after)"),
    "max_entering_dedx_mev_cm": Param(4.0, "MeV/cm", 0.0, INF, "an entering cluster's mean dE/ds at most this "
                                      "(an electron, not a proton)"),
    "min_entering_tortuosity": Param(1.1, "", 0.0, INF, "an entering cluster's skeleton at least this much "
                                     "longer than its end-to-end distance (wiggly, not a muon)"),
    "max_michel_linear_extent_mm": Param(250.0, "mm", 0.0, INF, "candidate's straight extent at most this "
                                         "(not a long straight track)"),
}

# How candidates are chosen.
SELECTION_PARAMETERS: dict[str, Param] = {
    "selection": Param("model", "", 0, 0, "how candidates are chosen: 'model' (the learned tree ensemble) or "
                       "'rules' (the hand rules, interpretable)", choices=("model", "rules")),
    "model": Param("", "", 0, 0, "model file (JSON, from 'michelreco train'); empty: the model shipped with "
                   "the package"),
    "model_threshold": Param(None, "", 0.0, 1.0, "probability at or above which a candidate is a Michel; "
                             "empty (null): the threshold stored in the model"),
    "cut_voxels": Param("model", "", 0, 0, "the voxels near a taken candidate's Bragg peak: 'model' (each decided "
                        "again by the model's cut trees, when its file has them) or 'nodes' (whole skeleton "
                        "nodes, as the candidate was cut)", choices=("model", "nodes")),
}

ALL_PARAMETERS: dict[str, Param] = {**PIPELINE_PARAMETERS, **RULE_PARAMETERS, **SELECTION_PARAMETERS}

# Settings of the tree ensemble that ``michelreco train`` fits (scikit-learn's HistGradientBoostingClassifier
# names): not finder parameters, but checked the same way in configs and sweep grids.
TRAINING_PARAMETERS: dict[str, Param] = {
    "max_iter": Param(600, "trees", 1, 5000, "boosting iterations of the learned selection (its trees)"),
    "learning_rate": Param(0.05, "", 1e-4, 1.0, "shrinkage of each tree's contribution"),
    "max_leaf_nodes": Param(15, "leaves", 2, 1024, "leaves per tree at most"),
    "min_samples_leaf": Param(40, "candidates", 1, 1_000_000, "training candidates per leaf at least"),
    "l2_regularization": Param(3.0, "", 0.0, 1e6, "L2 penalty on the leaf values"),
}
_CHECKED: dict[str, Param] = {**ALL_PARAMETERS, **TRAINING_PARAMETERS}

# Settings of the candidate search, passed to the compiled kernel as one float64 array in this order.
SETTINGS: tuple[str, ...] = (
    "min_cluster_voxels", "min_branch_hops", "max_chains", "window_nodes", "max_peak_from_end_mm",
    "baseline_gap_mm", "baseline_mm", "muon_pca_mm", "junction_window_mm", "rise_lo_mm", "rise_hi_mm",
    "start_mm", "drop_lo_mm", "drop_hi_mm", "max_entering_voxels", "entering_face_gap", "muon_skip_mm",
    "min_candidate_peak_dedx_mev_cm", "second_cut_above_mev")
SETTING_INDEX: dict[str, int] = {name: k for k, name in enumerate(SETTINGS)}

# (lower, upper) pairs whose values must be ordered
_ORDERED = (("rise_lo_mm", "rise_hi_mm"), ("drop_lo_mm", "drop_hi_mm"))


def _type_ok(value: Any, default: Any) -> bool:
    """Does ``value`` have the type of a parameter whose default is ``default`` (None: an optional number)?"""
    if default is None:
        return value is None or _type_ok(value, 0.0)
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, type(default))


def check_value(name: str, value: Any, where: str = "config") -> Any:
    """Return ``value`` checked against parameter ``name`` (ints promoted to float where the default is one)."""
    if name not in _CHECKED:
        raise InputError(f"{where}: unknown parameter '{name}' (known: {', '.join(sorted(_CHECKED))})")
    spec = _CHECKED[name]
    if not _type_ok(value, spec.default):
        raise InputError(f"{where}: parameter '{name}' must be {spec.kind.__name__}"
                         f"{' or null' if spec.default is None else ''}, "
                         f"got {value!r} ({type(value).__name__})")
    if value is None or isinstance(spec.default, str) and not spec.choices:
        return value
    if spec.choices:
        if value not in spec.choices:
            raise InputError(f"{where}: parameter '{name}' must be one of {spec.describe_range()}, got {value!r}")
        return value
    if not spec.lo <= value <= spec.hi:          # NaN fails too
        raise InputError(f"{where}: parameter '{name}' must be in {spec.describe_range()} "
                         f"{spec.unit}".rstrip() + f", got {value!r}")
    return float(value) if spec.default is None or isinstance(spec.default, float) else value


def check_ordered(params: dict[str, Any], where: str = "config") -> None:
    """Refuse a complete parameter set whose lower/upper pairs are out of order."""
    for lo, hi in _ORDERED:
        if params[lo] >= params[hi]:
            raise InputError(f"{where}: '{lo}' ({params[lo]:g}) must be below '{hi}' ({params[hi]:g})")


def parameter_table() -> str:
    """Every parameter with default, unit, range and meaning, as a text table."""
    rows = []
    for title, group in (("pipeline (clusters, skeletons, candidates)", PIPELINE_PARAMETERS),
                         ("selection", SELECTION_PARAMETERS), ("hand-rule thresholds", RULE_PARAMETERS),
                         ("training (michelreco train and sweeps; the finder ignores them)", TRAINING_PARAMETERS)):
        rows.append(f"{title}:")
        for name, p in group.items():
            unit = f" {p.unit}" if p.unit else ""
            allowed = "" if isinstance(p.default, str) and not p.choices else f"  [{p.describe_range()}]"
            rows.append(f"  {name} = {p.default!r}{unit}{allowed}")
            rows.append(f"      {p.doc}")
    return "\n".join(rows)
