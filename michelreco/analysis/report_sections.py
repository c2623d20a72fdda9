"""The report page's sections on the whole file: how to read it, scores, losses, F1 by energy, stability, spectrum.

Each function returns one ``section`` of HTML (empty where it needs labels and there are none).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from michelreco.analysis.display_style import CLASS_STYLES, PEAK_COLOURS
from michelreco.analysis.report_html import esc, html_cards, html_figure, html_table, ordinal, percent, thousands
from michelreco.constants import LABEL_NAMES, MICHEL_LABEL, VOXEL_MM

if TYPE_CHECKING:
    from michelreco.analysis.report import ReportData

__all__ = ["CAUSE_MEANINGS", "FALSE_MEANINGS", "CATEGORY_MEANINGS", "how_to_read_section", "summary_section",
           "lost_section", "energy_section", "stability_section", "spectrum_section"]

CAUSE_MEANINGS = {
    "no candidate": "in no candidate: no muon end with a Bragg peak next to them (the muon stopped outside the "
                    "volume, the electron is detached, or the muon's end was not recognised)",
    "candidate rejected": "in a candidate that is mostly Michel, but the finder did not take it",
    "boundary": "only in candidates that are mostly not Michel: the cut at the Bragg peak put them on the muon's "
                "side, or they hang from a shower",
}
FALSE_MEANINGS = {
    "wrong candidate": "in a taken candidate that is mostly not Michel (a delta ray, a shower piece, a proton end)",
    "boundary": "the non-Michel voxels of a taken candidate that is mostly Michel (the muon's last voxels, "
                "photon activity touching the electron)",
    "outside candidates": "listed by the solution but in no candidate of this finder (a solution made with "
                          "other parameters or by another program)",
}
CATEGORY_MEANINGS = {
    "attached, contained": "the muon stops inside the volume and the electron stays inside",
    "electron leaving": "the muon stops inside, the electron leaves the volume",
    "muon end outside": "the muon stopped outside (or at a face): only the electron is seen",
}


def _key(labelled: bool) -> str:
    """Colour key of the event pictures."""
    names = (["found (TP)", "wrong (FP)", "missed: no candidate (FN)", "missed: candidate rejected (FN)",
              "missed: boundary (FN)", "rejected candidate, not Michel", "other voxels"] if labelled else
             ["found by the finder", "in a rejected candidate", "other voxels"])
    items = "".join(f'<li><span class="sw" style="background:{CLASS_STYLES[n][0]}"></span>{esc(n)}</li>'
                    for n in names)
    items += "".join(f'<li><span class="sw" style="background:{PEAK_COLOURS[t]}"></span>★ Bragg peak of a '
                     f'{"taken" if t else "rejected"} candidate</li>' for t in (True, False))
    return f'<ul class="key">{items}</ul>'


def how_to_read_section(labelled: bool) -> str:
    """The "how to read this page" box, with the colour key of the event pictures.

    Parameters
    ----------
    labelled : bool
        Labels were given (scores and causes are explained).

    Returns
    -------
    str
        The section.
    """
    voxel = f"{VOXEL_MM:g} mm"
    items = [
        f"An event is a 3D image of liquid argon in voxels ({voxel} cubes) with the energy each received. The finder "
        "lists the voxels it believes a <b>Michel electron</b> (from the decay of a muon that stopped) left energy "
        "in." + (f" The labels say which voxels truly are Michel (label {MICHEL_LABEL}, "
                 f"“{LABEL_NAMES[MICHEL_LABEL]}”)." if labelled else ""),
        "Counts are <b>voxels</b> unless they say <b>Michels</b> (a Michel: its voxels grouped by proximity, so an "
        "event may hold two) or <b>events</b>. Energies are deposited energies in MeV, summed over voxels.",
    ]
    if labelled:
        items += [
            "<b>found</b> (true positive, TP): a Michel voxel the finder listed; <b>wrong</b> (false positive, FP): "
            "a listed voxel that is not Michel; <b>missed</b> (false negative, FN): a Michel voxel not listed.",
            "<b>precision</b> = found / listed, <b>recall</b> = found / Michel voxels, <b>F1</b> = 2·found / "
            "(2·found + wrong + missed), their harmonic mean. “Pooled” means summed over all voxels of all events "
            "before dividing, as the challenge scores.",
            "A <b>candidate</b> is the stretch of voxels after the Bragg peak at a muon's end (where its energy loss "
            "peaks as it stops) that the finder considers; it takes or rejects each one. Missed voxels are put "
            "down to one cause: in no candidate, in a rejected candidate, or cut off at a candidate's boundary.",
        ]
    else:
        items.append("No labels were given: the page shows what the solution alone says (no scores). Give the "
                     "label file to see precision, recall, F1 and where voxels are lost.")
    items.append("The event pictures use these colours:" + _key(labelled))
    return ('<section id="how-to-read" class="howto"><h2 style="border:0;margin-top:.4rem">How to read this page'
            "</h2><ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul></section>")


def summary_section(data: ReportData) -> str:
    """Headline numbers and the scores in words (counts only without labels).

    Parameters
    ----------
    data : report.ReportData
        Per-event numbers.

    Returns
    -------
    str
        The section.
    """
    n = len(data)
    if not data.labelled:
        listed = int(data.found_voxels.sum())
        events_found = int((data.found_voxels > 0).sum())
        e = data.found_energies
        rows = [["events in the file", thousands(n), ""],
                ["events in which the finder listed voxels", thousands(events_found),
                 percent(events_found, n) + " of events"],
                ["voxels listed as Michel", thousands(listed), f"{listed / max(events_found, 1):.1f} per such event"],
                ["Michels found (listed voxels grouped by proximity)", thousands(len(e)),
                 f"energy: mean {e.mean():.1f} MeV, median {np.median(e):.1f} MeV" if len(e) else ""]]
        return ('<section id="summary"><h2>What the solution holds</h2>'
                + html_cards([("events", thousands(n), "events in the file"),
                              ("found-michels", thousands(len(e)), "Michels found")])
                + html_table(["", "count", ""], rows, "Counts of the solution alone (no labels given).") + "</section>")
    t = data.table
    c = t.pooled
    has = t.has_michel
    without = t.subset(~has)
    michel = c.tp + c.fn
    listed = c.tp + c.fp
    rows = [
        ["events in the file", thousands(n), ""],
        ["events with at least one labelled Michel voxel", thousands(has.sum()),
         f"{thousands(data.labelled_michels.sum())} labelled Michels"],
        ["labelled Michel voxels", thousands(michel), f"{michel / max(int(has.sum()), 1):.1f} per such event"],
        ["… found (TP)", thousands(c.tp), percent(c.tp, michel) + " of the Michel voxels: the recall"],
        ["… missed (FN)", thousands(c.fn), percent(c.fn, michel) + " of the Michel voxels"],
        ["voxels the finder listed", thousands(listed), f"{thousands(data.found_michels.sum())} Michels found"],
        ["… wrong (FP)", thousands(c.fp), percent(c.fp, listed) + " of the listed voxels: 1 − precision"],
        ["F1 of the events with a Michel", f"{t.subset(has).pooled.f1:.4f}", f"{thousands(has.sum())} events"],
        ["events without a labelled Michel", thousands(len(without)),
         f"the finder listed voxels in {thousands((without.fp > 0).sum())} of them "
         f"({thousands(without.pooled.fp)} wrong voxels)"],
    ]
    return ('<section id="summary"><h2>Scores</h2>'
            + html_cards([("f1", f"{c.f1:.4f}", "F1, pooled over all voxels"),
                          ("precision", f"{c.precision:.4f}", "precision: found / listed"),
                          ("recall", f"{c.recall:.4f}", "recall: found / Michel voxels"),
                          ("events", thousands(n), "events")])
            + html_table(["", "count", "what it means"], rows,
                         "The scores in words. Counts are voxels unless they say events or Michels.", id_="scores")
            + "</section>")


def lost_section(data: ReportData) -> str:
    """Where F1 is lost: coverage, the perfect-selection ceiling, lost and false voxels by cause.

    Parameters
    ----------
    data : report.ReportData
        Per-event numbers.

    Returns
    -------
    str
        The section.
    """
    if not data.labelled:
        return ""
    head = '<section id="lost"><h2>Where F1 is lost</h2>'
    if data.diagnosis is None:
        return head + ("<p class=muted>Not measured: the diagnosis was skipped (<code>--diagnose-events 0</code>) "
                       "or is not available in this installation.</p></section>")
    d = data.diagnosis.as_dict()
    mv = d["michel_voxels"]
    every = data.diagnose_every
    sample = ("every event" if every == 1 else
              f"{thousands(d['events'])} of the {thousands(len(data))} events (every {ordinal(every)}, to keep the "
              "page quick to make; the numbers below are theirs)")
    intro = ("<p>Every labelled Michel voxel the finder missed and every wrong voxel it listed is put down to one "
             f"cause, by running the finder's candidate search again on {sample} and asking which candidate held "
             "the voxel, and whether that candidate is mostly Michel (more than half of its voxels).</p>")
    ceiling = [["labelled Michel voxels", thousands(mv), ""],
               ["… inside some candidate", thousands(d["covered_voxels"]),
                f"{100 * d['coverage']:.1f}%: the most any choice among these candidates could find"],
               ["F1 if exactly the mostly-Michel candidates were taken", f"{d['perfect']['f1']:.4f}",
                f"precision {d['perfect']['precision']:.3f}, recall {d['perfect']['recall']:.3f}: "
                "the ceiling of any selection"],
               ["F1 of the finder if its selection were perfect", f"{d['perfect_finished']['f1']:.4f}",
                f"precision {d['perfect_finished']['precision']:.3f}, recall "
                f"{d['perfect_finished']['recall']:.3f}: those candidates read one way per cluster and free end, "
                "the voxels near their peaks decided by the cut model, as the finder does"],
               ["F1 of this solution", f"{d['actual']['f1']:.4f}",
                f"precision {d['actual']['precision']:.3f}, recall {d['actual']['recall']:.3f}"]]
    lost = [[esc(k), thousands(v), percent(v, mv), esc(CAUSE_MEANINGS.get(k, ""))] for k, v in d["lost"].items()]
    listed = d["actual"]["tp"] + d["actual"]["fp"]
    false = [[esc(k), thousands(v), percent(v, listed), esc(FALSE_MEANINGS.get(k, ""))] for k, v in d["false"].items()]
    out = [head, intro,
           html_table(["", "value", ""], ceiling, "How far the candidates go: the part of the F1 lost to the search "
                      "for candidates, and the part lost to the choice among them.", id_="ceiling"),
           html_figure("lost.png", "bars: fractions of Michel voxels found and lost by cause, and of listed voxels "
                       "that are Michel or wrong by cause",
                       "Top: what became of the labelled Michel voxels (found, or lost for each cause). Bottom: "
                       "what the voxels the solution lists are (Michel, or wrong for each cause). Fractions of the "
                       "bar's voxels."),
           html_table(["cause", "Michel voxels lost", "of all Michel voxels", "meaning"], lost,
                      "Missed Michel voxels (FN) by cause.", id_="lost-causes"),
           html_table(["cause", "wrong voxels", "of the listed voxels", "meaning"], false,
                      "Wrong voxels (FP) by cause.", id_="false-causes")]
    if d["by_category"]:
        cats = [[esc(k), thousands(v["michel_voxels"]), thousands(v["found"]), thousands(v["lost"]),
                 percent(v["found"], v["michel_voxels"]), esc(CATEGORY_MEANINGS.get(k, ""))]
                for k, v in d["by_category"].items()]
        out.append(html_table(["Michel category (simulator truth)", "Michel voxels", "found", "lost", "recall",
                               "meaning"], cats, "Michel voxels by what the simulator's truth says about their Michel "
                              "(each voxel given to the Michel whose muon end is nearest).", id_="categories"))
    else:
        out.append("<p class=muted>No simulator truth file: no split by Michel category.</p>")
    return "".join(out) + "</section>"


def _bins_table(rows, what: str, caption: str, id_: str) -> str:
    """The rows of ``report.f1_in_bins`` as a table."""
    def fmt(v: float) -> str:
        """A number in its shortest form."""
        return f"{v:g}"
    body = [[(f"{fmt(r['lo'])} and above" if not np.isfinite(r["hi"]) else f"{fmt(r['lo'])} – {fmt(r['hi'])}"),
             thousands(r["events"]), thousands(r["tp"] + r["fn"]), thousands(r["tp"]), thousands(r["fn"]),
             thousands(r["fp"]),
             f"{r['f1']:.3f}", f"{r['recall']:.3f}", f"{r['precision']:.3f}"] for r in rows]
    return html_table([what, "events", "Michel voxels", "found", "missed", "wrong", "F1", "recall", "precision"], body,
                      caption, id_)


def energy_section(data: ReportData, figures: dict) -> str:
    """F1 against the Michel energy and size of the event (labels only).

    Parameters
    ----------
    data : report.ReportData
        Per-event numbers.
    figures : dict
        ``energy_rows`` and ``voxel_rows``: ``report.f1_in_bins`` rows.

    Returns
    -------
    str
        The section.
    """
    if not data.labelled:
        return ""
    e_rows, v_rows = figures["energy_rows"], figures["voxel_rows"]
    n_has = int(data.table.has_michel.sum())
    n_binned = sum(r["events"] for r in e_rows)
    return ('<section id="energy"><h2>F1 against the Michel energy and size</h2>'
            f"<p>The {thousands(n_has)} events with a labelled Michel, grouped by the energy of their labelled Michel "
            "voxels (summed; two Michels in one event add up) and by how many there are; pooled scores within each "
            f"group. Every such event is in one group ({thousands(n_binned)} in the energy groups).</p>"
            '<div class="pair">'
            + html_figure("f1_energy.png", "F1, recall and precision against the Michel energy of the event",
                          "Pooled F1 (black, horizontal bar: the group's energy range), recall and precision "
                          "against the event's labelled Michel energy (MeV); below, events per group (dotted: the "
                          "last group, "
                          "open-ended, drawn up to its largest energy).")
            + html_figure("f1_voxels.png", "F1, recall and precision against the Michel voxel count of the event",
                          "The same against the number of labelled Michel voxels in the event (log scale).")
            + "</div>"
            + _bins_table(e_rows, "Michel energy (MeV)", "Events with a labelled Michel by its energy (MeV); counts "
                          "are voxels, scores pooled within each group.", "by-energy")
            + _bins_table(v_rows, "Michel voxels", "Events with a labelled Michel by its number of voxels.",
                          "by-size")
            + "</section>")


def stability_section(data: ReportData) -> str:
    """The organisers' stability plot (labels only).

    Parameters
    ----------
    data : report.ReportData
        Per-event numbers.

    Returns
    -------
    str
        The section.
    """
    if not data.labelled:
        return ""
    block = max(1, len(data) // 20)
    return ('<section id="stability"><h2>Stability across the file</h2>'
            + html_figure("stability.png", "F1, precision and recall per block of consecutive events",
                          f"Pooled F1, precision and recall over blocks of {thousands(block)} consecutive events, in "
                          "file order; "
                          "the horizontal line is the pooled F1 of the whole file. Blocks scatter by chance (a block "
                          "holds few Michels); a trend or a step would mean the events change along the file.")
            + "</section>")


def spectrum_section(data: ReportData, figures: dict) -> str:
    """The Michel energy spectrum against the toy Monte Carlo.

    Parameters
    ----------
    data : report.ReportData
        Per-event numbers.
    figures : dict
        ``spectrum``: summaries by spectrum (``spectrum.write_spectrum``).

    Returns
    -------
    str
        The section.
    """
    sums = figures["spectrum"]
    rows = []
    for name, s in sums.items():
        if not s["n"]:
            rows.append([esc(name), "0", "", "", "", ""])
            continue
        rows.append([esc(name), thousands(s["n"]), f"{s['mean_mev']:.1f}", f"{s['peak_mev']:.0f}",
                     f"{s['q90_mev']:.1f}", f"{100 * s['above_endpoint']:.1f}%"])
    what = ("the labelled Michel voxels, the finder's" if data.labelled else "the finder's")
    return ('<section id="spectrum"><h2>Michel energy spectrum</h2>'
            f"<p>The energy of each Michel ({what}; its voxels grouped by proximity and their energies summed) "
            "against the toy Monte Carlo of the decay electron's kinetic energy (the Michel spectrum at tree level, "
            "with radiative corrections, and for a muon bound in an argon atom). The voxels measure deposited "
            "energy: photons radiated by the electron often leave the volume or convert far away, and voxels below "
            "threshold are lost, so the measured spectra sit below the toy curves.</p>"
            + html_figure("spectrum.png", "Michel energy spectra: toy Monte Carlo curves and measured points",
                          "Fraction of Michels per MeV (each spectrum normalised to 1; error bars: Poisson). The grey "
                          "line marks the endpoint, 52.8 MeV less the electron mass. Numbers: spectrum.csv.", width=900)
            + html_table(["spectrum", "Michels", "mean (MeV)", "most probable (MeV)", "90% below (MeV)",
                          "above 52.8 MeV"], rows, "Summary of each spectrum (toy Monte Carlo: draws).", id_="spectra")
            + "</section>")
