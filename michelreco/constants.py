"""Detector geometry, label ids of the challenge data and the Michel endpoint, defined once for the package.

References: the INSS 2025 "Find Michels!" data description (a (2.3 m)^3 liquid-argon volume in 768^3 voxels
of 3 mm; labels 0 shower, 1 track, 2 Michel, 3 delta, 4 low energy, as in DeepLearnPhysics' Supera), restated
in ``docs/data-format.md``; the muon and electron masses from CODATA 2018 through ``scipy.constants``.
"""

from __future__ import annotations

from scipy.constants import physical_constants as _pc

__all__ = [
    "VOXEL_MM", "GRID_VOXELS", "ACTIVE_MM",
    "LABEL_SHOWER", "LABEL_TRACK", "LABEL_MICHEL", "LABEL_DELTA", "LABEL_LOW_ENERGY",
    "LABEL_NAMES", "N_LABELS", "MICHEL_LABEL", "label_name", "MICHEL_ENDPOINT_MEV",
]

VOXEL_MM = 3.0                       # voxel pitch (mm)
GRID_VOXELS = 768                    # voxels per side of the active volume; indices 0..767
ACTIVE_MM = VOXEL_MM * GRID_VOXELS   # 2304 mm: side of the active volume

LABEL_SHOWER, LABEL_TRACK, LABEL_MICHEL, LABEL_DELTA, LABEL_LOW_ENERGY = 0, 1, 2, 3, 4
LABEL_NAMES = ("shower", "track", "Michel", "delta", "low energy")   # indexed by label id
N_LABELS = len(LABEL_NAMES)
MICHEL_LABEL = LABEL_MICHEL          # the class the challenge asks for

_M_E = _pc["electron mass energy equivalent in MeV"][0]
_M_MU = _pc["muon mass energy equivalent in MeV"][0]
MICHEL_ENDPOINT_MEV = (_M_MU ** 2 + _M_E ** 2) / (2.0 * _M_MU)   # 52.83 MeV: the most a decay electron can carry


def label_name(label: int) -> str:
    """What is label ``label`` called?"""
    if not 0 <= label < N_LABELS:
        raise ValueError(f"label {label} is not one of 0..{N_LABELS - 1}")
    return LABEL_NAMES[label]
