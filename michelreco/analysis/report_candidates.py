"""A finder's candidate in words for the report: its decision, size, Bragg peak and the reasons for it."""

from __future__ import annotations

import re

import numpy as np

from michelreco.analysis.report_html import esc
from michelreco.constants import MICHEL_LABEL

__all__ = ["RULE_MEANINGS", "feature_specs", "describe_candidate"]

RULE_MEANINGS = {
    "stopping_track": "the muon's last centimetres are straight, thin and unbranched",
    "long_or_entering": "the muon is long enough, or enters through a face of the volume",
    "bragg_peak": "a Bragg peak: dE/dx rises at the stop, well above the muon's minimum-ionizing level",
    "attached": "the candidate starts at the Bragg peak",
    "track_ends_at_peak": "no track carries on past the peak",
    "kink": "the electron leaves at an angle, or dE/dx drops sharply after the stop",
    "electron_after_peak": "dE/dx drops after the stop (one electron, not a shower carrying on)",
    "electron_size": "as many voxels and as much energy as a Michel electron can have",
    "not_a_track": "not a long straight track",
    "electron_dedx": "the dE/dx of an electron",
    "wiggly": "wiggly, like an electron",
}

_REASON = re.compile(r"^(\w+) = ([^,]+), needs (<=|>=) (\w+) = (\S+)$")


def feature_specs() -> dict:
    """The meaning and unit of each feature of the finder.

    Returns
    -------
    dict
        Feature name -> (unit, meaning), from the finder's schema.
    """
    from michelreco.reco.schema import FEATURE_SPECS

    return {f.name: (f.unit, f.doc) for f in FEATURE_SPECS}


def _reason_html(text: str, specs: dict) -> str:
    """A failed condition ("feature = v, needs >= p = x") with the feature's meaning and unit."""
    parts = []
    for piece in text.removeprefix("none of: ").split(" | "):
        m = _REASON.match(piece.strip())
        if not m:
            parts.append(esc(piece))
            continue
        feature, value, op, _, need = m.groups()
        unit, doc = specs.get(feature, ("", ""))
        unit = f" {unit}" if unit else ""
        parts.append(f'<abbr title="{esc(doc)}">{esc(feature.replace("_", " "))}</abbr> {esc(value)}{esc(unit)}, '
                     f'needs {"≥" if op == ">=" else "≤"} {esc(need)}{esc(unit)}')
    return (" or ".join(parts) if text.startswith("none of") else "; ".join(parts))


def _num(v: float) -> str:
    """A feature value for reading: 3 significant digits, thousands without an exponent."""
    v = float(v)
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def _feature_html(name: str, value: float, specs: dict) -> str:
    """A feature's name (its meaning on hover) and value with unit."""
    unit, doc = specs.get(name, ("", ""))
    return (f'<abbr title="{esc(doc)}">{esc(name.replace("_", " "))}</abbr> {_num(value)}'
            f'{" " + esc(unit) if unit else ""}')


def describe_candidate(record: dict, labels: np.ndarray | None, specs: dict | None = None) -> dict:
    """One candidate in words: its decision, size, Bragg peak, labelled Michel voxels and top reasons.

    Parameters
    ----------
    record : dict
        A ``MichelFinder.explain`` record.
    labels : ndarray or None
        The event's truth labels (to count the candidate's Michel voxels).
    specs : dict, optional
        Feature name -> (unit, meaning); default from the finder's schema.

    Returns
    -------
    dict
        ``number``, ``taken``, ``summary`` (text), ``michel_voxels`` (or None), ``reasons`` (HTML items,
        the deciding one first: the model's probability and the features that moved it most, or the
        failed hand rules; then the hand rules' verdict when the model decided).
    """
    specs = specs or feature_specs()
    f = record["features"]
    voxels = np.asarray(record["voxels"], np.int64)
    michel = None if labels is None else int((np.asarray(labels)[voxels] == MICHEL_LABEL).sum()) if len(voxels) else 0
    summary = f"{len(voxels)} voxels, {f['energy_mev']:.1f} MeV; Bragg peak {f['peak_dedx']:.1f} MeV/cm"
    if f.get("baseline_dedx", 0) > 0:
        summary += f", {f['bragg_ratio']:.1f}× the muon's {f['baseline_dedx']:.1f} MeV/cm"
    if record.get("kind") == "stopping_muon" and "michel_cos" in f:
        angle = float(np.degrees(np.arccos(np.clip(f["michel_cos"], -1.0, 1.0))))
        summary += f"; leaves at {angle:.0f}° to the muon"
    reasons = []
    failed = [(name, verdict[len("fail: "):]) for name, verdict in record.get("rules", {}).items()
              if verdict.startswith("fail")]
    n_rules = len(record.get("rules", {}))
    if "score" in record:
        thr = record.get("threshold")
        cmp = "≥" if record["michel"] else "<"
        reasons.append(f"model: probability {record['score']:.2f} {cmp} threshold {thr:.2f}" if thr is not None
                       else f"model: probability {record['score']:.2f}")
        moved = sorted((record.get("top_features") or {}).items(), key=lambda kv: -abs(kv[1]))
        for side, sign in (("for", 1), ("against", -1)):
            items = [f"{_feature_html(k, f.get(k, float('nan')), specs)} ({v:+.1f})" for k, v in moved
                     if v * sign > 0]
            if items:
                reasons.append(f"{side} a Michel: " + ", ".join(items))
        if n_rules:
            names = ", ".join(f'<abbr title="{esc(RULE_MEANINGS.get(k, ""))}: {esc(why)}">{esc(k.replace("_", " "))}'
                              "</abbr>" for k, why in failed)
            reasons.append(f"hand rules: {len(failed)} of {n_rules} fail ({names})" if failed
                           else f"hand rules: all {n_rules} pass")
    elif n_rules:
        if not failed:
            reasons.append(f"all {n_rules} rules pass")
        for name, why in failed[:3]:
            reasons.append(f'<abbr title="{esc(RULE_MEANINGS.get(name, ""))}">{esc(name.replace("_", " "))}</abbr> '
                           f"fails: {_reason_html(why, specs)}")
        if len(failed) > 3:
            reasons.append(f"and {len(failed) - 3} more rules fail")
    return {"number": record["candidate"], "taken": bool(record["michel"]), "summary": summary,
            "michel_voxels": michel, "reasons": reasons}
