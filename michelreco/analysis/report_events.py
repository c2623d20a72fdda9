"""The report page's shown events: each one's picture, its counts and the finder's candidates with reasons."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from michelreco.analysis.report_candidates import describe_candidate, feature_specs
from michelreco.analysis.report_html import esc, html_figure, html_table, thousands

if TYPE_CHECKING:
    from michelreco.analysis.report import ReportData
    from michelreco.reco.finder import MichelFinder

__all__ = ["events_section"]


def _event_card(ev: dict, data, specs: dict) -> str:
    """One shown event: its picture, its counts and its candidates with the decision's top reasons."""
    i = ev["event"]
    rows = [["voxels in the event", thousands(ev["n_voxels"])]]
    if data.labelled:
        t = data.table
        rows += [["labelled Michel voxels", thousands(t.tp[i] + t.fn[i])],
                 ["Michel energy (labelled)", f"{data.michel_energy[i]:.1f} MeV"],
                 ["found (TP) / wrong (FP) / missed (FN)",
                  f"{thousands(t.tp[i])} / {thousands(t.fp[i])} / {thousands(t.fn[i])}"]]
        if data.lost is not None and t.fn[i] and all(np.isfinite(v[i]) for v in data.lost.values()):
            rows.append(["missed: " + ", ".join(f"{k} {thousands(v[i])}" for k, v in data.lost.items() if v[i] > 0),
                         ""])
    rows.append(["listed by the solution", f"{thousands(data.found_voxels[i])} voxels, {data.found_energy[i]:.1f} MeV"])
    records = ev["records"]
    descs = [describe_candidate(r, ev["labels"], specs) for r in records]
    box = ev["box"]

    def near(r: dict) -> bool:
        """Whether the candidate's Bragg peak lies inside the zoomed cube."""
        if box is None:
            return False
        p = np.array([r["features"]["peak_x"], r["features"]["peak_y"], r["features"]["peak_z"]])
        return bool(np.all(np.abs(p - box[0]) <= box[1]))

    order = sorted(range(len(records)), key=lambda k: (not descs[k]["taken"], -(descs[k]["michel_voxels"] or 0),
                                                        not near(records[k]), k))
    listed = [k for k in order if descs[k]["taken"] or descs[k]["michel_voxels"] or near(records[k])][:4]
    cands = []
    for k in listed:
        dsc = descs[k]
        where = "" if near(records[k]) else " (outside the zoom)"
        mv = (f"; {dsc['michel_voxels']} labelled Michel" if dsc["michel_voxels"] is not None else "")
        cands.append(f'<div class="cand {"taken" if dsc["taken"] else "rejected"}"><b>#{dsc["number"]} '
                     f'{"taken" if dsc["taken"] else "rejected"}</b>{where}: {esc(dsc["summary"])}{mv}'
                     "<ul>" + "".join(f"<li>{r}</li>" for r in dsc["reasons"][:4]) + "</ul></div>")
    rest = [k for k in order if k not in listed]
    if rest:
        taken = sum(descs[k]["taken"] for k in rest)
        cands.append(f"<p class=muted>… and {len(rest)} more candidates elsewhere in the event"
                     + (f", {taken} of them taken" if taken else ", all rejected") + ".</p>")
    if not records:
        cands.append("<p class=muted>The finder built no candidate in this event (no muon end with a Bragg "
                     "peak).</p>")
    link = (f'<a class="button" href="{esc(ev["html"])}">turn it in 3D: interactive view ↗</a>' if ev["html"] else "")
    caption = ("Top left: the whole event, the orange cube is the zoom. Then, zoomed on the Michel: voxel energy "
               "(log scale, the same for every event), "
               + ("truth labels" if data.labelled else "the finder's candidates") +
               ", and the finder's outcome; stars mark each candidate's Bragg peak with its number. Axes in cm.")
    return (f'<article class="event" id="event-{i}"><h3>Event {i} — {esc(ev["why"])}</h3>'
            f'<div>{html_figure(ev["png"], f"event {i}: whole event and zoom on its Michel", caption, link=True)}'
            f"{link}</div>"
            f'<div class="side">{html_table(["", ""], rows)}<b>The finder’s candidates</b>'
            + "".join(cands) + "</div></article>")


def events_section(data: ReportData, shown: list[dict], finder: MichelFinder) -> str:
    """The shown events, each with its picture, counts and candidates.

    Parameters
    ----------
    data : report.ReportData
        Per-event numbers.
    shown : list of dict
        The drawn events (``report._draw_events``).
    finder : MichelFinder
        The finder whose candidates explain the decisions.

    Returns
    -------
    str
        The section.
    """
    specs = feature_specs()
    params = finder.get_params()
    changed = {k: v for k, v in params.items() if v != type(finder)().get_params().get(k)}
    who = ("the default finder" if not changed else "the finder with " + ", ".join(f"{k}={v}" for k, v in
                                                                                   changed.items()))
    intro = (f"<p>A few events chosen for what they show, each whole and zoomed on its Michel, with the candidates "
             f"of {esc(who)} (selection: {esc(str(params.get('selection', 'rules')))}) and the reasons of each "
             "decision. If the solution was made with other parameters, give the same configuration "
             "(<code>--config</code>) so that the candidates match it.</p>")
    if not shown:
        return ('<section id="events"><h2>Events</h2><p class=muted>No event to show: the solution lists no voxel'
                + (" and the labels hold no Michel" if data.labelled else "") + ".</p></section>")
    nav = " · ".join(f'<a href="#event-{ev["event"]}">{ev["event"]}</a>' for ev in shown)
    return ('<section id="events"><h2>Events</h2>' + intro + f"<p>Shown: {nav}</p>"
            + "".join(_event_card(ev, data, specs) for ev in shown) + "</section>")
