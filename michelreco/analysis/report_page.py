"""The report page: its sections put together with its one stylesheet and its small script.

Everything the page needs is inline or beside it (no network): the stylesheet (``static/report.css``) and the
per-event table's script (``static/report.js``) are package files put inside the page, the per-event numbers
are a JSON block the script pages, filters and sorts. Every figure and table says in words what it counts
and in which unit.
"""

from __future__ import annotations

import datetime
from importlib import resources
from string import Template
from typing import TYPE_CHECKING

from michelreco.analysis.display_style import PEAK_COLOURS
from michelreco.analysis.report_event_table import event_table_section
from michelreco.analysis.report_events import events_section
from michelreco.analysis.report_html import esc, thousands
from michelreco.analysis.report_sections import (energy_section, how_to_read_section, lost_section,
                                                 spectrum_section, stability_section, summary_section)

if TYPE_CHECKING:
    from michelreco.analysis.report import ReportData
    from michelreco.reco.finder import MichelFinder

__all__ = ["stylesheet", "script", "render"]


def _static(name: str) -> str:
    """The text of a file of ``michelreco/analysis/static``."""
    return resources.files("michelreco.analysis").joinpath("static", name).read_text(encoding="utf-8")


def stylesheet() -> str:
    """The page's stylesheet, with the Bragg-peak colours of the event pictures.

    Returns
    -------
    str
        ``static/report.css`` with ``$peak_taken`` and ``$peak_rejected`` replaced by ``PEAK_COLOURS``.
    """
    return Template(_static("report.css")).substitute(peak_taken=PEAK_COLOURS[True],
                                                      peak_rejected=PEAK_COLOURS[False])


def script() -> str:
    """The page's script: pages, filters and sorts the per-event table.

    Returns
    -------
    str
        ``static/report.js``.
    """
    return _static("report.js")


def render(data: ReportData, figures: dict, shown: list[dict], files: dict, finder: MichelFinder,
           seconds: float) -> str:
    """The whole page.

    Parameters
    ----------
    data : report.ReportData
        Per-event numbers.
    figures : dict
        ``energy_rows``, ``voxel_rows`` (labels only), ``spectrum`` (summaries by spectrum).
    shown : list of dict
        The drawn events (``report._draw_events``).
    files : dict
        Role -> input path (None entries are left out).
    finder : MichelFinder
        The finder whose candidates explain the decisions.
    seconds : float
        Time taken so far (named on the page).

    Returns
    -------
    str
        The HTML page.
    """
    from michelreco import __version__

    labelled = data.labelled
    sections = [("summary", "Scores" if labelled else "Counts")]
    if labelled:
        sections += [("lost", "Where F1 is lost"), ("energy", "F1 by energy"), ("stability", "Stability")]
    sections += [("spectrum", "Spectrum"), ("events", "Events"), ("table", "Every event")]
    toc = "".join(f'<a href="#{k}">{esc(v)}</a>' for k, v in sections)
    file_list = "".join(f"<dt>{esc(k)}</dt><dd>{esc(str(v))}</dd>" for k, v in files.items() if v is not None)
    headline = (f"F1 {data.table.pooled.f1:.4f} on {thousands(len(data))} events" if labelled
                else f"{thousands(len(data))} events, no labels")
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    spent = ", ".join(f"{k} {v:.1f} s" for k, v in data.timings.items())
    footer = f'<footer class="muted"><p>Time taken: {esc(spent)}.</p></footer>' if spent else ""
    notes = ("<div class=notes>" + "".join(f"<p>{esc(n)}</p>" for n in data.notes) + "</div>") if data.notes else ""
    body = "".join([
        summary_section(data), lost_section(data), energy_section(data, figures), stability_section(data),
        spectrum_section(data, figures), events_section(data, shown, finder), event_table_section(data, shown)])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Michel finder report: {esc(headline)}</title>
<style>
{stylesheet()}</style></head>
<body>
<header><h1>Michel finder report</h1>
<p class="sub">{esc(headline)} · made {when} by michelreco {esc(__version__)} in {seconds:.0f} s</p>
<dl class="files">{file_list}</dl></header>
<nav class="toc">{toc}</nav>
{how_to_read_section(labelled)}
{notes}
{body}
{footer}
<script>
{script()}</script>
</body></html>
"""
