"""MichelFinder: clusters, skeletons, Bragg peaks and rules, from an (N, 4) event to Michel voxel indices.

Steps (``docs/algorithm.md``):

1. drop voxels at or below ``energy_threshold_mev``; sort the rest by position (the finder never depends
   on the order of the input array);
2. cluster touching voxels (``cluster.voxel_graph``: DBSCAN with min_samples 1 and radius ``eps_voxels``);
3. for each cluster of at least ``min_cluster_voxels`` voxels, build its skeleton, walk in from every free
   end, find the Bragg peak nearest the end and cut there (``candidates.event_candidates``);
4. judge every candidate with the rule set (``rules``); the voxels of the candidates that pass every rule
   are the Michel voxels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from michelreco.reco.candidates import FEATURES, KINDS, SETTINGS, chosen_voxels, event_candidates
from michelreco.reco.canonical import canonical_voxels
from michelreco.reco.graph import voxel_graph, voxel_graph_sklearn
from michelreco.config import check_params
from michelreco.errors import InputError
from michelreco.reco.rules import PARAMETERS, RuleSet

__all__ = ["PIPELINE_PARAMETERS", "MichelFinder"]

# Clustering and candidate-building parameters: (default, unit, meaning).
PIPELINE_PARAMETERS: dict[str, tuple[Any, str, str]] = {
    "energy_threshold_mev": (0.0, "MeV", "ignore voxels at or below this energy"),
    "eps_voxels": (1.8, "voxels", "clustering radius (1.8: the 26 touching voxels)"),
    "clustering": ("numba", "", "neighbour search and clusters: 'numba' (ours) or 'sklearn' (the slower "
                   "reference, for benchmarks)"),
    "min_cluster_voxels": (24, "voxels", "smaller clusters are not analysed (a Michel of a few voxels on a "
                           "muon long enough for the Bragg-peak test, min_muon_length_mm, needs more)"),
    "min_branch_hops": (6, "voxels", "a skeleton branch must reach this far from the skeleton"),
    "max_chains": (12, "", "skeleton chains per cluster at most"),
    "window_nodes": (5, "nodes", "sliding window of the dE/ds profile (about 3 mm per node)"),
    "max_peak_from_end_mm": (250.0, "mm", "look for the Bragg peak this far from a free end (Michel "
                             "electron range is at most ~13 cm)"),
    "min_candidate_peak_dedx_mev_cm": (6.5, "MeV/cm", "ends whose dE/ds peak is lower make no candidate at all "
                                       "(saves time; keep below the bragg_peak rule's threshold)"),
    "baseline_gap_mm": (30.0, "mm", "skip this much track after the peak before measuring the muon dE/ds"),
    "baseline_mm": (120.0, "mm", "measure the muon's truncated-mean dE/ds over this length"),
    "muon_pca_mm": (60.0, "mm", "track length beyond the peak used for the muon's PCA"),
    "muon_skip_mm": (9.0, "mm", "the muon's width and branches are measured from this far past the stop"),
    "junction_window_mm": (45.0, "mm", "a skeleton junction this close to the peak may reveal a crossing track"),
    "rise_lo_mm": (10.0, "mm", "start of the stretch beyond the peak where a stopping track's dE/ds rises"),
    "rise_hi_mm": (30.0, "mm", "end of that stretch"),
    "drop_lo_mm": (5.0, "mm", "start of the stretch after the stop where the candidate's dE/ds is measured"),
    "drop_hi_mm": (25.0, "mm", "end of that stretch"),
    "start_mm": (30.0, "mm", "the candidate's direction is taken over its voxels this close to the peak"),
    "max_entering_voxels": (300, "voxels", "clusters touching a face up to this size are entering candidates"),
    "entering_face_gap": (2.0, "voxels", "a cluster this close to a face touches it"),
}


def _defaults() -> dict[str, Any]:
    out = {name: spec[0] for name, spec in PIPELINE_PARAMETERS.items()}
    out.update({name: p.default for name, p in PARAMETERS.items()})
    return out


class MichelFinder:
    """Find the Michel-electron voxels of an event, scikit-learn style.

    Every parameter of ``PIPELINE_PARAMETERS`` and ``rules.PARAMETERS`` is a keyword argument with
    that default; ``rules`` optionally replaces the rule set (``rules.DEFAULT_RULES`` layout). A sweep
    is a grid of parameter dicts: ``MichelFinder(**params)``.

    Examples
    --------
    >>> finder = MichelFinder(min_bragg_ratio=1.8)
    >>> finder.get_params()["min_bragg_ratio"]
    1.8
    """

    def __init__(self, rules: dict | None = None, **params: Any):
        self._params = _defaults()
        self._rules_data = rules
        self._rules = RuleSet(rules)
        self.set_params(**params)

    # -- scikit-learn parameter protocol ------------------------------------------------------------
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """All parameters (and ``rules`` when a custom rule set was given)."""
        out = dict(self._params)
        if self._rules_data is not None:
            out["rules"] = self._rules_data
        return out

    def set_params(self, **params: Any) -> MichelFinder:
        """Set parameters by name; unknown names or wrong types raise InputError."""
        if "rules" in params:
            self._rules_data = params.pop("rules")
            self._rules = RuleSet(self._rules_data)
        checked = check_params(params, _defaults(), where="MichelFinder")
        if checked.get("clustering", "numba") not in ("numba", "sklearn"):
            raise InputError(f"MichelFinder: clustering must be 'numba' or 'sklearn', got {checked['clustering']!r}")
        if checked.get("eps_voxels", 1.0) <= 0:
            raise InputError(f"MichelFinder: eps_voxels must be positive, got {checked['eps_voxels']}")
        self._params.update(checked)
        # derived once here, not per event
        self._settings = np.array([self._params[name] for name in SETTINGS], dtype=np.float64)
        if "entering" not in self._rules.kinds:
            self._settings[SETTINGS.index("max_entering_voxels")] = 0   # nobody judges them: do not build them
        self._rule_values = self._rules.values(self._params)
        return self

    def __repr__(self) -> str:
        changed = {k: v for k, v in self._params.items() if v != _defaults()[k]}
        return f"MichelFinder({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    # -- finding ----------------------------------------------------------------------------------
    def candidates(self, xyze: np.ndarray):
        """The candidates of an event: (original indices of the kept voxels, features (C, len(FEATURES)),
        ptr, vox), candidate c's voxels being ``vox[ptr[c]:ptr[c + 1]]`` (into the kept voxels)."""
        xyze = np.asarray(xyze)
        if xyze.ndim != 2 or xyze.shape[1] != 4:
            raise InputError(f"an event must be an (N, 4) array of x, y, z, energy; got shape {xyze.shape}")
        p = self._params
        index, xyz, xyz_f, energy = canonical_voxels(xyze, float(p["energy_threshold_mev"]))
        if p["clustering"] == "numba":
            labels, indptr, nbrs = voxel_graph(xyz, p["eps_voxels"], validate=False)
        else:
            labels, indptr, nbrs = voxel_graph_sklearn(xyz, p["eps_voxels"])
        feats, ptr, vox = event_candidates(xyz_f, energy, labels, indptr, nbrs, self._settings)
        return index, feats, ptr, vox

    def find(self, xyze: np.ndarray) -> np.ndarray:
        """Indices (int32, ascending) of the Michel voxels of an (N, 4) event."""
        return self.choose(*self.candidates(xyze))

    def michel_energies(self, xyze: np.ndarray, recover_radius_mm: float | None = None) -> np.ndarray:
        """Energy (MeV) of each Michel found in an event: its voxels' sum, or, with ``recover_radius_mm``,
        that plus the small detached photon blobs within that distance (``energy.recovered_energies``)."""
        from michelreco.reco.energy import michel_cluster_energies, recovered_energies

        found = self.find(xyze)
        if recover_radius_mm is None:
            return michel_cluster_energies(np.asarray(xyze), found)
        return recovered_energies(np.asarray(xyze), found, recover_radius_mm)

    def choose(self, index, feats, ptr, vox) -> np.ndarray:
        """Indices (int32, ascending) of the voxels of the candidates that pass the rules."""
        return chosen_voxels(index, ptr, vox, self._rules.run(feats, self._rule_values))

    def explain(self, xyze: np.ndarray) -> list[dict]:
        """One record per candidate: its features, each rule's verdict with reason, and the decision."""
        index, feats, ptr, vox = self.candidates(xyze)
        records = []
        for c in range(feats.shape[0]):
            reasons = self._rules.reasons(feats[c], self._params)
            michel = bool(self._rules.run(feats[c:c + 1], self._rule_values)[0])
            records.append({
                "candidate": c,
                "kind": KINDS[int(feats[c, 0])],
                "features": {name: float(feats[c, k]) for k, name in enumerate(FEATURES)},
                "rules": reasons,
                "michel": michel,
                "voxels": np.sort(index[vox[ptr[c]:ptr[c + 1]]]).tolist(),
            })
        return records
