"""Nuclear (inelastic) interactions of charged pions and protons in flight: a toy final state.

In Geant4 most pions and protons of a few hundred MeV interact with an argon nucleus before they
stop: the nuclear interaction length of argon is 119.7 g/cm^2, 857 mm in the liquid (PDG,
"Atomic and nuclear properties of materials: liquid argon"), against ranges of 0.3-2 m. Without
this, every pi+ runs to the end of its range and gives a pi+ -> mu+ -> e+ chain, and pion and proton
tracks are too long. This module draws where the interaction happens and what comes out; the
transport kernel (``charged.transport_charged``, ``interact_mm``) ends the track there.

Model (a toy of the intranuclear cascade, deliberately simple; energies in MeV, lengths in mm):

- **Where.** Exponential path length with mean ``INTERACTION_LENGTH_MM`` (per particle species)
  divided by the caller's cross-section scale, above ``MIN_KE_MEV``. Protons: the argon nuclear
  interaction length (857 mm, about 560 mb). Pions: 600 mm (about 790 mb): pion-nucleus reaction
  cross sections near the Delta(1232) resonance are larger than the proton's (D. Ashery et al.,
  Phys. Rev. C 23 (1981) 2173, pi+- on C to Bi at 125-315 MeV; scaled to argon by A^(2/3)).
- **What**, for a pion of kinetic energy T:
  - absorption (probability ``PION_ABSORPTION_PROB``): no pion leaves; 1-3 protons share a fraction
    U(0.2, 0.5) of T + m_pi (the rest goes to neutrons and binding, not simulated);
  - otherwise a leading pion with a fraction U(0.2, 0.8) of T, deflected by theta with
    1 - cos(theta) exponential of mean 0.3; with probability ``CHARGE_EXCHANGE_PROB`` it is a pi0,
    which decays at once into two photons (isotropic in its rest frame); plus 0-2 knocked-out
    protons of 10 + Exp(30) MeV (at most a third of T in total).
- **What**, for a proton: a leading proton with a fraction U(0.3, 0.9) of T (deflected as above),
  plus 0-2 protons of 10 + Exp(30) MeV (at most a third of T in total).
- Every interaction leaves the nucleus excited: 1-2 de-excitation photons log-uniform in 1-8 MeV
  (as ``decay`` does for capture).

Neutrons are not emitted and energy is not conserved in detail (neutrons and binding carry the
rest). Random numbers come from numba's ``np.random`` (seed with ``rng.seed_numba``).
"""

import math

import numpy as np
from numba import njit

from michelreco.sim.constants import M_PI, PDG_GAMMA, PDG_P, PDG_PI
from michelreco.sim.decay import isotropic_direction
from michelreco.sim.record import Process

__all__ = ["INTERACTION_LENGTH_MM", "MIN_KE_MEV", "PION_ABSORPTION_PROB", "CHARGE_EXCHANGE_PROB",
           "M_PI0", "interaction_length_mm", "sample_interaction_mm", "inelastic_products"]

INTERACTION_LENGTH_MM = {PDG_P: 857.0, PDG_PI: 600.0}
MIN_KE_MEV = 20.0               # below this no nuclear interaction is drawn
PION_ABSORPTION_PROB = 0.3
CHARGE_EXCHANGE_PROB = 0.15
M_PI0 = 134.9768                # neutral pion mass, MeV (PDG 2024)
_LAMBDA_P = INTERACTION_LENGTH_MM[PDG_P]
_LAMBDA_PI = INTERACTION_LENGTH_MM[PDG_PI]
_INELASTIC = float(Process.INELASTIC)
_GAMMA_EMIN, _GAMMA_EMAX = 1.0, 8.0


@njit(cache=True, nogil=True)
def interaction_length_mm(pdg: int, scale: float) -> float:
    """Mean free path (mm) before a nuclear interaction for a pi+- (211) or p (2212).

    Parameters
    ----------
    pdg : int
        Particle code (sign ignored); other particles never interact (inf).
    scale : float
        Cross-section scale (1 = the values of this module; 0 = no interactions).

    Returns
    -------
    float
        Mean free path, mm (inf when ``scale`` is 0 or the particle does not interact).
    """
    a = abs(pdg)
    if scale <= 0.0 or (a != PDG_P and a != PDG_PI):
        return math.inf
    return (_LAMBDA_P if a == PDG_P else _LAMBDA_PI) / scale


@njit(cache=True, nogil=True)
def sample_interaction_mm(pdg: int, t_mev: float, scale: float) -> float:
    """Path length (mm) at which a particle of kinetic energy ``t_mev`` interacts (inf: never).

    Parameters
    ----------
    pdg : int
        Particle code (pi+- and p interact).
    t_mev : float
        Kinetic energy, MeV; below ``MIN_KE_MEV`` nothing is drawn.
    scale : float
        Cross-section scale (0 disables).

    Returns
    -------
    float
        Exponential path length, mm, or inf (no random number is drawn then).
    """
    lam = interaction_length_mm(pdg, scale)
    if lam == math.inf or t_mev < MIN_KE_MEV:
        return math.inf
    return -lam * math.log(1.0 - np.random.random())


