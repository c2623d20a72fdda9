"""Seeding of numba's random generator.

Numba kernels draw from numba's own ``np.random`` state, which is separate from NumPy's; it can
only be seeded from compiled code, hence this tiny njit function.
"""

import numpy as np
from numba import njit

__all__ = ["seed_numba"]


@njit(cache=True, nogil=True)
def seed_numba(seed: int) -> None:
    """Seed numba's ``np.random`` generator (used by every simulation kernel) with ``seed``."""
    np.random.seed(seed)
