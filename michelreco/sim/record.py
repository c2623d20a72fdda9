"""The simulator's truth record: the particle table and the energy deposits of one event.

Transport kernels return plain arrays in these layouts so that numba code can fill them;
the labeller (``michelreco.sim.labels``) turns them into voxels and Supera-style labels.
"""

from enum import IntEnum

import numpy as np

__all__ = ["Process", "PARTICLE_DTYPE", "DEPOSIT_COLUMNS", "SECONDARY_COLUMNS"]


class Process(IntEnum):
    """How a particle was created (the Geant4 process names in comments)."""

    PRIMARY = 0   # from the event generator
    DECAY = 1     # Decay: mu -> e (Michel), pi -> mu
    IONI = 2      # eIoni/muIoni/hIoni: delta ray (knock-on electron)
    BREM = 3      # eBrem: bremsstrahlung photon
    COMPT = 4     # compt: Compton electron
    CONV = 5      # conv: pair-production electron or positron
    PHOT = 6      # phot: photoelectron
    ANNIHIL = 7   # annihil: photon from positron annihilation
    CAPTURE = 8   # muMinusCaptureAtRest / pi- absorption products
    INELASTIC = 9  # pi+-Inelastic / protonInelastic: products of a nuclear interaction in flight


# One row per particle. ``parent`` is -1 for primaries; ids are row numbers in the event's table.
PARTICLE_DTYPE = np.dtype([
    ("id", np.int32),
    ("parent", np.int32),
    ("pdg", np.int32),
    ("process", np.int8),
    ("energy", np.float64),      # kinetic energy at creation, MeV (photons: total energy)
    ("start", np.float64, 3),    # creation point, mm, world frame (active volume is [0, 2304)^3)
    ("end", np.float64, 3),      # end point, mm
])

# Deposits travel as an (n, 5) float64 array: x, y, z (mm), energy (MeV), particle id.
DEPOSIT_COLUMNS = ("x", "y", "z", "energy", "particle")

# Secondaries returned by a transport kernel, an (m, 9) float64 array:
# pdg, process, x, y, z (mm), ux, uy, uz (unit direction), kinetic energy (MeV; photons: energy).
SECONDARY_COLUMNS = ("pdg", "process", "x", "y", "z", "ux", "uy", "uz", "energy")
