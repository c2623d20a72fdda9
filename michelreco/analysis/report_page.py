"""The report page: HTML, its one stylesheet and its small script, and the report's own figures.

Everything the page needs is inline or beside it (no network): the stylesheet and the per-event table's
script are in the page, the per-event numbers are a JSON block the script pages, filters and sorts.
Every figure and table says in words what it counts and in which unit.
"""

from __future__ import annotations

import datetime
import html
import json
import re

import numpy as np

from michelreco.analysis.display import CLASS_STYLES, PEAK_COLOURS
from michelreco.constants import LABEL_NAMES, MICHEL_LABEL, VOXEL_MM

__all__ = ["render", "plot_bins", "plot_lost", "RULE_MEANINGS", "CAUSE_MEANINGS", "FALSE_MEANINGS",
           "CATEGORY_MEANINGS", "describe_candidate"]

esc = html.escape

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


def _int(n) -> str:
    """An integer with thousands separators."""
    return f"{int(n):,}"


def _ordinal(n: int) -> str:
    """2 -> "2nd", 11 -> "11th"."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _pct(num, den) -> str:
    """A percentage, or a dash when the denominator is 0."""
    return f"{100.0 * num / den:.1f}%" if den else "–"


# ------------------------------------------------------------------------------------------------------
# figures
# ------------------------------------------------------------------------------------------------------
def plot_bins(rows: list[dict], xlabel: str, path, log_x: bool = False) -> None:
    """F1, recall and precision of the events in each bin (``report.f1_in_bins``), events per bin below.

    Each point sits at the mean value of its events; its horizontal bar spans the bin (an overflow bin up
    to its largest value, its upper edge written "and above").
    """
    from michelreco.analysis.plots import pyplot, save_figure

    plt = pyplot()
    fig, (ax, axn) = plt.subplots(2, 1, figsize=(6.4, 4.6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    x = np.array([r["mean"] for r in rows])
    lo = np.array([r["lo"] for r in rows])
    hi = np.array([r["hi"] if np.isfinite(r["hi"]) else r["max"] for r in rows])
    xerr = np.vstack([x - lo, hi - x])
    for key, style, colour in (("f1", "o", "#000000"), ("recall", "^", "#0072b2"), ("precision", "s", "#d55e00")):
        ax.errorbar(x, [r[key] for r in rows], xerr=xerr if key == "f1" else None, fmt=style + ("-" if key == "f1"
                    else "--"), color=colour, ms=4, lw=1 if key == "f1" else 0.8, capsize=0, label=key)
    for r, xi in zip(rows, x):
        if not np.isfinite(r["hi"]):
            ax.annotate(f"{r['lo']:g} and above", (xi, r["f1"]), textcoords="offset points", xytext=(0, -14),
                        ha="center", fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("pooled score")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    over = np.array([not np.isfinite(r["hi"]) for r in rows])
    axn.bar(lo, [r["events"] for r in rows], width=hi - lo, align="edge", color="0.75", edgecolor="white",
            hatch=[".." if o else "" for o in over])
    axn.set_ylabel("events")
    axn.set_xlabel(xlabel)
    if log_x:
        ax.set_xscale("log")
    fig.align_ylabels()
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def plot_lost(diag: dict, path) -> None:
    """Where the labelled Michel voxels go (found, or lost by cause) and what the listed voxels are."""
    from michelreco.analysis.plots import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8.5, 2.6))
    actual = diag["actual"]
    bars = [("labelled Michel voxels", [("found (TP)", actual["tp"], CLASS_STYLES["found (TP)"][0])]
             + [(f"lost: {c}", v, CLASS_STYLES.get(f"missed: {c} (FN)", ("#444444",))[0])
                for c, v in diag["lost"].items()]),
            ("voxels the solution lists", [("found (TP)", actual["tp"], CLASS_STYLES["found (TP)"][0])]
             + [(f"wrong: {c}", v, shade) for (c, v), shade in zip(diag["false"].items(),
                                                                    ("#d55e00", "#f4a582", "#8c2d04"))])]
    for y, (name, parts) in enumerate(bars[::-1]):
        total = sum(v for _, v, _ in parts) or 1
        left = 0.0
        for label, v, colour in parts:
            frac = v / total
            ax.barh(y, frac, left=left, color=colour, edgecolor="white", label=label if v else None)
            if frac > 0.04:
                ax.text(left + frac / 2, y, f"{100 * frac:.1f}%", ha="center", va="center", fontsize=8,
                        color="white" if colour in ("#000000", "#009e73", "#d55e00", "#8c2d04") else "black")
            left += frac
    ax.set_yticks(range(len(bars)), [name for name, _ in bars[::-1]])
    ax.set_xlim(0, 1)
    ax.set_xlabel("fraction of the voxels of the bar")
    handles, labels = ax.get_legend_handles_labels()
    seen = dict(zip(labels, handles))
    ax.legend(seen.values(), seen.keys(), fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=4,
              frameon=False)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


# ------------------------------------------------------------------------------------------------------
# candidates in words
# ------------------------------------------------------------------------------------------------------
_REASON = re.compile(r"^(\w+) = ([^,]+), needs (<=|>=) (\w+) = (\S+)$")


def _feature_specs() -> dict:
    """Feature name -> (unit, meaning), from the finder's schema."""
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
    specs = specs or _feature_specs()
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


