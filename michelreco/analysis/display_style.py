"""How the event displays look: colours, marker styles, scales, and the note of an empty panel.

Shared by ``michelreco display`` (``analysis.display``), the report's event views (``analysis.event_view_png``,
``analysis.event_view_html``), the report's figures and its page (whose colour key uses the same colours).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from michelreco.constants import VOXEL_MM

if TYPE_CHECKING:
    from mpl_toolkits.mplot3d import Axes3D

__all__ = ["LABEL_COLOURS", "OUTCOME_COLOURS", "CLASS_STYLES", "PEAK_COLOURS", "CANDIDATE_COLOURS", "CM",
           "ENERGY_RANGE_MEV", "empty_panel"]

LABEL_COLOURS = ("#ff7f0e", "#1f77b4", "#d62728", "#2ca02c", "#bbbbbb")
OUTCOME_COLOURS = {"found (TP)": "#2ca02c", "wrong (FP)": "#d62728", "missed (FN)": "#000000", "other": "#cccccc"}

# The report's voxel classes: name -> (colour, matplotlib marker, marker size in points^2), drawn in this order
# (rarest and most important last, so on top). Colours from the Okabe-Ito palette (colour-blind safe).
CLASS_STYLES: dict[str, tuple[str, str, float]] = {
    "other voxels": ("#c4c4c4", "o", 1.5),
    "rejected candidate, not Michel": ("#56b4e9", "o", 5),
    "in a rejected candidate": ("#56b4e9", "o", 5),
    "found (TP)": ("#009e73", "o", 7),
    "found by the finder": ("#009e73", "o", 7),
    "missed: no candidate (FN)": ("#000000", "^", 12),
    "missed: candidate rejected (FN)": ("#cc79a7", "^", 12),
    "missed: boundary (FN)": ("#e69f00", "^", 12),
    "missed (FN)": ("#000000", "^", 12),
    "wrong (FP)": ("#d55e00", "s", 10),
}
PEAK_COLOURS = {True: "#006b4f", False: "#7b3294"}   # Bragg-peak marks: accepted, rejected candidate
CM = VOXEL_MM / 10.0                                  # centimetres per voxel
ENERGY_RANGE_MEV = (0.03, 10.0)                       # fixed colour scale of voxel energy (log), all events
# the report's candidate view: one colour per candidate (Okabe-Ito), repeated when there are more
CANDIDATE_COLOURS = ["#e69f00", "#0072b2", "#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#f0e442", "#000000"]


def empty_panel(ax: Axes3D, text: str = "no voxels to show") -> None:
    """Write ``text`` in the middle of an empty 3D panel.

    Parameters
    ----------
    ax : mpl_toolkits.mplot3d.Axes3D
        The panel.
    text : str
        What the panel would have shown.
    """
    ax.text2D(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=10, color="0.4")
