"""MichelFinder: the classical Michel-electron finder (placeholder until the rule-based finder lands)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

__all__ = ["MichelFinder"]


class MichelFinder(BaseEstimator):
    """Find the Michel-electron voxels of one event.

    Parameters
    ----------
    min_energy_mev : float, default 0.0
        Voxels at or below this energy are ignored.
    """

    def __init__(self, min_energy_mev: float = 0.0):
        self.min_energy_mev = min_energy_mev

    def find(self, xyze: np.ndarray) -> np.ndarray:
        """Indices (int32) of the Michel voxels of an (N, 4) event."""
        return np.empty(0, dtype=np.int32)