# ------------------------------------------------------------------------------------------------------
# the page
# ------------------------------------------------------------------------------------------------------
STYLE = """
:root{--ink:#1d1d1f;--mute:#5f6368;--line:#d9dce1;--soft:#f5f6f8;--accent:#0b5cad}
*{box-sizing:border-box}
body{font:15px/1.5 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);
 margin:0 auto;max-width:1320px;padding:0 1.5rem 3rem}
h1{font-size:1.7rem;margin:1.2rem 0 .2rem}
h2{font-size:1.3rem;margin:2.2rem 0 .6rem;padding-top:.6rem;border-top:2px solid var(--line)}
h3{font-size:1.05rem;margin:1.4rem 0 .4rem}
p,li{max-width:80ch}
a{color:var(--accent)}
.sub{color:var(--mute);margin:.1rem 0 .8rem}
dl.files{display:grid;grid-template-columns:max-content 1fr;gap:.1rem 1rem;font-size:.85rem;margin:.5rem 0}
dl.files dt{color:var(--mute)} dl.files dd{margin:0;font-family:ui-monospace,Menlo,Consolas,monospace;
 overflow-wrap:anywhere}
nav.toc{position:sticky;top:0;background:#fff;border-bottom:1px solid var(--line);padding:.4rem 0;z-index:2;
 font-size:.9rem}
nav.toc a{margin-right:1rem;text-decoration:none}
.howto{background:var(--soft);border-left:4px solid var(--accent);padding:.6rem 1.2rem;margin:1rem 0}
.howto li{margin:.25rem 0}
.notes{background:#fff6e5;border-left:4px solid #e69f00;padding:.4rem 1rem}
.cards{display:flex;flex-wrap:wrap;gap:1rem;margin:.8rem 0}
.card{border:1px solid var(--line);border-radius:6px;padding:.5rem 1rem;min-width:10rem}
.card .v{font-size:1.8rem;font-weight:600;font-variant-numeric:tabular-nums}
.card .k{color:var(--mute);font-size:.85rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}
caption{caption-side:top;text-align:left;color:var(--mute);font-size:.85rem;padding-bottom:.3rem;max-width:80ch}
th,td{border-bottom:1px solid var(--line);padding:.25rem .7rem;text-align:right;vertical-align:top}
th{background:var(--soft);font-weight:600}
td.l,th.l{text-align:left}
td{font-variant-numeric:tabular-nums}
tbody tr:nth-child(even){background:#fafbfc}
figure{margin:.6rem 0 1.2rem}
figure img{max-width:100%;height:auto;border:1px solid var(--line)}
figcaption{color:var(--mute);font-size:.85rem;max-width:80ch;margin-top:.2rem}
.pair{display:flex;flex-wrap:wrap;gap:1rem}.pair figure{flex:1 1 420px;margin:0}
.event{display:grid;grid-template-columns:minmax(0,5fr) minmax(0,3fr);gap:1.2rem;border:1px solid var(--line);
 border-radius:6px;padding:.8rem 1rem;margin:1rem 0;break-inside:avoid}
.event h3{grid-column:1/-1;margin:0}
.event figure{margin:0}
.event .side{font-size:.88rem}
.event .side table{font-size:.85rem;margin-top:0}
.cand{border-left:3px solid var(--line);padding:.1rem .6rem;margin:.5rem 0}
.cand.taken{border-color:""" + PEAK_COLOURS[True] + """}.cand.rejected{border-color:""" + PEAK_COLOURS[False] + """}
.cand ul{margin:.2rem 0;padding-left:1.1rem}
.button{display:inline-block;border:1px solid var(--accent);border-radius:4px;padding:.15rem .6rem;
 text-decoration:none;font-size:.88rem;margin:.3rem 0}
.key{display:flex;flex-wrap:wrap;gap:.3rem 1.2rem;list-style:none;padding:0}
.sw{display:inline-block;width:.8rem;height:.8rem;border-radius:50%;margin-right:.35rem;vertical-align:-1px}
abbr{text-decoration:underline dotted;cursor:help}
.controls{display:flex;flex-wrap:wrap;gap:.6rem 1.2rem;align-items:center;font-size:.9rem}
.controls select,.controls input,.controls button{font:inherit;padding:.1rem .3rem}
#per-event tr.hit{background:#fff2b3}
#per-event th{cursor:pointer;user-select:none}
#per-event th.asc::after{content:" ▲"}#per-event th.desc::after{content:" ▼"}
.muted{color:var(--mute)}
@media (max-width:900px){.event{grid-template-columns:1fr}}
@media print{
 body{max-width:none;font-size:10pt;padding:0}
 nav.toc,.controls,.button,noscript{display:none}
 h2{break-before:auto;break-after:avoid}
 figure,table,.event{break-inside:avoid}
 a{color:inherit;text-decoration:none}
 .event{grid-template-columns:3fr 2fr}
}
"""

