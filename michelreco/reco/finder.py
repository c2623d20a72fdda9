"""MichelFinder: clusters, skeletons, Bragg peaks and rules, from an (N, 4) event to Michel voxel indices.

Steps (``docs/algorithm.md``):

1. set aside the voxels at or below ``energy_threshold_mev``; sort the rest by position (the finder never
   depends on the order of the input array);
2. cluster touching voxels (``cluster.voxel_graph``: DBSCAN with min_samples 1 and radius ``eps_voxels``);
3. for each cluster of at least ``min_cluster_voxels`` voxels, build its skeleton, walk in from every free
   end, find the Bragg peak nearest the end and cut there (``candidates.event_candidates``);
4. judge every candidate with the learned model (or the hand rules, ``rules``); the voxels of the candidates
   taken are the Michel voxels, those near their Bragg peaks decided again (``cut_voxels``);
5. the voxels set aside that touch a Michel voxel are Michel too (``low_voxels``).
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from michelreco.config import check_params
from michelreco.constants import GRID_VOXELS
from michelreco.errors import DuplicateVoxelsError, EventInputError, InputError
from michelreco.reco.candidates import event_candidates, one_reading_per_cluster, taken_mask
from michelreco.reco.canonical import canonical_voxels
from michelreco.reco.checks import OK, describe_problem, native_numbers, value_problem, xyze_problem
from michelreco.reco.cut_voxels import cut_rows, deciding_rows, finished_voxels
from michelreco.reco.graph import voxel_graph, voxel_graph_sklearn
from michelreco.reco.low_voxels import touching_low_voxels, with_low_voxels
from michelreco.reco.model import TreeModel, load_model
from michelreco.reco.rules import RuleSet
from michelreco.reco.schema import (ALL_PARAMETERS, FEATURES, KINDS, PIPELINE_PARAMETERS, SETTINGS,
                                    check_ordered)

# PIPELINE_PARAMETERS: from the schema
__all__ = ["PIPELINE_PARAMETERS", "MichelFinder", "checked_event", "found_in_records"]

def _defaults() -> dict[str, Any]:
    """Every parameter's default value."""
    return {name: p.default for name, p in ALL_PARAMETERS.items()}


_MODELS: dict[str, TreeModel] = {}


def load_model_cached(path: str) -> TreeModel:
    """A model file read once per process (finders of a sweep or of a worker share it)."""
    if path not in _MODELS:
        _MODELS[path] = load_model(path or None)
    return _MODELS[path]


def _duplicate_reason(xyze: np.ndarray) -> str:
    """Which voxel of an event is listed twice, and where first (``checks.describe_problem``)."""
    xyze = np.ascontiguousarray(xyze)
    code, voxel, earlier = xyze_problem(xyze, GRID_VOXELS)
    return describe_problem(xyze, code, voxel, earlier, GRID_VOXELS)


def checked_event(xyze: np.ndarray) -> np.ndarray:
    """The event as an array, refused unless (N, 4) numbers, finite, with whole voxel indices 0..767 and energies
    not negative: the value checks of a file's rows (``checks.value_problem``, compiled, ~15 us)."""
    xyze = np.asarray(xyze)
    if xyze.ndim != 2 or xyze.shape[1] != 4:
        raise InputError(f"an event must be an (N, 4) array of x, y, z, energy; got shape {xyze.shape}")
    if xyze.dtype.kind not in "fiu":
        raise InputError(f"an event must hold numbers, got dtype {xyze.dtype}")
    xyze = native_numbers(xyze)
    code, voxel, earlier = value_problem(xyze, GRID_VOXELS)
    if code != OK:
        raise EventInputError(describe_problem(xyze, code, voxel, earlier, GRID_VOXELS))
    return xyze