@njit(cache=True, nogil=True)
def _deflect(u, mean_one_minus_cos):
    """Direction at a polar angle with 1 - cos exponential (mean given, capped at 2) around ``u``."""
    c = max(1.0 - np.random.exponential(mean_one_minus_cos), -1.0)
    s = math.sqrt(max(1.0 - c * c, 0.0))
    phi = 2.0 * math.pi * np.random.random()
    if abs(u[2]) < 0.9:
        a = np.array([0.0, 0.0, 1.0])
    else:
        a = np.array([1.0, 0.0, 0.0])
    e1 = np.cross(u, a)
    e1 /= math.sqrt(np.sum(e1 * e1))
    e2 = np.cross(u, e1)
    return c * u + s * (math.cos(phi) * e1 + math.sin(phi) * e2)


@njit(cache=True, nogil=True)
def _put(out, n, pdg, pos, d, energy):
    """Append one product row (SECONDARY_COLUMNS); return the new count."""
    out[n, 0] = pdg
    out[n, 1] = _INELASTIC
    out[n, 2], out[n, 3], out[n, 4] = pos[0], pos[1], pos[2]
    out[n, 5], out[n, 6], out[n, 7] = d[0], d[1], d[2]
    out[n, 8] = energy
    return n + 1


@njit(cache=True, nogil=True)
def _pi0_photons(out, n, pos, d, t):
    """The two photons of a pi0 of kinetic energy ``t`` moving along ``d`` (decay at once)."""
    e = t + M_PI0
    p = math.sqrt(max(e * e - M_PI0 * M_PI0, 0.0))
    beta = p / e
    gam = e / M_PI0
    r = isotropic_direction()        # photon direction in the rest frame
    cpar = r[0] * d[0] + r[1] * d[1] + r[2] * d[2]
    for sgn in (1.0, -1.0):
        k = 0.5 * M_PI0 * gam * (1.0 + beta * sgn * cpar)
        # lab momentum: parallel part boosted, perpendicular part unchanged
        perp = sgn * (r - cpar * d) * 0.5 * M_PI0
        par = gam * (sgn * cpar + beta) * 0.5 * M_PI0
        v = perp + par * d
        v /= math.sqrt(np.sum(v * v))
        n = _put(out, n, float(PDG_GAMMA), pos, v, k)
    return n


@njit(cache=True, nogil=True)
def inelastic_products(pdg: int, t_mev: float, pos: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Secondaries of a nuclear interaction of a pi+- or p of kinetic energy ``t_mev`` at ``pos``.

    Parameters
    ----------
    pdg : int
        211, -211 or 2212.
    t_mev : float
        Kinetic energy at the interaction, MeV.
    pos : ndarray, shape (3,)
        Interaction point, mm.
    direction : ndarray, shape (3,)
        Unit direction of the particle there.

    Returns
    -------
    ndarray, shape (m, 9)
        ``record.SECONDARY_COLUMNS`` rows (process ``Process.INELASTIC``): the leading hadron if
        any, knocked-out protons, pi0 photons and de-excitation photons (see the module doc).
    """
    out = np.empty((12, 9))
    n = 0
    u = direction / math.sqrt(np.sum(direction * direction))
    a = abs(pdg)
    budget = t_mev / 3.0               # kinetic energy left for knocked-out protons
    n_knock = 0
    if a == PDG_PI and np.random.random() < PION_ABSORPTION_PROB:
        # absorption: 1-3 protons share part of T + m_pi, isotropic
        n_p = 1 + int(np.random.random() * 3.0)
        share = (0.2 + 0.3 * np.random.random()) * (t_mev + M_PI)
        w = np.random.random(n_p) + 0.05
        w /= np.sum(w)
        for i in range(n_p):
            n = _put(out, n, float(PDG_P), pos, isotropic_direction(), share * w[i])
    else:
        if a == PDG_PI:
            tl = (0.2 + 0.6 * np.random.random()) * t_mev
            dl = _deflect(u, 0.3)
            if np.random.random() < CHARGE_EXCHANGE_PROB:
                n = _pi0_photons(out, n, pos, dl, tl)
            else:
                n = _put(out, n, float(pdg), pos, dl, tl)
        else:
            tl = (0.3 + 0.6 * np.random.random()) * t_mev
            n = _put(out, n, float(PDG_P), pos, _deflect(u, 0.3), tl)
        n_knock = int(np.random.random() * 3.0)
    for _ in range(n_knock):
        tp = 10.0 + np.random.exponential(30.0)
        if tp > budget:
            break
        budget -= tp
        n = _put(out, n, float(PDG_P), pos, isotropic_direction(), tp)
    n_gamma = 1 + int(np.random.random() * 2.0)
    for _ in range(n_gamma):
        k = _GAMMA_EMIN * math.exp(np.random.random() * math.log(_GAMMA_EMAX / _GAMMA_EMIN))
        n = _put(out, n, float(PDG_GAMMA), pos, isotropic_direction(), k)
    return out[:n].copy()