SCRIPT = """
(function(){
 var box=document.getElementById('table-data'); if(!box) return;
 var d=JSON.parse(box.textContent), cols=d.columns, rows=d.rows, flags=d.flags;
 var body=document.querySelector('#per-event tbody'), info=document.getElementById('pager-info');
 var filter=document.getElementById('filter'), size=document.getElementById('page-size');
 var state={page:0,key:0,dir:1,hit:-1}, view=[];
 function fmt(v,c){ if(v===null) return ''; return c.digits===null? v.toLocaleString('en'): v.toFixed(c.digits); }
 function build(){
  var bit=+filter.value; view=[];
  for(var i=0;i<rows.length;i++){ if(bit===0||(flags[i]&bit)) view.push(i); }
  var k=state.key, s=state.dir;
  view.sort(function(a,b){var x=rows[a][k],y=rows[b][k]; return x<y?-s:x>y?s:a-b;});
 }
 function draw(){
  var n=+size.value, pages=Math.max(1,Math.ceil(view.length/n));
  state.page=Math.min(Math.max(state.page,0),pages-1);
  var html=[], lo=state.page*n, hi=Math.min(view.length,lo+n);
  for(var j=lo;j<hi;j++){ var r=rows[view[j]], cells=[];
   for(var c=0;c<cols.length;c++){ var t=fmt(r[c],cols[c]);
    if(c===0 && d.shown.indexOf(r[0])>=0) t='<a href="#event-'+r[0]+'">'+t+'</a>';
    cells.push('<td>'+t+'</td>'); }
   html.push('<tr'+(r[0]===state.hit?' class="hit"':'')+'>'+cells.join('')+'</tr>'); }
  body.innerHTML=html.join('');
  heads.forEach(function(th,c){ th.className=(c===state.key)?(state.dir>0?'asc':'desc'):''; });
  var L=function(v){return v.toLocaleString('en');};
  info.textContent=view.length? ('events '+L(lo+1)+'–'+L(hi)+' of '+L(view.length)+' (page '+L(state.page+1)+' of '+L(pages)+')')
   : 'no event matches';
 }
 var heads=Array.prototype.slice.call(document.querySelectorAll('#per-event th'));
 heads.forEach(function(th,c){ th.title='click to sort by this column (again to reverse)';
  th.addEventListener('click',function(){ state.dir=(state.key===c)?-state.dir:(c===0?1:-1); state.key=c;
   state.page=0; build(); draw(); });
 });
 filter.addEventListener('change',function(){state.page=0;build();draw();});
 size.addEventListener('change',function(){state.page=0;draw();});
 document.getElementById('prev').addEventListener('click',function(){state.page--;draw();});
 document.getElementById('next').addEventListener('click',function(){state.page++;draw();});
 document.getElementById('goto').addEventListener('change',function(e){
  var ev=parseInt(e.target.value,10); if(isNaN(ev)) return;
  filter.value='0'; build(); var at=-1;
  for(var j=0;j<view.length;j++){ if(rows[view[j]][0]===ev){at=j;break;} }
  if(at<0){ info.textContent='no event '+ev; return; }
  state.hit=ev; state.page=Math.floor(at/(+size.value)); draw();
 });
 build(); draw();
})();
"""


