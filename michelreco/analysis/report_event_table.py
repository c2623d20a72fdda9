"""The report page's table of every event: its numbers as JSON, paged, filtered and sorted by the page's script."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np

from michelreco.analysis.report_html import esc, thousands

if TYPE_CHECKING:
    from michelreco.analysis.report import ReportData

__all__ = ["event_table_section"]


def _table_data(data, shown) -> tuple[list[dict], list[list], list[int], list[tuple[int, str]]]:
    """Columns, rows, filter bits per row and the filters of the per-event table."""
    n = len(data)
    ev = np.arange(n)
    cols = [("event", ev, None), ("voxels", data.n_voxels, None)]
    filters = [(0, "all events")]
    bits = np.zeros(n, np.int64)
    shown_set = np.isin(ev, [s["event"] for s in shown])
    if data.labelled:
        t = data.table
        per = t.per_event()
        cols += [("Michel voxels", t.tp + t.fn, None), ("Michel energy (MeV)", data.michel_energy, 1),
                 ("found (TP)", t.tp, None), ("wrong (FP)", t.fp, None), ("missed (FN)", t.fn, None),
                 ("F1", per["f1"], 3)]
        if data.lost is not None:
            cols += [(f"missed: {k}", v, None) for k, v in data.lost.items()]
        masks = [("with a labelled Michel", t.has_michel), ("with missed voxels", t.fn > 0),
                 ("with wrong voxels", t.fp > 0), ("wrong voxels but no Michel", (t.fp > 0) & ~t.has_michel)]
        if data.lost is not None:
            masks += [(f"Michel voxels lost: {k}", v > 0) for k, v in data.lost.items()]
    else:
        cols += [("listed voxels", data.found_voxels, None), ("Michels found", data.found_michels, None),
                 ("found energy (MeV)", data.found_energy, 1)]
        masks = [("with found voxels", data.found_voxels > 0), ("without found voxels", data.found_voxels == 0)]
    masks.append(("shown above", shown_set))
    for k, (name, m) in enumerate(masks):
        bit = 1 << k
        bits[m] |= bit
        filters.append((bit, name))
    columns = [{"name": name, "digits": digits} for name, _, digits in cols]
    arrays = []
    for _, a, digits in cols:
        a = np.asarray(a, dtype=np.float64)
        values = np.round(a, digits or 0).tolist()
        if digits is None:
            values = [int(v) for v in values] if np.isfinite(a).all() else \
                [int(v) if np.isfinite(v) else None for v in values]
        arrays.append(values)
    rows = [list(r) for r in zip(*arrays)]
    return columns, rows, bits.tolist(), filters


def event_table_section(data: ReportData, shown: list[dict]) -> str:
    """The per-event table: all events, paged, filtered and sorted by the page's script (``static/report.js``).

    Parameters
    ----------
    data : report.ReportData
        Per-event numbers.
    shown : list of dict
        The drawn events (their rows link to their pictures).

    Returns
    -------
    str
        The section, its rows in a JSON block.
    """
    columns, rows, bits, filters = _table_data(data, shown)
    payload = json.dumps({"columns": columns, "rows": rows, "flags": bits, "shown": [s["event"] for s in shown]},
                         separators=(",", ":")).replace("</", "<\\/")
    options = "".join(f'<option value="{bit}">{esc(name)} ({thousands(sum(1 for b in bits if bit == 0 or b & bit))})'
                      "</option>" for bit, name in filters)
    head = "".join(f"<th>{esc(c['name'])}</th>" for c in columns)
    what = ("counts are voxels; F1 of an event with neither a labelled nor a listed Michel voxel is 1"
            if data.labelled else "counts are voxels; energies are the listed voxels' sum")
    return ('<section id="table"><h2>Every event</h2>'
            f"<p>All {thousands(len(data))} events ({what}). Choose which events to list, click a column's title to "
            "sort by it (again to reverse), type an event number to find it; an event shown above links to its "
            'picture. The same numbers are in <a href="per_event.csv">per_event.csv</a> (a printed page shows '
            "the rows listed on screen).</p>"
            '<div class="controls"><label>show <select id="filter">' + options + "</select></label>"
            '<label>rows per page <select id="page-size"><option>25</option><option selected>50</option>'
            "<option>200</option><option>1000</option></select></label>"
            '<label>find event <input id="goto" type="number" min="0" style="width:6em"></label>'
            '<button id="prev" type="button">← previous</button><button id="next" type="button">next →</button>'
            '<span id="pager-info" class="muted"></span></div>'
            f'<table id="per-event"><thead><tr>{head}</tr></thead><tbody></tbody></table>'
            "<noscript><p>The table needs JavaScript; every row is in per_event.csv.</p></noscript>"
            f'<script type="application/json" id="table-data">{payload}</script>'
            "</section>")
