"""The run report: scores, per-event table, stability plot, F1 against Michel energy and size, and displays
of the best, worst and typical events, in one ``index.html`` that opens in a browser with no server."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from michelreco.analysis.display import display_png
from michelreco.constants import MICHEL_LABEL
from michelreco.run.io import iter_events, iter_labels, read_event, read_labels, read_solution, write_bytes_atomically
from michelreco.analysis.metrics import Counts, score_files
from michelreco.analysis.plots import plot_block_f1, pyplot, save_figure

__all__ = ["make_report"]

TABLE_ROWS = 300          # events listed in the page; the CSV has them all


def _michel_sizes(xyze_path, labels_path) -> tuple[np.ndarray, np.ndarray]:
    """Per event: energy (MeV) and number of the voxels labelled Michel."""
    energy, count = [], []
    for (_, xyze), (_, labels) in zip(iter_events(xyze_path), iter_labels(labels_path)):
        michel = labels == MICHEL_LABEL
        energy.append(float(xyze[michel, 3].sum()))
        count.append(int(michel.sum()))
    return np.array(energy), np.array(count)


def _f1_in_bins(table, values, edges) -> list[tuple[float, float, int, float]]:
    """Pooled F1 of the events whose value falls in each bin: (low, high, events, F1)."""
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (values >= lo) & (values < hi)
        if sel.any():
            out.append((lo, hi, int(sel.sum()), table.subset(sel).pooled.f1))
    return out


def _plot_bins(rows, xlabel: str, path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    centres = [0.5 * (lo + hi) for lo, hi, _, _ in rows]
    ax.plot(centres, [f1 for *_, f1 in rows], "o-")
    for (lo, hi, n, f1), c in zip(rows, centres):
        ax.annotate(str(n), (c, f1), fontsize=6, textcoords="offset points", xytext=(0, 4), ha="center")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("pooled F1 (events in the bin)")
    ax.set_ylim(0, 1.05)
    save_figure(fig, path)
    plt.close(fig)


def _pick_events(table, per_event) -> dict[str, list[int]]:
    """Events to display: best, worst and typical, among those with a true or a predicted Michel."""
    active = np.flatnonzero(~table.empty)
    if active.size == 0:
        return {}
    f1 = per_event["f1"][active]
    size = (table.tp + table.fn)[active]
    best = active[np.lexsort((-size, -f1))][:2]
    worst = active[np.lexsort((-(table.fp + table.fn)[active], f1))][:2]
    typical = active[np.argsort(np.abs(f1 - table.pooled.f1), kind="stable")][:2]
    return {"best": sorted(set(best.tolist())), "worst": sorted(set(worst.tolist())),
            "typical": sorted(set(typical.tolist()))}


def make_report(xyze_path, labels_path, solution_path, out_dir, dataset: str | None = None) -> Path:
    """Write DIR/index.html with its images and DIR/per_event.csv; return the page's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = score_files(solution_path, labels_path, dataset)
    per = table.per_event()
    n = len(table)
    block = max(1, n // 20)
    plot_block_f1(table, block, out / "stability.png")
    energy, count = _michel_sizes(xyze_path, labels_path)
    has = table.has_michel
    e_rows = _f1_in_bins(table.subset(has), energy[has], np.arange(0, 62, 6.0))
    v_rows = _f1_in_bins(table.subset(has), count[has], np.array([1, 10, 25, 50, 75, 100, 150, 250, 1000]))
    _plot_bins(e_rows, "energy of the labelled Michel voxels in the event (MeV)", out / "f1_energy.png")
    _plot_bins(v_rows, "labelled Michel voxels in the event", out / "f1_voxels.png")
    picks = _pick_events(table, per)
    shown = {}
    for kind, events in picks.items():
        for i in events:
            name = f"event_{i}.png"
            display_png(read_event(xyze_path, i), read_labels(labels_path, i), read_solution(solution_path, i, dataset),
                        out / name, title=f"event {i} ({kind})", zoom_voxels=60)
            shown.setdefault(kind, []).append((i, name))
    table.write_per_event_csv(out / "per_event.csv", {"michel_energy_mev": energy, "michel_voxels": count})
    page = _page(table, per, energy, count, shown, e_rows, v_rows,
                 [str(xyze_path), str(labels_path), str(solution_path)])
    write_bytes_atomically(out / "index.html", page.encode())
    return out / "index.html"


def _page(table, per, energy, count, shown, e_rows, v_rows, files) -> str:
    c: Counts = table.pooled
    has = table.has_michel
    without = table.subset(~has)
    esc = html.escape
    rows = "".join(
        f"<tr><td>{i}</td><td>{table.tp[i]}</td><td>{table.fp[i]}</td><td>{table.fn[i]}</td>"
        f"<td>{per['precision'][i]:.3f}</td><td>{per['recall'][i]:.3f}</td><td>{per['f1'][i]:.3f}</td>"
        f"<td>{energy[i]:.1f}</td><td>{count[i]}</td></tr>" for i in range(min(len(table), TABLE_ROWS)))
    displays = "".join(
        f"<h3>{esc(kind)}</h3>" + "".join(f'<figure><img src="{name}" alt="event {i}" width="1100">'
                                          f"<figcaption>event {i}</figcaption></figure>" for i, name in events)
        for kind, events in shown.items())
    bins = lambda rows: "".join(f"<tr><td>{lo:g}-{hi:g}</td><td>{n}</td><td>{f1:.3f}</td></tr>"  # noqa: E731
                                for lo, hi, n, f1 in rows)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>michelreco report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}} img{{max-width:100%}}</style></head>
<body>
<h1>Michel finder report</h1>
<p>Events: {esc(files[0])}<br>Labels: {esc(files[1])}<br>Solution: {esc(files[2])}</p>
<h2>Scores</h2>
<table id="scores">
<tr><th>events</th><td>{len(table)}</td></tr>
<tr><th>F1</th><td id="f1">{c.f1:.4f}</td></tr>
<tr><th>precision</th><td id="precision">{c.precision:.4f}</td></tr>
<tr><th>recall</th><td id="recall">{c.recall:.4f}</td></tr>
<tr><th>TP / FP / FN</th><td>{c.tp} / {c.fp} / {c.fn}</td></tr>
<tr><th>events with a Michel: F1</th><td>{int(has.sum())}: {table.subset(has).pooled.f1:.4f}</td></tr>
<tr><th>events without: false voxels</th><td>{len(without)}: {without.pooled.fp} in {int((without.fp > 0).sum())} events</td></tr>
</table>
<h2>Stability: scores per block of events</h2><img src="stability.png" alt="stability plot">
<h2>F1 against the Michels' energy and size</h2>
<img src="f1_energy.png" alt="F1 against energy"> <img src="f1_voxels.png" alt="F1 against voxel count">
<table><tr><th>energy (MeV)</th><th>events</th><th>F1</th></tr>{bins(e_rows)}</table>
<table><tr><th>Michel voxels</th><th>events</th><th>F1</th></tr>{bins(v_rows)}</table>
<h2>Events</h2>{displays}
<h2>Per event</h2><p>The first {min(len(table), TABLE_ROWS)} events; all of them in <a href="per_event.csv">per_event.csv</a>.</p>
<table id="per-event"><tr><th>event</th><th>TP</th><th>FP</th><th>FN</th><th>precision</th><th>recall</th><th>F1</th>
<th>Michel energy</th><th>Michel voxels</th></tr>{rows}</table>
</body></html>
"""