def _cards(items) -> str:
    """Big numbers with their meaning underneath."""
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="v" id="{esc(id_)}">{esc(v)}</div><div class="k">{k}</div></div>'
        for id_, v, k in items) + "</div>"


_NUMBER = re.compile(r"^[-+–−]?[\d,.]*\d[\d,.]*( ?%| MeV)?$|^$")


def _table(header: list[str], rows: list[list[str]], caption: str = "", id_: str = "") -> str:
    """An HTML table, cells already HTML: columns of numbers right-aligned, columns of words left-aligned."""
    ncol = len(header)
    left = {k for k in range(ncol) if k == 0 or not all(_NUMBER.match(str(r[k]).strip()) for r in rows if k < len(r))}

    def cells(row, tag):
        return "".join(f'<{tag}{" class=l" if k in left else ""}>{c}</{tag}>' for k, c in enumerate(row))
    cap = f"<caption>{caption}</caption>" if caption else ""
    ident = f' id="{id_}"' if id_ else ""
    head = f"<thead><tr>{cells(header, 'th')}</tr></thead>" if any(header) else ""
    return (f"<table{ident}>{cap}{head}<tbody>"
            + "".join(f"<tr>{cells(r, 'td')}</tr>" for r in rows) + "</tbody></table>")


def _figure(src: str, alt: str, caption: str, width: int | None = None, link: bool = False) -> str:
    """An image with a caption; ``alt`` says what the picture shows; ``link``: the image opens full size."""
    w = f' width="{width}"' if width else ""
    img = f'<img src="{esc(src)}" alt="{esc(alt)}"{w}>'
    if link:
        img = f'<a href="{esc(src)}" title="full size">{img}</a>'
    return f"<figure>{img}<figcaption>{caption}</figcaption></figure>"


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


def _how_to_read(labelled: bool) -> str:
    """The "how to read this page" box."""
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


def _summary(data) -> str:
    """Headline numbers and the scores in words."""
    n = len(data)
    if not data.labelled:
        listed = int(data.found_voxels.sum())
        events_found = int((data.found_voxels > 0).sum())
        e = data.found_energies
        rows = [["events in the file", _int(n), ""],
                ["events in which the finder listed voxels", _int(events_found), _pct(events_found, n) + " of events"],
                ["voxels listed as Michel", _int(listed), f"{listed / max(events_found, 1):.1f} per such event"],
                ["Michels found (listed voxels grouped by proximity)", _int(len(e)),
                 f"energy: mean {e.mean():.1f} MeV, median {np.median(e):.1f} MeV" if len(e) else ""]]
        return ('<section id="summary"><h2>What the solution holds</h2>'
                + _cards([("events", _int(n), "events in the file"),
                          ("found-michels", _int(len(e)), "Michels found")])
                + _table(["", "count", ""], rows, "Counts of the solution alone (no labels given).") + "</section>")
    t = data.table
    c = t.pooled
    has = t.has_michel
    without = t.subset(~has)
    michel = c.tp + c.fn
    listed = c.tp + c.fp
    rows = [
        ["events in the file", _int(n), ""],
        ["events with at least one labelled Michel voxel", _int(has.sum()),
         f"{_int(data.labelled_michels.sum())} labelled Michels"],
        ["labelled Michel voxels", _int(michel), f"{michel / max(int(has.sum()), 1):.1f} per such event"],
        ["… found (TP)", _int(c.tp), _pct(c.tp, michel) + " of the Michel voxels: the recall"],
        ["… missed (FN)", _int(c.fn), _pct(c.fn, michel) + " of the Michel voxels"],
        ["voxels the finder listed", _int(listed), f"{_int(data.found_michels.sum())} Michels found"],
        ["… wrong (FP)", _int(c.fp), _pct(c.fp, listed) + " of the listed voxels: 1 − precision"],
        ["F1 of the events with a Michel", f"{t.subset(has).pooled.f1:.4f}", f"{_int(has.sum())} events"],
        ["events without a labelled Michel", _int(len(without)),
         f"the finder listed voxels in {_int((without.fp > 0).sum())} of them "
         f"({_int(without.pooled.fp)} wrong voxels)"],
    ]
    return ('<section id="summary"><h2>Scores</h2>'
            + _cards([("f1", f"{c.f1:.4f}", "F1, pooled over all voxels"),
                      ("precision", f"{c.precision:.4f}", "precision: found / listed"),
                      ("recall", f"{c.recall:.4f}", "recall: found / Michel voxels"),
                      ("events", _int(n), "events")])
            + _table(["", "count", "what it means"], rows,
                     "The scores in words. Counts are voxels unless they say events or Michels.", id_="scores")
            + "</section>")