def found_in_records(records: list[dict]) -> np.ndarray:
    """The voxels ``find`` gives (int32, ascending), from an event's ``explain`` records: those of the taken
    candidates, with the voxels the cut model moved near their peaks, and the voxels at or below the energy
    threshold that touch them."""
    taken = {v for r in records if r["michel"] for v in r["voxels"]}
    for r in records:
        cut = r.get("cut", {})
        taken = taken.difference(cut.get("removed", ())).union(cut.get("added", ()))
    for r in records:
        taken.update(r.get("low_voxels", ()))
    return np.array(sorted(taken), np.int32)


class MichelFinder:
    """Find the Michel-electron voxels of an event, scikit-learn style.

    Every parameter of the schema (``michelreco.reco.schema``) is a keyword argument with its default, checked
    against its range; ``rules`` optionally replaces the rule set (``rules.DEFAULT_RULES`` layout). A sweep is a
    grid of parameter dicts: ``MichelFinder(**params)``.

    Parameters
    ----------
    rules : dict, optional
        A rule set (candidate kind -> rule name -> conditions) in place of ``rules.DEFAULT_RULES``.
{parameters}

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
        check_ordered({**self._params, **checked}, where="MichelFinder")
        self._params.update(checked)
        # derived once here, not per event
        self._model = load_model_cached(self._params["model"]) if self._params["selection"] == "model" else None
        self._cut_model = self._model.cut_model if self._model and self._params["cut_voxels"] == "model" else None
        self._settings = np.array([self._params[name] for name in SETTINGS], dtype=np.float64)
        if self._model is None and "entering" not in self._rules.kinds:
            self._settings[SETTINGS.index("max_entering_voxels")] = 0   # nobody judges them: do not build them
        self._rule_values = self._rules.values(self._params)
        return self

    @property
    def model(self) -> TreeModel | None:
        """The tree ensemble that chooses the candidates (None when the hand rules do)."""
        return self._model

    def pipeline_differences(self) -> list[str]:
        """The pipeline parameters whose value here differs from the one the model was trained with (as its file
        records them; ``clustering`` gives the same clusters either way): its candidates then differ from those
        it learned from. Empty with the hand rules, or when the model records no pipeline."""
        if self._model is None:
            return []
        trained = (self._model.meta or {}).get("training", {}).get("pipeline", {})
        out = []
        for name, value in trained.items():
            if name == "clustering" or name not in PIPELINE_PARAMETERS:
                continue
            value = float(value) if value == "inf" else value       # strict JSON writes infinity as "inf"
            if value != self._params[name]:
                out.append(f"{name} {value!r} (here {self._params[name]!r})")
        return out

    def __repr__(self) -> str:
        changed = {k: v for k, v in self._params.items() if v != _defaults()[k]}
        return f"MichelFinder({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    # -- finding ----------------------------------------------------------------------------------
    def candidates(self, xyze: np.ndarray, validate: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                          np.ndarray]:
        """The candidates of an event: (original indices of the kept voxels, features (C, len(FEATURES)),
        ptr, vox), candidate c's voxels being ``vox[ptr[c]:ptr[c + 1]]`` (into the kept voxels).

        ``validate=False`` skips ``checked_event``, for callers that have checked the row already (a file's rows
        are checked as they are read, ``run.io.check_xyze_row``): the kernels must never see an unchecked array.
        An event with a voxel listed twice raises ``EventInputError`` naming it, in either case.
        """
        index, _, feats, ptr, vox = self._event(xyze, validate)
        return index, feats, ptr, vox

    def candidates_and_cut(self, xyze: np.ndarray, validate: bool = True) -> tuple:
        """``candidates`` and the voxels near every stopping-muon candidate's peak (``cut_voxels.cut_rows``:
        candidate, kept voxel, features): for callers that judge several selections of the same candidates
        (the sweep, training, ``diagnose``), which ``choose`` then finishes as ``find`` does."""
        index, event, feats, ptr, vox = self._event(xyze, validate)
        return index, feats, ptr, vox, cut_rows(*event, feats, ptr, vox, np.ones(feats.shape[0], np.bool_))

    def _event(self, xyze: np.ndarray, validate: bool) -> tuple:
        """``candidates`` with the kept voxels (xyz float64, energy, cluster labels) in between."""
        if validate:
            xyze = checked_event(xyze)
        p = self._params
        try:
            index, xyz, xyz_f, energy = canonical_voxels(xyze, float(p["energy_threshold_mev"]))
        except DuplicateVoxelsError:
            raise EventInputError(_duplicate_reason(xyze)) from None
        if p["clustering"] == "numba":
            labels, indptr, nbrs = voxel_graph(xyz, p["eps_voxels"], validate=False)
        else:
            labels, indptr, nbrs = voxel_graph_sklearn(xyz, p["eps_voxels"])
        feats, ptr, vox = event_candidates(xyz_f, energy, labels, indptr, nbrs, self._settings)
        return index, (xyz_f, energy, labels), feats, ptr, vox

    def find(self, xyze: np.ndarray, validate: bool = True) -> np.ndarray:
        """Indices (int32, ascending) of the Michel voxels of an (N, 4) event (``validate``: see ``candidates``)."""
        if validate:
            xyze = checked_event(xyze)
        index, event, feats, ptr, vox = self._event(xyze, False)
        return self.with_low_voxels(xyze, self._after_selection(index, event, feats, ptr, vox, self.decide(feats)))

    def with_low_voxels(self, xyze: np.ndarray, found: np.ndarray) -> np.ndarray:
        """``found`` (indices of voxels above the energy threshold, ascending) and, with ``low_voxels='attach'``,
        the event's voxels at or below the threshold that touch them (``low_voxels.with_low_voxels``)."""
        threshold = self._attach_below()
        if threshold is None or len(found) == 0:
            return found
        return with_low_voxels(native_numbers(np.asarray(xyze)), found, threshold)

    def candidate_voxels(self, xyze: np.ndarray, index: np.ndarray, ptr: np.ndarray,
                         vox: np.ndarray) -> list[np.ndarray]:
        """Each candidate's voxels (indices into ``xyze``, int32, ascending) as taking it alone gives them: its
        own and the faint voxels that touch them (``with_low_voxels``)."""
        return [self.with_low_voxels(xyze, np.sort(index[vox[ptr[c]:ptr[c + 1]]]).astype(np.int32))
                for c in range(len(ptr) - 1)]

    def warm_up(self, xyze: np.ndarray) -> None:
        """Run every kernel once on an event, so that numba compiles them or loads them from its cache: ``find``,
        and the faint voxels' kernel, which ``find`` runs only where it finds a Michel."""
        self.find(xyze)
        self.with_low_voxels(xyze, np.arange(min(1, len(xyze)), dtype=np.int32))

    def _attach_below(self) -> float | None:
        """The energy (MeV) at or below which a voxel touching a found one joins it; None: none joins."""
        return float(self._params["energy_threshold_mev"]) if self._params["low_voxels"] == "attach" else None

    def _after_selection(self, index: np.ndarray, event: tuple, feats: np.ndarray, ptr: np.ndarray,
                         vox: np.ndarray, take: np.ndarray) -> np.ndarray:
        """``find``'s last step: the voxels of the taken candidates, those near their peaks described for the
        cut model (taken candidates only) and decided again."""
        cut = cut_rows(*event, feats, ptr, vox, take) if self._cut_model is not None and take.any() else None
        return self.voxels_of_selection(index, ptr, vox, take, cut)

    def michel_energies(self, xyze: np.ndarray, recover_radius_mm: float | None = None) -> np.ndarray:
        """Energy (MeV) of each Michel found in an event: its voxels' sum, or, with ``recover_radius_mm``,
        that plus the small detached photon blobs within that distance (``energy.recovered_energies``)."""
        from michelreco.reco.energy import michel_cluster_energies, recovered_energies

        found = self.find(xyze)
        if recover_radius_mm is None:
            return michel_cluster_energies(np.asarray(xyze), found)
        return recovered_energies(np.asarray(xyze), found, recover_radius_mm)

    def choose(self, index: np.ndarray, feats: np.ndarray, ptr: np.ndarray, vox: np.ndarray,
               cut: tuple | None = None, xyze: np.ndarray | None = None) -> np.ndarray:
        """Indices (int32, ascending) of the voxels of the chosen candidates.

        Parameters
        ----------
        index, feats, ptr, vox : numpy.ndarray
            An event's candidates, as ``candidates`` returns them: original indices of the kept voxels, the
            feature table (C, len(FEATURES)), and candidate c's voxels ``vox[ptr[c]:ptr[c + 1]]``.
        cut : tuple, optional
            The voxels near the candidates' peaks (``candidates_and_cut``): with a model that has cut trees,
            they are decided again as ``find`` does; without them, whole candidates are taken.
        xyze : numpy.ndarray, optional
            The event: its voxels at or below the energy threshold that touch the chosen ones are added, as
            ``find`` adds them (``with_low_voxels``); without it, the chosen voxels above the threshold only.

        Returns
        -------
        numpy.ndarray
            Original indices (int32, ascending) of the voxels of the candidates ``decide`` takes.
        """
        return self.voxels_of_selection(index, ptr, vox, self.decide(feats), cut, xyze)

    def voxels_of_selection(self, index: np.ndarray, ptr: np.ndarray, vox: np.ndarray, take: np.ndarray,
                            cut: tuple | None, xyze: np.ndarray | None = None) -> np.ndarray:
        """Indices (int32, ascending) of the voxels ``find`` gives when the candidates flagged in ``take`` are taken
        (any selection, a perfect one for ``diagnose``): theirs, those near their peaks decided again by the cut
        model when ``cut`` (``candidates_and_cut``) is given and the finder has one, and, when the event ``xyze``
        is given, the voxels at or below the threshold that touch them (``with_low_voxels``)."""
        if cut is None or self._cut_model is None:
            found = finished_voxels(index, ptr, vox, take)
        else:
            found = finished_voxels(index, ptr, vox, take, cut, self._cut_verdicts(cut[2]))
        return found if xyze is None else self.with_low_voxels(xyze, found)

    def _cut_verdicts(self, table: np.ndarray) -> np.ndarray:
        """The cut model's verdict (Michel or not) on each row of a cut table."""
        return self._cut_model.decide(table) if len(table) else np.zeros(0, np.bool_)

    def decide(self, feats: np.ndarray) -> np.ndarray:
        """Which candidates of a feature table are Michels: the model's verdict, or the hand rules', with each
        cluster and each free end read one way (``candidates.one_reading_per_cluster``)."""
        return one_reading_per_cluster(feats, self.verdicts(feats))

    def verdicts(self, feats: np.ndarray) -> np.ndarray:
        """The model's (or the hand rules') verdict on each candidate alone."""
        if self._model is not None:
            return self._model.decide(feats, self._params["model_threshold"])
        return self._rules.run(feats, self._rule_values)

    def explain(self, xyze: np.ndarray, top: int = 3) -> list[dict]:
        """One record per candidate: features, the decision (``overruled``: taken alone, dropped by
        ``one_reading_per_cluster``), the hand rules' verdicts (with reasons), and with a model its probability
        and the ``top`` features that moved the score most (log-odds). A taken candidate whose voxels near its
        peak the cut model decided again (``cut_voxels``) also lists the voxels it ``added`` and ``removed``
        there (``cut``), and the voxels at or below the energy threshold that touch its final voxels
        (``low_voxels``): ``find`` gives the taken candidates' voxels with those changes and additions
        (``found_in_records``)."""
        xyze = checked_event(xyze)
        index, event, feats, ptr, vox = self._event(xyze, False)
        verdict = self.verdicts(feats)
        michel = one_reading_per_cluster(feats, verdict)
        moves = self._cut_moves(index, event, feats, ptr, vox, michel)
        prob = self._model.probabilities(feats) if self._model is not None else None
        records = []
        for c in range(feats.shape[0]):
            record = {
                "candidate": c,
                "kind": KINDS[int(feats[c, 0])],
                "michel": bool(michel[c]),
                "overruled": bool(verdict[c] and not michel[c]),   # taken alone, dropped by one_reading_per_cluster
                "selection": self._params["selection"],
                "features": {name: float(feats[c, k]) for k, name in enumerate(FEATURES)},
                "rules": self._rules.reasons(feats[c], self._params),
                "rules_michel": bool(self._rules.run(feats[c:c + 1], self._rule_values)[0]),
                "voxels": np.sort(index[vox[ptr[c]:ptr[c + 1]]]).tolist(),
            }
            if prob is not None:
                moved = sorted(self._model.contributions(feats[c]).items(), key=lambda kv: -abs(kv[1]))[:top]
                record["score"] = float(prob[c])
                record["threshold"] = self.threshold
                record["top_features"] = {name: round(value, 4) for name, value in moved}
            if c in moves:
                record["cut"] = moves[c]
            records.append(record)
        final = set(found_in_records(records).tolist())
        threshold = self._attach_below()
        for record in records:
            if record["michel"]:
                own = set(record["voxels"]).union(record.get("cut", {}).get("added", ())) & final
                touching = [] if threshold is None or not own else touching_low_voxels(
                    xyze, np.array(sorted(own), np.int64), threshold).tolist()
                record["low_voxels"] = touching
        return records

    def _cut_moves(self, index: np.ndarray, event: tuple, feats: np.ndarray, ptr: np.ndarray, vox: np.ndarray,
                   take: np.ndarray) -> dict[int, dict[str, list[int]]]:
        """Per taken candidate, the voxels the cut model added to the taken ones and removed from them, each
        voxel charged to the candidate whose row decided it (``cut_voxels.deciding_rows``)."""
        if self._cut_model is None or not take.any():
            return {}
        candidate, voxel, table = cut_rows(*event, feats, ptr, vox, take)
        michel = self._cut_verdicts(table)
        whole = taken_mask(len(index), ptr, vox, take)
        row = deciding_rows(len(index), take, candidate, voxel, table[:, 3])
        moves: dict[int, dict[str, list[int]]] = {}
        for v in np.flatnonzero(row >= 0):
            r = row[v]
            if michel[r] != whole[v]:
                entry = moves.setdefault(int(candidate[r]), {"added": [], "removed": []})
                entry["added" if michel[r] else "removed"].append(int(index[v]))
        for entry in moves.values():
            entry["added"].sort()
            entry["removed"].sort()
        return moves

    @property
    def threshold(self) -> float | None:
        """The model's decision threshold in use (None with the hand rules)."""
        if self._model is None:
            return None
        t = self._params["model_threshold"]
        return self._model.threshold if t is None else t


def _document_parameters() -> None:
    """Put every schema parameter into ``MichelFinder``'s signature and docstring (what ``help`` shows)."""
    lines = []
    for name, spec in ALL_PARAMETERS.items():
        unit = f" {spec.unit}" if spec.unit else ""
        lines.append(f"    {name} : {spec.kind.__name__}, default {spec.default!r}")
        lines.append(f"        {spec.doc} [{spec.describe_range()}{unit}]")
    MichelFinder.__doc__ = MichelFinder.__doc__.replace("{parameters}", "\n".join(lines))
    kw = inspect.Parameter.KEYWORD_ONLY
    MichelFinder.__init__.__signature__ = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
         inspect.Parameter("rules", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)]
        + [inspect.Parameter(name, kw, default=spec.default) for name, spec in ALL_PARAMETERS.items()])


_document_parameters()
