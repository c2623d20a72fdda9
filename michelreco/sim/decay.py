"""What happens to a charged particle that comes to rest in liquid argon.

:func:`products_at_rest` returns the secondaries (``record.SECONDARY_COLUMNS`` layout) created at
the stopping point; the caller transports them (and calls this again when a daughter stops):

- ``mu+`` (pdg -13): always decays; a Michel positron (pdg -11, ``Process.DECAY``), energy from the
  free-decay spectrum (``free_variant``, radiative by default), isotropic. Neutrinos are dropped.
- ``mu-`` (pdg 13): decays in orbit with probability ``MU_MINUS_DECAY_FRACTION`` (~25%), giving a
  Michel electron (pdg 11) from the bound-muon spectrum. Otherwise it is captured by the nucleus
  (``Process.CAPTURE``), toy model: 1-3 de-excitation photons, each log-uniform in 1-8 MeV, and
  with probability ``CAPTURE_PROTON_PROB`` a proton of ``3 + Exp(7)`` MeV (at most 40 MeV). The
  neutrons that carry most of the excitation energy, and the neutrino, are not emitted (their
  deposits are far away and diffuse).
- ``pi+`` (pdg 211): decays at rest to a ``mu+`` of ``PI_DECAY_MU_KE_MEV`` = 4.12 MeV (isotropic,
  ``Process.DECAY``), which stops after ~1.5 mm and decays in turn.
- ``pi-`` (pdg -211): absorbed by the nucleus (``Process.CAPTURE``), toy model: 0-3 protons
  (probabilities 0.3/0.4/0.2/0.1) of ``5 + Exp(25)`` MeV each (at most 120 MeV, 150 MeV in total)
  and 1-2 photons log-uniform in 1-8 MeV; the neutrons are not emitted.
- anything else (protons, ...): no products.

Random numbers come from numba's ``np.random`` (seed with ``rng.seed_numba``). Energies in MeV
(kinetic for massive particles, total for photons), positions in mm.
"""

import math

import numpy as np
from numba import njit

from michelreco.sim.constants import (
    M_E, MU_MINUS_DECAY_FRACTION, PDG_E, PDG_GAMMA, PDG_MU, PDG_P, PDG_PI, PI_DECAY_MU_KE_MEV,
)
from michelreco.sim.michel_spectrum import VARIANT_BOUND, VARIANT_RADIATIVE, sample_michel_energy_nb
from michelreco.sim.record import Process

__all__ = ["CAPTURE_PROTON_PROB", "products_at_rest", "isotropic_direction"]

CAPTURE_PROTON_PROB = 0.1  # toy: charged-particle emission after mu- capture on medium nuclei
_GAMMA_EMIN, _GAMMA_EMAX = 1.0, 8.0   # nuclear de-excitation photons, MeV
_PIM_NPROTON_CDF = np.array([0.3, 0.7, 0.9, 1.0])  # pi- absorption: P(n protons <= 0..3)
_DECAY = float(Process.DECAY)
_CAPTURE = float(Process.CAPTURE)


@njit(cache=True, nogil=True)
def isotropic_direction() -> np.ndarray:
    """A unit vector uniformly distributed on the sphere (numba's ``np.random``).

    Returns
    -------
    ndarray, shape (3,)
        The direction.
    """
    c = 2.0 * np.random.random() - 1.0
    s = math.sqrt(max(1.0 - c * c, 0.0))
    phi = 2.0 * math.pi * np.random.random()
    return np.array([s * math.cos(phi), s * math.sin(phi), c])


@njit(cache=True, nogil=True)
def _put(out, n, pdg, proc, pos, energy):
    d = isotropic_direction()
    out[n, 0] = pdg
    out[n, 1] = proc
    out[n, 2], out[n, 3], out[n, 4] = pos[0], pos[1], pos[2]
    out[n, 5], out[n, 6], out[n, 7] = d[0], d[1], d[2]
    out[n, 8] = energy
    return n + 1


@njit(cache=True, nogil=True)
def _nuclear_photon_energy():
    # log-uniform between _GAMMA_EMIN and _GAMMA_EMAX
    return _GAMMA_EMIN * math.exp(np.random.random() * math.log(_GAMMA_EMAX / _GAMMA_EMIN))


@njit(cache=True, nogil=True)
def products_at_rest(pdg: int, pos: np.ndarray, free_variant: int = VARIANT_RADIATIVE) -> np.ndarray:
    """Secondaries created when a particle of code ``pdg`` stops at ``pos``.

    Parameters
    ----------
    pdg : int
        PDG code of the stopped particle (-13 mu+, 13 mu-, 211 pi+, -211 pi-, others: nothing).
    pos : ndarray, shape (3,)
        Stopping point, mm.
    free_variant : int, optional
        Michel spectrum of free mu+ decay, ``michel_spectrum.VARIANT_*`` (default
        ``VARIANT_RADIATIVE``); a mu- decaying in orbit always uses ``VARIANT_BOUND``.

    Returns
    -------
    ndarray, shape (m, 9)
        Rows in the ``record.SECONDARY_COLUMNS`` layout: pdg, process, x, y, z, ux, uy, uz,
        kinetic energy (photons: energy). Michel electrons and the pi+ -> mu+ muon have
        ``Process.DECAY``, capture/absorption products ``Process.CAPTURE``.
    """
    out = np.empty((8, 9))
    n = 0
    if pdg == -PDG_MU:
        e = sample_michel_energy_nb(free_variant)
        n = _put(out, n, float(-PDG_E), _DECAY, pos, e - M_E)
    elif pdg == PDG_MU:
        if np.random.random() < MU_MINUS_DECAY_FRACTION:
            e = sample_michel_energy_nb(VARIANT_BOUND)
            n = _put(out, n, float(PDG_E), _DECAY, pos, e - M_E)
        else:
            n_gamma = 1 + int(np.random.random() * 3.0)
            for _ in range(n_gamma):
                n = _put(out, n, float(PDG_GAMMA), _CAPTURE, pos, _nuclear_photon_energy())
            if np.random.random() < CAPTURE_PROTON_PROB:
                tp = min(3.0 + np.random.exponential(7.0), 40.0)
                n = _put(out, n, float(PDG_P), _CAPTURE, pos, tp)
    elif pdg == PDG_PI:
        n = _put(out, n, float(-PDG_MU), _DECAY, pos, PI_DECAY_MU_KE_MEV)
    elif pdg == -PDG_PI:
        u = np.random.random()
        n_p = 0
        while u > _PIM_NPROTON_CDF[n_p]:
            n_p += 1
        total = 0.0
        for _ in range(n_p):
            tp = min(5.0 + np.random.exponential(25.0), 120.0)
            if total + tp > 150.0:
                break
            total += tp
            n = _put(out, n, float(PDG_P), _CAPTURE, pos, tp)
        n_gamma = 1 + int(np.random.random() * 2.0)
        for _ in range(n_gamma):
            n = _put(out, n, float(PDG_GAMMA), _CAPTURE, pos, _nuclear_photon_energy())
    return out[:n].copy()