def _lost(data) -> str:
    """Where F1 is lost: coverage, the perfect-selection ceiling, lost and false voxels by cause."""
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
              f"{_int(d['events'])} of the {_int(len(data))} events (every {_ordinal(every)}, to keep the page "
              "quick to make; the numbers below are theirs)")
    intro = ("<p>Every labelled Michel voxel the finder missed and every wrong voxel it listed is put down to one "
             f"cause, by running the finder's candidate search again on {sample} and asking which candidate held "
             "the voxel, and whether that candidate is mostly Michel (more than half of its voxels).</p>")
    ceiling = [["labelled Michel voxels", _int(mv), ""],
               ["… inside some candidate", _int(d["covered_voxels"]),
                f"{100 * d['coverage']:.1f}%: the most any choice among these candidates could find"],
               ["F1 if exactly the mostly-Michel candidates were taken", f"{d['perfect']['f1']:.4f}",
                f"precision {d['perfect']['precision']:.3f}, recall {d['perfect']['recall']:.3f}: "
                "the ceiling of the selection"],
               ["F1 of this solution", f"{d['actual']['f1']:.4f}",
                f"precision {d['actual']['precision']:.3f}, recall {d['actual']['recall']:.3f}"]]
    lost = [[esc(k), _int(v), _pct(v, mv), esc(CAUSE_MEANINGS.get(k, ""))] for k, v in d["lost"].items()]
    listed = d["actual"]["tp"] + d["actual"]["fp"]
    false = [[esc(k), _int(v), _pct(v, listed), esc(FALSE_MEANINGS.get(k, ""))] for k, v in d["false"].items()]
    out = [head, intro,
           _table(["", "value", ""], ceiling, "How far the candidates go: the part of the F1 lost to the search for "
                  "candidates, and the part lost to the choice among them.", id_="ceiling"),
           _figure("lost.png", "bars: fractions of Michel voxels found and lost by cause, and of listed voxels "
                   "that are Michel or wrong by cause",
                   "Top: what became of the labelled Michel voxels (found, or lost for each cause). Bottom: what the "
                   "voxels the solution lists are (Michel, or wrong for each cause). Fractions of the bar's voxels."),
           _table(["cause", "Michel voxels lost", "of all Michel voxels", "meaning"], lost,
                  "Missed Michel voxels (FN) by cause.", id_="lost-causes"),
           _table(["cause", "wrong voxels", "of the listed voxels", "meaning"], false,
                  "Wrong voxels (FP) by cause.", id_="false-causes")]
    if d["by_category"]:
        cats = [[esc(k), _int(v["michel_voxels"]), _int(v["found"]), _int(v["lost"]),
                 _pct(v["found"], v["michel_voxels"]), esc(CATEGORY_MEANINGS.get(k, ""))]
                for k, v in d["by_category"].items()]
        out.append(_table(["Michel category (simulator truth)", "Michel voxels", "found", "lost", "recall",
                           "meaning"], cats, "Michel voxels by what the simulator's truth says about their Michel "
                          "(each voxel given to the Michel whose muon end is nearest).", id_="categories"))
    else:
        out.append("<p class=muted>No simulator truth file: no split by Michel category.</p>")
    return "".join(out) + "</section>"


def _bins_table(rows, what: str, caption: str, id_: str) -> str:
    """The rows of ``report.f1_in_bins`` as a table."""
    def fmt(v):
        return f"{v:g}"
    body = [[(f"{fmt(r['lo'])} and above" if not np.isfinite(r["hi"]) else f"{fmt(r['lo'])} – {fmt(r['hi'])}"),
             _int(r["events"]), _int(r["tp"] + r["fn"]), _int(r["tp"]), _int(r["fn"]), _int(r["fp"]),
             f"{r['f1']:.3f}", f"{r['recall']:.3f}", f"{r['precision']:.3f}"] for r in rows]
    return _table([what, "events", "Michel voxels", "found", "missed", "wrong", "F1", "recall", "precision"], body,
                  caption, id_)


def _energy(data, figures) -> str:
    """F1 against the Michel energy and size of the event."""
    if not data.labelled:
        return ""
    e_rows, v_rows = figures["energy_rows"], figures["voxel_rows"]
    n_has = int(data.table.has_michel.sum())
    n_binned = sum(r["events"] for r in e_rows)
    return ('<section id="energy"><h2>F1 against the Michel energy and size</h2>'
            f"<p>The {_int(n_has)} events with a labelled Michel, grouped by the energy of their labelled Michel "
            "voxels (summed; two Michels in one event add up) and by how many there are; pooled scores within each "
            f"group. Every such event is in one group ({_int(n_binned)} in the energy groups).</p>"
            '<div class="pair">'
            + _figure("f1_energy.png", "F1, recall and precision against the Michel energy of the event",
                      "Pooled F1 (black, horizontal bar: the group's energy range), recall and precision against the "
                      "event's labelled Michel energy (MeV); below, events per group (dotted: the last group, "
                      "open-ended, drawn up to its largest energy).")
            + _figure("f1_voxels.png", "F1, recall and precision against the Michel voxel count of the event",
                      "The same against the number of labelled Michel voxels in the event (log scale).")
            + "</div>"
            + _bins_table(e_rows, "Michel energy (MeV)", "Events with a labelled Michel by its energy (MeV); counts "
                          "are voxels, scores pooled within each group.", "by-energy")
            + _bins_table(v_rows, "Michel voxels", "Events with a labelled Michel by its number of voxels.",
                          "by-size")
            + "</section>")


def _stability(data) -> str:
    """The organisers' stability plot."""
    if not data.labelled:
        return ""
    block = max(1, len(data) // 20)
    return ('<section id="stability"><h2>Stability across the file</h2>'
            + _figure("stability.png", "F1, precision and recall per block of consecutive events",
                      f"Pooled F1, precision and recall over blocks of {_int(block)} consecutive events, in file "
                      "order; "
                      "the horizontal line is the pooled F1 of the whole file. Blocks scatter by chance (a block holds "
                      "few Michels); a trend or a step would mean the events change along the file.")
            + "</section>")


def _spectrum(data, figures) -> str:
    """The Michel energy spectrum against the toy Monte Carlo."""
    sums = figures["spectrum"]
    rows = []
    for name, s in sums.items():
        if not s["n"]:
            rows.append([esc(name), "0", "", "", "", ""])
            continue
        rows.append([esc(name), _int(s["n"]), f"{s['mean_mev']:.1f}", f"{s['peak_mev']:.0f}", f"{s['q90_mev']:.1f}",
                     f"{100 * s['above_endpoint']:.1f}%"])
    what = ("the labelled Michel voxels, the finder's" if data.labelled else "the finder's")
    return ('<section id="spectrum"><h2>Michel energy spectrum</h2>'
            f"<p>The energy of each Michel ({what}; its voxels grouped by proximity and their energies summed) "
            "against the toy Monte Carlo of the decay electron's kinetic energy (the Michel spectrum at tree level, "
            "with radiative corrections, and for a muon bound in an argon atom). The voxels measure deposited "
            "energy: photons radiated by the electron often leave the volume or convert far away, and voxels below "
            "threshold are lost, so the measured spectra sit below the toy curves.</p>"
            + _figure("spectrum.png", "Michel energy spectra: toy Monte Carlo curves and measured points",
                      "Fraction of Michels per MeV (each spectrum normalised to 1; error bars: Poisson). The grey "
                      "line marks the endpoint, 52.8 MeV less the electron mass. Numbers: spectrum.csv.", width=900)
            + _table(["spectrum", "Michels", "mean (MeV)", "most probable (MeV)", "90% below (MeV)",
                      "above 52.8 MeV"], rows, "Summary of each spectrum (toy Monte Carlo: draws).", id_="spectra")
            + "</section>")


def _event_card(ev: dict, data, specs: dict) -> str:
    """One shown event: its picture, its counts and its candidates with the decision's top reasons."""
    i = ev["event"]
    rows = [["voxels in the event", _int(ev["n_voxels"])]]
    if data.labelled:
        t = data.table
        rows += [["labelled Michel voxels", _int(t.tp[i] + t.fn[i])],
                 ["Michel energy (labelled)", f"{data.michel_energy[i]:.1f} MeV"],
                 ["found (TP) / wrong (FP) / missed (FN)", f"{_int(t.tp[i])} / {_int(t.fp[i])} / {_int(t.fn[i])}"]]
        if data.lost is not None and t.fn[i] and all(np.isfinite(v[i]) for v in data.lost.values()):
            rows.append(["missed: " + ", ".join(f"{k} {_int(v[i])}" for k, v in data.lost.items() if v[i] > 0), ""])
    rows.append(["listed by the solution", f"{_int(data.found_voxels[i])} voxels, {data.found_energy[i]:.1f} MeV"])
    records = ev["records"]
    descs = [describe_candidate(r, ev["labels"], specs) for r in records]
    box = ev["box"]

    def near(r) -> bool:
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
            f'<div>{_figure(ev["png"], f"event {i}: whole event and zoom on its Michel", caption, link=True)}'
            f"{link}</div>"
            f'<div class="side">{_table(["", ""], rows)}<b>The finder’s candidates</b>'
            + "".join(cands) + "</div></article>")


def _events(data, shown: list[dict], finder) -> str:
    """The shown events."""
    specs = _feature_specs()
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


def _per_event(data, shown) -> str:
    """The per-event table: all events, paged, filtered and sorted by the page's script."""
    columns, rows, bits, filters = _table_data(data, shown)
    payload = json.dumps({"columns": columns, "rows": rows, "flags": bits, "shown": [s["event"] for s in shown]},
                         separators=(",", ":")).replace("</", "<\\/")
    options = "".join(f'<option value="{bit}">{esc(name)} ({_int(sum(1 for b in bits if bit == 0 or b & bit))})'
                      "</option>" for bit, name in filters)
    head = "".join(f"<th>{esc(c['name'])}</th>" for c in columns)
    what = ("counts are voxels; F1 of an event with neither a labelled nor a listed Michel voxel is 1"
            if data.labelled else "counts are voxels; energies are the listed voxels' sum")
    return ('<section id="table"><h2>Every event</h2>'
            f"<p>All {_int(len(data))} events ({what}). Choose which events to list, click a column's title to "
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


def render(data, figures: dict, shown: list[dict], files: dict, finder, seconds: float) -> str:
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
    headline = (f"F1 {data.table.pooled.f1:.4f} on {_int(len(data))} events" if labelled
                else f"{_int(len(data))} events, no labels")
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    spent = ", ".join(f"{k} {v:.1f} s" for k, v in data.timings.items())
    footer = f'<footer class="muted"><p>Time taken: {esc(spent)}.</p></footer>' if spent else ""
    notes = ("<div class=notes>" + "".join(f"<p>{esc(n)}</p>" for n in data.notes) + "</div>") if data.notes else ""
    body = "".join([
        _summary(data), _lost(data), _energy(data, figures), _stability(data), _spectrum(data, figures),
        _events(data, shown, finder), _per_event(data, shown)])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Michel finder report: {esc(headline)}</title>
<style>{STYLE}</style></head>
<body>
<header><h1>Michel finder report</h1>
<p class="sub">{esc(headline)} · made {when} by michelreco {esc(__version__)} in {seconds:.0f} s</p>
<dl class="files">{file_list}</dl></header>
<nav class="toc">{toc}</nav>
{_how_to_read(labelled)}
{notes}
{body}
{footer}
<script>{SCRIPT}</script>
</body></html>
"""
