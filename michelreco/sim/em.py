"""Electron, positron and photon transport in liquid argon, with electromagnetic cascades.

Everything here is a serial numba kernel; random numbers come from numba's ``np.random`` (seed it
with :func:`michelreco.sim.rng.seed_numba`). Lengths in mm, energies in MeV.

Physics
-------
Electrons and positrons (class-II condensed history, steps of at most ``step_max`` mm):

- collision loss: Bethe formula for electrons (Moller form, restricted to energy transfers below
  ``delta_cut``) and positrons (Bhabha form, total; no positron knock-ons), with the Sternheimer
  density effect (ICRU 37 / PDG "Passage of particles through matter");
- delta rays (electrons only): Moller cross section above ``delta_cut``;
- bremsstrahlung: Bethe-Heitler complete-screening spectrum
  ``dN/dk dx = (1/(k X0)) (4/3 - 4/3 y + y^2)``, ``y = k/E`` (PDG, same review); photons
  above ``k_cut`` are emitted as particles, the loss below ``k_cut`` is continuous. With the
  collision loss, the CSDA ranges of docs/simulation.md §8 come out within ~2% and the simulated mean
  path lengths within ~5% (brem fluctuations shorten the mean path at 30-50 MeV).
  The photon polar angle is ``theta = (m_e/E) sqrt(r/(1-r))``, the small-angle shape
  ``~ 1/(1 + (E theta/m_e)^2)^2``;
- multiple scattering: Highland angle per step (PDG), see :func:`_msc_theta0`;
- electrons stop below ``e_stop`` and deposit the rest where they are; positrons then annihilate
  at rest into two back-to-back 0.511 MeV photons (no annihilation in flight);
- optional (the default preset): knock-on electrons between ``knock_lo`` and ``delta_cut`` made
  explicitly and deposited by :func:`short_electron_walk`, electrons below ``walk_below`` finished
  by the same walk, and a lateral spread of every deposit (``spread_mm``, see
  :func:`michelreco.sim.segments.deposit_point`).

Photons:

- Compton scattering: Klein-Nishina on free electrons (no binding), angle sampled with the
  Butcher-Messel composition-rejection method; the photon keeps its id after scattering;
- pair production: Bethe-Heitler with Butcher-Messel screening functions, Coulomb correction and
  Z(Z+1) for the electron-field (triplet) part; total cross section tabulated at import by
  integrating the same differential cross section (tends to 7/(9 X0));
- photoelectric absorption: ``mu/rho = 0.025 (0.1 MeV / k)^3 cm^2/g``, a power law through the
  NIST XCOM argon value at 100 keV (total minus incoherent and coherent); good to ~20% between
  ~30 keV and 300 keV, negligible above. No fluorescence, no Rayleigh scattering.
- photons below ``photon_cut`` deposit their energy where they are.

Output layout
-------------
``deposits``: (n, 5) float64, ``x, y, z`` (mm), energy (MeV), local particle id (as float).
An electron step's energy is split along the straight step at the 3 mm voxel planes (multiples of
``VOXEL_MM``), each piece getting the share proportional to its length, stored at its midpoint
(:func:`michelreco.sim.charged.deposit_along_segment`): voxels clipped by a track get small
energies, as when Geant4 steps are voxelized along their path. Point-like deposits (photons below
``photon_cut``, local Compton/photo-electrons, the energy left by a stopping electron) are single
rows. Local id ``-1`` is the particle the caller
gave; ``0 .. m-1`` are the rows of ``particles``. Deposits are kept everywhere in the world box
(the caller crops to the active volume); nothing is ever deposited outside the world box.

``particles``: (m, 12) float64, columns :data:`EM_PARTICLE_COLUMNS`:
``local_id, local_parent, pdg, process, energy, start x, y, z, end x, y, z, escaped``.
``local_parent = -1`` means the given particle; ``process`` is a :class:`record.Process` value;
``energy`` is the kinetic energy at creation (photons: their energy); ``escaped`` is the energy the
particle carried out of the world box (0 when it ended inside). Every photon, electron and
positron created gets a row (unless ``group_below`` > 0, see :func:`simulate_em_ext`).
:func:`to_event_ids` turns both arrays into the event's numbering and ``PARTICLE_DTYPE``.

Energy bookkeeping: initial energy (kinetic for e+-, total for photons)
= sum(deposits) + sum(escaped) + escaped energy of the given particle
+ 2 m_e (number of CONV positrons) - 2 m_e (number of annihilations).
"""

import math

import numpy as np
from numba import njit
from scipy.constants import physical_constants as _pc

from .constants import (
    K_MEV_CM2_MOL, LAR_DENSITY_G_CM3, LAR_I_MEV, LAR_X0_MM, LAR_Z, LAR_Z_OVER_A, M_E, PDG_E,
    PDG_GAMMA,
)
from .segments import deposit_along_segment, deposit_point, near_active
from .record import PARTICLE_DTYPE, Process
from .stopping import density_effect

__all__ = [
    "EM_PARTICLE_COLUMNS", "WALK_SEGMENTS", "WALK_SHORT_MM", "simulate_em", "simulate_em_ext", "trace_lepton",
    "to_event_ids", "electron_dedx_mev_mm", "electron_csda_range_mm", "short_electron_walk",
    "photon_attenuation_per_mm",
]

EM_PARTICLE_COLUMNS = ("local_id", "local_parent", "pdg", "process", "energy",
                       "start_x", "start_y", "start_z", "end_x", "end_y", "end_z", "escaped")

# --- derived material constants (mm, MeV) -------------------------------------------------------
_ME = M_E
_X0 = LAR_X0_MM
# (K/2) (Z/A) rho: the prefactor of the electron stopping power, MeV/mm
_KP = 0.5 * K_MEV_CM2_MOL * LAR_Z_OVER_A * LAR_DENSITY_G_CM3 / 10.0
_I_OVER_ME2 = (LAR_I_MEV / M_E) ** 2
# 2 pi r_e^2 n_e per mm: the Klein-Nishina prefactor (K = 4 pi N_A r_e^2 m_e c^2)
_KN_PREF = _KP / M_E
_ALPHA = _pc["fine-structure constant"][0]
_RE_MM = _pc["classical electron radius"][0] * 1e3
_NA = _pc["Avogadro constant"][0]
# argon atoms per mm^3: rho N_A (Z/A) / Z
_N_ATOM_MM3 = LAR_DENSITY_G_CM3 * _NA * LAR_Z_OVER_A / LAR_Z * 1e-3
_Z13 = LAR_Z ** (1.0 / 3.0)
_LNZ3 = math.log(LAR_Z) / 3.0
_AZ2 = (_ALPHA * LAR_Z) ** 2
# Coulomb correction f_c(Z) (Davies, Bethe, Maximon 1954, as quoted by the PDG)
_FC = _AZ2 * (1.0 / (1.0 + _AZ2) + 0.20206 - 0.0369 * _AZ2 + 0.0083 * _AZ2 ** 2 - 0.002 * _AZ2 ** 3)
_PAIR_PREF = 4.0 * _ALPHA * _RE_MM ** 2 * LAR_Z * (LAR_Z + 1.0) * _N_ATOM_MM3   # per mm
# photoelectric: 0.025 cm^2/g at 100 keV (NIST XCOM argon), in 1/mm
_PE_NORM = 0.025 * LAR_DENSITY_G_CM3 / 10.0
_STEP_MIN = 0.05            # mm: shortest continuous step (sub-voxel anyway)
_PDG_E = PDG_E
_PDG_G = PDG_GAMMA
_P_BREM = float(Process.BREM)
_P_IONI = float(Process.IONI)
_P_COMPT = float(Process.COMPT)
_P_CONV = float(Process.CONV)
_P_PHOT = float(Process.PHOT)
_P_ANNIHIL = float(Process.ANNIHIL)


# --- electrons and positrons ---------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _dedx_col(t: float, positron: bool, cut: float) -> float:
    """Collision stopping power (MeV/mm) at kinetic energy ``t``; Moller restricted to ``cut``."""
    tau = t / _ME
    gam = tau + 1.0
    b2 = 1.0 - 1.0 / (gam * gam)
    delta = density_effect(math.sqrt(gam * gam - 1.0))
    if positron:
        y = 1.0 / (tau + 2.0)
        f = 2.0 * math.log(2.0) - b2 / 12.0 * (23.0 + 14.0 * y + 10.0 * y * y + 4.0 * y ** 3)
        lg = math.log(tau * tau * (tau + 2.0) / (2.0 * _I_OVER_ME2))
    else:
        d = min(cut, 0.5 * t) / _ME
        f = (-1.0 - b2 + math.log((tau - d) * d) + tau / (tau - d)
             + (0.5 * d * d + (2.0 * tau + 1.0) * math.log(1.0 - d / tau)) / (gam * gam))
        lg = math.log(2.0 * (tau + 2.0) / _I_OVER_ME2)
    s = _KP / b2 * (lg + f - delta)
    return max(s, 1e-6)


@njit(cache=True, nogil=True)
def _dedx_rad_cont(t: float, kcut: float) -> float:
    """Radiative loss (MeV/mm) to photons below ``kcut`` (complete-screening spectrum)."""
    e = t + _ME
    kc = min(kcut, t)
    return (4.0 / 3.0 * kc - 2.0 / 3.0 * kc * kc / e + kc ** 3 / (3.0 * e * e)) / _X0


@njit(cache=True, nogil=True)
def _brem_rate(t: float, kcut: float) -> float:
    """Number of bremsstrahlung photons above ``kcut`` per mm."""
    if t <= kcut:
        return 0.0
    e = t + _ME
    return (4.0 / 3.0 * math.log(t / kcut) - 4.0 / 3.0 * (t - kcut) / e
            + (t * t - kcut * kcut) / (2.0 * e * e)) / _X0


@njit(cache=True, nogil=True)
def _moller_rate(t: float, cut: float) -> float:
    """Number of Moller delta rays above ``cut`` per mm (the delta is the slower electron)."""
    if t <= 2.0 * cut:
        return 0.0
    tau = t / _ME
    gam = tau + 1.0
    b2 = 1.0 - 1.0 / (gam * gam)
    xc = cut / t
    g = tau / gam
    c = (2.0 * tau + 1.0) / (gam * gam)
    integral = (1.0 / xc - 1.0 / (1.0 - xc) + g * g * (0.5 - xc) - c * math.log((1.0 - xc) / xc))
    return _KP / (b2 * t) * integral


@njit(cache=True, nogil=True)
def electron_dedx_mev_mm(t: float, positron: bool = False, delta_cut: float = 1e9,
                         k_cut: float = 1e9) -> float:
    """Mean stopping power of an electron or positron in LAr.

    Parameters
    ----------
    t : float
        Kinetic energy, MeV.
    positron : bool, optional
        Bhabha instead of Moller collision loss. Default False.
    delta_cut : float, optional
        Collision loss restricted to transfers below this, MeV. Default 1e9 (total).
    k_cut : float, optional
        Radiative loss restricted to photons below this, MeV. Default 1e9 (total).

    Returns
    -------
    float
        Collision plus radiative stopping power, MeV/mm.
    """
    return _dedx_col(t, positron, delta_cut) + _dedx_rad_cont(t, k_cut)


@njit(cache=True, nogil=True)
def _rotate(ux: float, uy: float, uz: float, cost: float, phi: float):
    """Direction at polar angle acos(``cost``) and azimuth ``phi`` around (ux, uy, uz)."""
    cost = min(1.0, max(-1.0, cost))
    sint = math.sqrt(1.0 - cost * cost)
    cp = math.cos(phi)
    sp = math.sin(phi)
    perp = math.sqrt(ux * ux + uy * uy)
    if perp > 1e-8:
        nx = ux * cost + sint * (ux * uz * cp - uy * sp) / perp
        ny = uy * cost + sint * (uy * uz * cp + ux * sp) / perp
        nz = uz * cost - sint * cp * perp
    else:
        nx = sint * cp
        ny = sint * sp
        nz = cost if uz > 0.0 else -cost
    nrm = math.sqrt(nx * nx + ny * ny + nz * nz)
    return nx / nrm, ny / nrm, nz / nrm


@njit(cache=True, nogil=True)
def _dist_exit(x: float, y: float, z: float, ux: float, uy: float, uz: float,
               lo: np.ndarray, hi: np.ndarray) -> float:
    """Distance along (ux, uy, uz) from a point inside the box [lo, hi] to its surface, mm."""
    t = 1e30
    p = (x, y, z)
    u = (ux, uy, uz)
    for a in range(3):
        if u[a] > 0.0:
            t = min(t, (hi[a] - p[a]) / u[a])
        elif u[a] < 0.0:
            t = min(t, (lo[a] - p[a]) / u[a])
    return max(t, 0.0)


@njit(cache=True, nogil=True)
def _small_angle_cos(m_over_e: float) -> float:
    """cos(theta) for theta = (m/E) sqrt(r/(1-r)): density ~ 1/(1 + (theta E/m)^2)^2."""
    r = np.random.random()
    th = m_over_e * math.sqrt(r / (1.0 - r + 1e-300))
    return math.cos(min(th, math.pi))


@njit(cache=True, nogil=True)
def _msc_theta0(t: float, s: float, sloss: float) -> float:
    """Highland width (rad) for a step of ``s`` mm at kinetic energy ``t``.

    The log term of the Highland formula refers to the thickness over which the angle is
    observed; summing many short steps each with its own ln(s/X0) would under-scatter long tracks,
    so the log uses the residual-range scale T/(dE/dx), clipped to [s, X0].
    """
    p = math.sqrt(t * (t + 2.0 * _ME))
    beta = p / (t + _ME)
    lref = min(max(t / sloss, s), _X0)
    return 13.6 / (beta * p) * math.sqrt(s / _X0) * (1.0 + 0.038 * math.log(lref / _X0))


@njit(cache=True, nogil=True)
def _sample_brem_k(t: float, kcut: float) -> float:
    """Photon energy from (1/k)(4/3 - 4/3 y + y^2) on [kcut, t], y = k/E."""
    e = t + _ME
    lr = math.log(t / kcut)
    while True:
        k = kcut * math.exp(lr * np.random.random())
        y = k / e
        if np.random.random() * (4.0 / 3.0) <= 4.0 / 3.0 - 4.0 / 3.0 * y + y * y:
            return k


@njit(cache=True, nogil=True)
def _sample_moller_x(t: float, cut: float) -> float:
    """Fraction x = T_delta/T from the Moller cross section on [cut/T, 1/2]."""
    tau = t / _ME
    gam = tau + 1.0
    g2 = (tau / gam) ** 2
    c = (2.0 * tau + 1.0) / (gam * gam)
    xc = cut / t
    while True:
        # envelope 1/x^2 on [xc, 1/2]; x^2 * dsigma/dx <= 2 + g2/4
        x = xc / (1.0 - np.random.random() * (1.0 - 2.0 * xc))
        q = x / (1.0 - x)
        f = 1.0 + q * q + g2 * x * x - c * q
        if np.random.random() * (2.0 + 0.25 * g2) <= f:
            return x


@njit(cache=True, nogil=True)
def _sample_moller_x_in(t: float, lo: float, hi: float) -> float:
    """Fraction x = T_delta/T from the Moller cross section on [lo/T, min(hi/T, 1/2)]."""
    tau = t / _ME
    gam = tau + 1.0
    g2 = (tau / gam) ** 2
    c = (2.0 * tau + 1.0) / (gam * gam)
    xl = lo / t
    xh = min(hi / t, 0.5)
    while True:
        # envelope 1/x^2 on [xl, xh]; x^2 * dsigma/dx <= 2 + g2/4 on [0, 1/2]
        x = xl / (1.0 - np.random.random() * (1.0 - xl / xh))
        q = x / (1.0 - x)
        f = 1.0 + q * q + g2 * x * x - c * q
        if np.random.random() * (2.0 + 0.25 * g2) <= f:
            return x


@njit(cache=True, nogil=True)
def _knock_rate(t: float, lo: float, hi: float) -> float:
    """Moller knock-ons per mm with kinetic energy in [lo, hi) (the slower electron); 0 if lo <= 0."""
    if lo <= 0.0 or lo >= hi:
        return 0.0
    return _moller_rate(t, lo) - _moller_rate(t, hi)


@njit(cache=True, nogil=True)
def _cont_loss(t: float, positron: bool, k_cut: float, delta_cut: float, knock_lo: float) -> float:
    """Continuous stopping power (MeV/mm): collision below the explicit cuts plus radiation below ``k_cut``.

    Electrons: Moller restricted to ``knock_lo`` (or ``delta_cut`` without knock-ons). Positrons: total
    Bhabha (no positron delta rays above ``delta_cut``) less the mean loss to knock-ons in
    [``knock_lo``, ``delta_cut``), taken from the Moller cross section: at transfers far below the
    positron's energy both tend to the free-electron 1/T^2 spectrum (PDG, "Passage of particles
    through matter", delta rays).
    """
    if positron:
        s = _dedx_col(t, True, delta_cut)
        if knock_lo > 0.0 and knock_lo < delta_cut:
            s -= _dedx_col(t, False, delta_cut) - _dedx_col(t, False, knock_lo)
    elif knock_lo > 0.0 and knock_lo < delta_cut:
        s = _dedx_col(t, False, knock_lo)
    else:
        s = _dedx_col(t, False, delta_cut)
    return max(s, 1e-6) + _dedx_rad_cont(t, k_cut)


@njit(cache=True, nogil=True)
def _lepton_step(st: np.ndarray, positron: bool, k_cut: float, delta_cut: float, e_stop: float,
                 step_max: float, max_loss_frac: float, lo: np.ndarray, hi: np.ndarray,
                 knock_lo: float = 0.0):
    """Advance an electron/positron by one step.

    ``st`` = [x, y, z, ux, uy, uz, T, path] is updated in place. With ``knock_lo`` > 0, knock-on
    electrons in [``knock_lo``, ``delta_cut``) are a third discrete channel (kind 3), and the
    continuous collision loss is restricted to transfers below ``knock_lo``.

    Returns
    -------
    status : int
        0 alive, 1 stopped (T deposited), 2 left the world (``st[6]`` is the escaping energy).
    de, dx, dy, dz : float
        Energy deposited in the step (MeV) and the step's start point (mm); the energy is spread
        along the straight segment from there to the new position ``st[0:3]``.
    kind : int
        Secondary made at the end of the step: 0 none, 1 brem photon, 2 delta electron,
        3 knock-on electron below ``delta_cut`` (to be deposited by :func:`short_electron_walk`).
    se, sux, suy, suz : float
        Its energy (MeV) and direction.
    """
    x, y, z, ux, uy, uz, t = st[0], st[1], st[2], st[3], st[4], st[5], st[6]
    if t <= e_stop:
        st[6] = 0.0
        return 1, t, x, y, z, 0, 0.0, 0.0, 0.0, 0.0
    sl = _cont_loss(t, positron, k_cut, delta_cut, knock_lo)
    s = min(max(max_loss_frac * t / sl, _STEP_MIN), step_max)
    rb = _brem_rate(t, k_cut)
    rd = 0.0 if positron else _moller_rate(t, delta_cut)
    rk = _knock_rate(t, knock_lo, delta_cut)
    rtot = rb + rd + rk
    discrete = False
    if rtot > 0.0:
        sd = -math.log(1.0 - np.random.random()) / rtot
        if sd < s:
            s = sd
            discrete = True
    texit = _dist_exit(x, y, z, ux, uy, uz, lo, hi)
    exiting = False
    if texit <= s:
        s = texit
        exiting = True
        discrete = False
    # energy loss with the stopping power at the step's mid-energy
    tm = t - 0.5 * sl * s
    if tm > 0.5 * e_stop:
        de = s * _cont_loss(tm, positron, k_cut, delta_cut, knock_lo)
    else:
        de = t
    stopped = t - de <= e_stop
    if stopped:
        de = t
    # the step's start: the caller spreads ``de`` along the segment to the new position
    dx, dy, dz = x, y, z
    x += s * ux
    y += s * uy
    z += s * uz
    t -= de
    st[0], st[1], st[2], st[6] = x, y, z, t
    st[7] += s
    if stopped:
        st[6] = 0.0
        return 1, de, dx, dy, dz, 0, 0.0, 0.0, 0.0, 0.0
    if exiting:
        return 2, de, dx, dy, dz, 0, 0.0, 0.0, 0.0, 0.0
    kind = 0
    se, sux, suy, suz = 0.0, 0.0, 0.0, 0.0
    if discrete:
        # rates taken at the start of the step; the energy may have dropped below a threshold
        u = np.random.random() * rtot
        if u < rb:
            if t > k_cut:
                k = _sample_brem_k(t, k_cut)
                phi = 2.0 * math.pi * np.random.random()
                cg = _small_angle_cos(_ME / (t + _ME))
                sux, suy, suz = _rotate(ux, uy, uz, cg, phi)
                se = k
                t -= k
                kind = 1
        elif u < rb + rd or rk == 0.0:
            if t > 2.0 * delta_cut:
                kind = 2
        elif t > 2.0 * knock_lo:
            kind = 3
        if kind >= 2:
            if kind == 2:
                xf = _sample_moller_x(t, delta_cut)
            else:
                xf = _sample_moller_x_in(t, knock_lo, delta_cut)
            td = xf * t
            tp = t - td
            cd = math.sqrt(td * (t + 2.0 * _ME) / (t * (td + 2.0 * _ME)))
            cp = math.sqrt(tp * (t + 2.0 * _ME) / (t * (tp + 2.0 * _ME)))
            phi = 2.0 * math.pi * np.random.random()
            sux, suy, suz = _rotate(ux, uy, uz, cd, phi)
            ux, uy, uz = _rotate(ux, uy, uz, cp, phi + math.pi)
            se = td
            t = tp
    # multiple scattering over the step, with the energy at its end
    if t > 0.0:
        th0 = _msc_theta0(t, s, sl)
        th = th0 * math.sqrt(-2.0 * math.log(1.0 - np.random.random()))
        ux, uy, uz = _rotate(ux, uy, uz, math.cos(th), 2.0 * math.pi * np.random.random())
    st[3], st[4], st[5], st[6] = ux, uy, uz, t
    return 0, de, dx, dy, dz, kind, se, sux, suy, suz


# --- short electrons: sub-MeV knock-ons, local Compton and photo-electrons ------------------------
# CSDA range of an electron in LAr from the same stopping power as the stepping (total Moller
# collision loss with the density effect, plus radiation), integrated over a log grid of kinetic
# energy. Below ~10 keV the Bethe formula fails; the range there (< 2 um) does not matter.
_WALK_T0 = 0.002          # MeV, lowest table energy (range taken as 0 below)
_WALK_NT = 256
_WALK_DLT = math.log(20.0 / _WALK_T0) / (_WALK_NT - 1)


@njit(cache=True, nogil=True)
def _walk_range_table() -> np.ndarray:
    """CSDA range (mm) at T = _WALK_T0 exp(i _WALK_DLT), trapezoidal integration of dT / S(T) in ln T."""
    out = np.zeros(_WALK_NT)
    prev = 0.0
    for i in range(_WALK_NT):
        t = _WALK_T0 * math.exp(i * _WALK_DLT)
        f = t / (_dedx_col(t, False, 1e9) + _dedx_rad_cont(t, 1e9))   # dR/dlnT
        if i > 0:
            out[i] = out[i - 1] + 0.5 * (f + prev) * _WALK_DLT
        else:
            out[i] = f      # below T0: R ~ T/S roughly
        prev = f
    return out


_WALK_R = _walk_range_table()


@njit(cache=True, nogil=True)
def electron_csda_range_mm(t: float) -> float:
    """CSDA range of an electron in liquid argon (the stepping's own stopping power).

    Parameters
    ----------
    t : float
        Kinetic energy, MeV (0.002-20 MeV; below, the range is taken proportional to T).

    Returns
    -------
    float
        Range along the path, mm.
    """
    if t <= _WALK_T0:
        return _WALK_R[0] * t / _WALK_T0
    u = math.log(t / _WALK_T0) / _WALK_DLT
    if u >= _WALK_NT - 1:
        return _WALK_R[_WALK_NT - 1]
    i = int(u)
    f = u - i
    return (1.0 - f) * _WALK_R[i] + f * _WALK_R[i + 1]


@njit(cache=True, nogil=True)
def _energy_at_range(r: float) -> float:
    """Kinetic energy (MeV) whose CSDA range is ``r`` mm (inverse of :func:`electron_csda_range_mm`)."""
    if r <= _WALK_R[0]:
        return _WALK_T0 * max(r, 0.0) / _WALK_R[0]
    i = np.searchsorted(_WALK_R, r) - 1
    if i >= _WALK_NT - 1:
        return _WALK_T0 * math.exp((_WALK_NT - 1) * _WALK_DLT)
    f = (r - _WALK_R[i]) / (_WALK_R[i + 1] - _WALK_R[i])
    return _WALK_T0 * math.exp((i + f) * _WALK_DLT)


WALK_SEGMENTS = 3      # straight pieces of a short electron's path
WALK_SHORT_MM = 0.3    # paths shorter than this (T below ~0.15 MeV) are one straight piece
WALK_FAR_MM = 10.0     # electrons starting farther than this outside the active volume: one point


@njit(cache=True, nogil=True)
def _walk(dep, nd, x, y, z, ux, uy, uz, t, pid, lo, hi, spread_mm, merge):
    """:func:`short_electron_walk` that also returns the end point (x, y, z), mm."""
    r0 = electron_csda_range_mm(t)
    if not near_active(x, y, z, WALK_FAR_MM):
        # far outside the active volume the path's shape changes nothing that is recorded
        dep, nd = deposit_point(dep, nd, x, y, z, t, pid, lo, hi, 0.0, merge)
        return dep, nd, x, y, z
    # below WALK_SHORT_MM one straight piece: the path's shape cannot matter on a 3 mm grid
    nseg = 1 if r0 < WALK_SHORT_MM else WALK_SEGMENTS
    seg = r0 / nseg
    tcur = t
    for k in range(nseg):
        last = k == nseg - 1
        tnext = 0.0 if last else _energy_at_range(r0 - (k + 1) * seg)
        x1 = x + seg * ux
        y1 = y + seg * uy
        z1 = z + seg * uz
        if tcur - tnext > 0.0:
            dep, nd = deposit_along_segment(dep, nd, x, y, z, x1, y1, z1, tcur - tnext, pid, lo, hi,
                                            spread_mm, merge)
        if not last and tnext > 0.0:
            th = _msc_theta0(tnext, seg, (tcur - tnext) / seg) * math.sqrt(
                -2.0 * math.log(1.0 - np.random.random()))
            ux, uy, uz = _rotate(ux, uy, uz, math.cos(min(th, math.pi)),
                                 2.0 * math.pi * np.random.random())
        x, y, z = x1, y1, z1
        tcur = tnext
    return dep, nd, x, y, z




@njit(cache=True, nogil=True)
def short_electron_walk(dep: np.ndarray, nd: int, x: float, y: float, z: float, ux: float, uy: float,
                        uz: float, t: float, pid: float, lo: np.ndarray, hi: np.ndarray,
                        spread_mm: float = 0.0, merge: bool = False):
    """Deposit a sub-MeV electron's energy along a short multiple-scattered path.

    The path is its CSDA range (:func:`electron_csda_range_mm`: 0.15 mm at 0.1 MeV, 1.7 mm at
    0.5 MeV, 4.2 mm at 1 MeV) cut into ``WALK_SEGMENTS`` straight pieces of equal length (one piece
    when it is shorter than ``WALK_SHORT_MM``; one point when the electron starts more than
    ``WALK_FAR_MM`` outside the active volume, where its path changes nothing recorded); each piece
    gets the energy lost over it according to the range table (more at the end, the Bragg rise),
    spread over the voxels it crosses (:func:`deposit_along_segment`), and the direction is
    deflected between pieces by a Highland angle at the piece's energy (:func:`_msc_theta0`). It
    replaces the full condensed-history stepping for electrons whose range is below a voxel, at a
    fraction of the cost: what matters for voxels is which neighbouring voxels the electron reaches
    and with how much energy.

    Parameters
    ----------
    dep : ndarray, shape (cap, 4) or (cap, 5)
        Deposit buffer (see :func:`deposit_along_segment`).
    nd : int
        Rows filled.
    x, y, z : float
        Start point, mm.
    ux, uy, uz : float
        Unit start direction.
    t : float
        Kinetic energy, MeV (all of it is deposited).
    pid : float
        Particle id for column 4 of a 5-column buffer.
    lo, hi : ndarray, shape (3,)
        World box, mm.
    spread_mm, merge : float, bool, optional
        Lateral spread and merging of the deposits (:func:`deposit_along_segment`); defaults 0, False.

    Returns
    -------
    dep : ndarray
        The buffer (possibly grown).
    nd : int
        Rows filled after the walk.
    """
    dep, nd, _, _, _ = _walk(dep, nd, x, y, z, ux, uy, uz, t, pid, lo, hi, spread_mm, merge)
    return dep, nd


@njit(cache=True, nogil=True)
def _trace_row(out, n, st):
    """Append the state (path, x, y, z, ux, uy, uz, T) as a row of a trace; return the trace and count."""
    if n >= out.shape[0]:
        out = _grow(out)
    out[n, 0] = st[7]
    out[n, 1:7] = st[0:6]
    out[n, 7] = st[6]
    return out, n + 1


@njit(cache=True, nogil=True)
def trace_lepton(pdg: int, pos: np.ndarray, direction: np.ndarray, energy: float,
                 world_lo: np.ndarray, world_hi: np.ndarray, k_cut: float = 0.2,
                 delta_cut: float = 1.0, e_stop: float = 0.1, step_max: float = 1.0,
                 max_loss_frac: float = 0.2) -> np.ndarray:
    """Follow one electron (``pdg`` 11) or positron (-11) alone, dropping its secondaries.

    Same stepping as :func:`simulate_em`; meant for tests and diagnostics (ranges, scattering).

    Parameters
    ----------
    pdg : int
        11 or -11.
    pos, direction : ndarray (3,)
        Start point (mm) and direction (normalised here).
    energy : float
        Kinetic energy, MeV.
    world_lo, world_hi : ndarray (3,)
        World box, mm.
    k_cut, delta_cut, e_stop, step_max, max_loss_frac : float, optional
        As in :func:`simulate_em_ext`.

    Returns
    -------
    ndarray (n, 8)
        One row per step end (row 0 is the start): path length (mm), x, y, z (mm), ux, uy, uz,
        kinetic energy (MeV).
    """
    nrm = math.sqrt(direction[0] ** 2 + direction[1] ** 2 + direction[2] ** 2)
    st = np.array([pos[0], pos[1], pos[2], direction[0] / nrm, direction[1] / nrm,
                   direction[2] / nrm, energy, 0.0])
    out = np.empty((256, 8))
    n = 0
    positron = pdg < 0
    while True:
        out, n = _trace_row(out, n, st)
        status = _lepton_step(st, positron, k_cut, delta_cut, e_stop, step_max, max_loss_frac,
                              world_lo, world_hi)[0]
        if status != 0:
            out, n = _trace_row(out, n, st)
            return out[:n].copy()


# --- photons -------------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _screen(delta: float):
    """Butcher-Messel screening terms (Phi1/4 - lnZ/3 - fc, Phi2/4 - lnZ/3 - fc), >= 0."""
    if delta <= 1.0:
        p1 = 20.867 - 3.242 * delta + 0.625 * delta * delta
        p2 = 20.209 - 1.930 * delta - 0.086 * delta * delta
    else:
        p1 = 21.12 - 4.184 * math.log(delta + 0.952)
        p2 = p1
    return max(0.25 * p1 - _LNZ3 - _FC, 0.0), max(0.25 * p2 - _LNZ3 - _FC, 0.0)


@njit(cache=True, nogil=True)
def _pair_dsigma(k: float, eps: float) -> float:
    """Pair-production dsigma/deps per _PAIR_PREF, eps = total energy fraction of one lepton."""
    e1e2 = eps * (1.0 - eps)
    f1, f2 = _screen(136.0 * _ME / (_Z13 * k * e1e2))
    return (eps * eps + (1.0 - eps) ** 2) * f1 + (2.0 / 3.0) * e1e2 * f2


@njit(cache=True, nogil=True)
def _pair_table(lk: np.ndarray) -> np.ndarray:
    """Pair attenuation coefficient (1/mm) at photon energies exp(lk), by Simpson integration."""
    out = np.zeros(lk.size)
    n = 400
    for i in range(lk.size):
        k = math.exp(lk[i])
        e0 = _ME / k
        if e0 >= 0.5:
            continue
        h = (1.0 - 2.0 * e0) / n
        acc = _pair_dsigma(k, e0) + _pair_dsigma(k, 1.0 - e0)
        for j in range(1, n):
            acc += (4.0 if j % 2 else 2.0) * _pair_dsigma(k, e0 + j * h)
        out[i] = _PAIR_PREF * acc * h / 3.0
    return out


_PAIR_LK0 = math.log(2.0 * M_E)
_PAIR_NK = 320
_PAIR_DLK = (math.log(1.0e5) - _PAIR_LK0) / (_PAIR_NK - 1)
_PAIR_MU = _pair_table(_PAIR_LK0 + _PAIR_DLK * np.arange(_PAIR_NK))


@njit(cache=True, nogil=True)
def _mu_pair(k: float) -> float:
    """Pair-production attenuation coefficient at photon energy ``k``, 1/mm."""
    if k <= 2.0 * _ME:
        return 0.0
    u = (math.log(k) - _PAIR_LK0) / _PAIR_DLK
    if u >= _PAIR_NK - 1:
        return _PAIR_MU[_PAIR_NK - 1]
    i = int(u)
    f = u - i
    return (1.0 - f) * _PAIR_MU[i] + f * _PAIR_MU[i + 1]


@njit(cache=True, nogil=True)
def _mu_compton(k: float) -> float:
    """Klein-Nishina attenuation coefficient (free electrons), 1/mm."""
    a = k / _ME
    if a < 1e-3:
        return _KN_PREF * (4.0 / 3.0) * (1.0 - 2.0 * a + 5.2 * a * a)
    b = 1.0 + 2.0 * a
    lb = math.log(b)
    return _KN_PREF * ((1.0 + a) / (a * a) * (2.0 * (1.0 + a) / b - lb / a)
                       + lb / (2.0 * a) - (1.0 + 3.0 * a) / (b * b))


@njit(cache=True, nogil=True)
def _mu_phot(k: float) -> float:
    """Photoelectric attenuation coefficient, 1/mm (power law, see the module docstring)."""
    r = 0.1 / k
    return _PE_NORM * r * r * r


@njit(cache=True, nogil=True)
def photon_attenuation_per_mm(k: float) -> float:
    """Total photon attenuation coefficient in LAr (Compton + pair + photoelectric).

    Parameters
    ----------
    k : float
        Photon energy, MeV.

    Returns
    -------
    float
        Attenuation coefficient, 1/mm (the mean free path is its inverse).
    """
    return _mu_compton(k) + _mu_pair(k) + _mu_phot(k)


@njit(cache=True, nogil=True)
def _sample_compton_eps(k: float) -> float:
    """Scattered-photon energy fraction eps = k'/k from Klein-Nishina (Butcher-Messel)."""
    a = k / _ME
    e0 = 1.0 / (1.0 + 2.0 * a)
    a1 = -math.log(e0)
    a2 = 0.5 * (1.0 - e0 * e0)
    while True:
        if np.random.random() * (a1 + a2) < a1:
            eps = math.exp(-a1 * np.random.random())
        else:
            eps = math.sqrt(e0 * e0 + (1.0 - e0 * e0) * np.random.random())
        tt = (1.0 - eps) / (a * eps)
        sin2 = max(0.0, tt * (2.0 - tt))
        if np.random.random() <= 1.0 - eps * sin2 / (1.0 + eps * eps):
            return eps


@njit(cache=True, nogil=True)
def _sample_pair_eps(k: float) -> float:
    """Energy fraction (total energy) of the electron in a pair conversion."""
    e0 = _ME / k
    f1, f2 = _screen(136.0 * _ME / (_Z13 * k * 0.25))
    fmax = f1 + f2 / 6.0
    while True:
        eps = e0 + (1.0 - 2.0 * e0) * np.random.random()
        if np.random.random() * fmax <= _pair_dsigma(k, eps):
            return eps


# --- cascade driver ------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _grow(a: np.ndarray) -> np.ndarray:
    """Copy of a 2-D buffer with twice the rows (the first rows filled from ``a``)."""
    b = np.empty((2 * a.shape[0], a.shape[1]))
    b[:a.shape[0]] = a
    return b


@njit(cache=True, nogil=True)
def _point(dep, nd, x, y, z, energy, pid, lo, hi, spread_mm, merge):
    """A point deposit: plain (``_put_deposit``) or with lateral spread and merging (``deposit_point``)."""
    if spread_mm > 0.0 or merge:
        return deposit_point(dep, nd, x, y, z, energy, pid, lo, hi, spread_mm, merge)
    return _put_deposit(dep, nd, x, y, z, energy, pid)


@njit(cache=True, nogil=True)
def _put_deposit(dep, nd, x, y, z, energy, pid):
    """Append one point deposit (growing the buffer); return the buffer and the new count."""
    if nd >= dep.shape[0]:
        dep = _grow(dep)
    dep[nd, 0], dep[nd, 1], dep[nd, 2], dep[nd, 3], dep[nd, 4] = x, y, z, energy, pid
    return dep, nd + 1


@njit(cache=True, nogil=True)
def simulate_em_ext(pdg: int, pos: np.ndarray, direction: np.ndarray, energy: float,
                    world_lo: np.ndarray, world_hi: np.ndarray, k_cut: float = 0.2,
                    delta_cut: float = 1.0, e_stop: float = 0.1, e_local: float = 0.3,
                    photon_cut: float = 0.01, step_max: float = 1.0,
                    max_loss_frac: float = 0.2,
                    group_below: float = 0.0, knock_lo: float = 0.0,
                    local_walk: bool = False, spread_mm: float = 0.0,
                    merge: bool = False, walk_below: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulate an electron, positron or photon and its whole electromagnetic cascade.

    Parameters
    ----------
    pdg : int
        11 (electron), -11 (positron) or 22 (photon).
    pos : ndarray (3,)
        Start point, mm (world frame; the active volume is [0, 2304)^3).
    direction : ndarray (3,)
        Direction (normalised here).
    energy : float
        Kinetic energy for e+-, energy for a photon, MeV.
    world_lo, world_hi : ndarray (3,)
        World box, mm; particles leaving it are dropped (their energy is recorded as escaped).
    k_cut : float, optional
        Bremsstrahlung photons above this are made, below it the loss is continuous.
        Default 0.2 MeV.
    delta_cut : float, optional
        Moller delta rays above this kinetic energy are made. Default 1.0 MeV.
    e_stop : float, optional
        Electrons/positrons below this kinetic energy stop and deposit it. Default 0.1 MeV.
    e_local : float, optional
        Electrons made by photons (Compton, photoelectric) below this are not stepped: one deposit
        at their creation point (range < 1 mm). Default 0.3 MeV.
    photon_cut : float, optional
        Photons below this deposit their energy where they are. Default 0.01 MeV.
    step_max : float, optional
        Longest electron step, mm. Default 1.0.
    max_loss_frac : float, optional
        Longest electron step as a fraction of the energy lost by continuous loss. Default 0.2.
    group_below : float, optional
        Electrons made by photons below this kinetic energy get no particle row: their deposit is
        attributed to the photon (bounds the table size in big showers). Default 0.0 (every
        particle gets a row).
    knock_lo : float, optional
        Knock-on electrons between this and ``delta_cut`` (MeV) are made at their point of
        emission and deposited along a short path (:func:`short_electron_walk`), attributed to
        the electron that made them (they are its own delta rays, too small to be labelled
        apart); the continuous loss is then restricted to transfers below ``knock_lo``.
        Default 0.0: none (all transfers below ``delta_cut`` are continuous).
    local_walk : bool, optional
        Deposit the Compton and photo-electrons below ``e_local`` along a short path
        (:func:`short_electron_walk`) instead of at one point. Default False.
    spread_mm : float, optional
        Lateral spread of every deposit, mm (:func:`michelreco.sim.segments.deposit_point`).
        Default 0.0.
    merge : bool, optional
        Merge deposits of the same particle in the same voxel (valid only when the threshold
        downstream applies to a particle's summed energy per voxel). Default False.
    walk_below : float, optional
        Electrons and positrons below this kinetic energy (MeV) finish their path with
        :func:`short_electron_walk` instead of condensed-history steps (a positron then
        annihilates at the walk's end). Default 0.0: never.

    Returns
    -------
    deposits : ndarray (n, 5)
        x, y, z (mm), energy (MeV), local particle id (-1 = the given particle).
    particles : ndarray (m, 12)
        Columns :data:`EM_PARTICLE_COLUMNS`; row i has local id i.
    primary : ndarray (4,)
        The given particle's end point x, y, z (mm) and the energy it carried out of the world.
    """
    lo = world_lo.astype(np.float64)
    hi = world_hi.astype(np.float64)
    dep = np.empty((1024, 5))
    par = np.empty((256, 12))
    stk = np.empty((64, 9))      # local_id, pdg, x, y, z, ux, uy, uz, energy
    primary = np.array([pos[0], pos[1], pos[2], 0.0])
    nd = 0
    npar = 0
    ns = 0
    inside = True
    for a in range(3):
        if not (lo[a] <= pos[a] <= hi[a]):
            inside = False
    if not inside:
        primary[3] = energy
        return dep[:0].copy(), par[:0].copy(), primary
    nrm = math.sqrt(direction[0] ** 2 + direction[1] ** 2 + direction[2] ** 2)
    stk[0, 0] = -1.0
    stk[0, 1] = pdg
    stk[0, 2:5] = pos[0:3]
    stk[0, 5] = direction[0] / nrm
    stk[0, 6] = direction[1] / nrm
    stk[0, 7] = direction[2] / nrm
    stk[0, 8] = energy
    ns = 1
    st = np.empty(8)
    while ns > 0:
        ns -= 1
        lid = stk[ns, 0]
        ipdg = int(stk[ns, 1])
        st[0:6] = stk[ns, 2:8]
        st[6] = stk[ns, 8]
        st[7] = 0.0
        escaped = 0.0
        if ipdg == _PDG_G:
            k = st[6]
            while True:
                x, y, z, ux, uy, uz = st[0], st[1], st[2], st[3], st[4], st[5]
                if k < photon_cut:
                    dep, nd = _point(dep, nd, x, y, z, k, lid, lo, hi, spread_mm, merge)
                    break
                mc = _mu_compton(k)
                mp = _mu_pair(k)
                mpe = _mu_phot(k)
                mt = mc + mp + mpe
                s = -math.log(1.0 - np.random.random()) / mt
                texit = _dist_exit(x, y, z, ux, uy, uz, lo, hi)
                if s >= texit:
                    st[0] = x + texit * ux
                    st[1] = y + texit * uy
                    st[2] = z + texit * uz
                    escaped = k
                    break
                x += s * ux
                y += s * uy
                z += s * uz
                st[0], st[1], st[2] = x, y, z
                r = np.random.random() * mt
                # up to two charged children: (pdg, process, kinetic energy, direction)
                nch = 0
                c1e = 0.0
                c1x, c1y, c1z = ux, uy, uz
                c2e = 0.0
                c2x, c2y, c2z = ux, uy, uz
                proc = _P_PHOT
                if r < mc:
                    eps = _sample_compton_eps(k)
                    kp = eps * k
                    cost = 1.0 - (1.0 / kp - 1.0 / k) * _ME
                    nx, ny, nz = _rotate(ux, uy, uz, cost, 2.0 * math.pi * np.random.random())
                    px, py, pz = k * ux - kp * nx, k * uy - kp * ny, k * uz - kp * nz
                    pn = math.sqrt(px * px + py * py + pz * pz)
                    c1e = k - kp
                    if pn > 0.0:
                        c1x, c1y, c1z = px / pn, py / pn, pz / pn
                    nch = 1
                    proc = _P_COMPT
                    k = kp
                    st[3], st[4], st[5] = nx, ny, nz
                elif r < mc + mp:
                    eps = _sample_pair_eps(k)
                    em = eps * k
                    ep = k - em
                    phi = 2.0 * math.pi * np.random.random()
                    c1x, c1y, c1z = _rotate(ux, uy, uz, _small_angle_cos(_ME / em), phi)
                    c2x, c2y, c2z = _rotate(ux, uy, uz, _small_angle_cos(_ME / ep), phi + math.pi)
                    c1e = em - _ME
                    c2e = ep - _ME
                    nch = 2
                    proc = _P_CONV
                    k = 0.0
                else:
                    c1e = k
                    nch = 1
                    proc = _P_PHOT
                    k = 0.0
                for c in range(nch):
                    ce = c1e if c == 0 else c2e
                    cpdg = _PDG_E if c == 0 else -_PDG_E
                    cx, cy, cz = (c1x, c1y, c1z) if c == 0 else (c2x, c2y, c2z)
                    if cpdg > 0 and ce < group_below:
                        if ce > 0.0:
                            dep, nd = _point(dep, nd, x, y, z, ce, lid, lo, hi, spread_mm, merge)
                        continue
                    if npar >= par.shape[0]:
                        par = _grow(par)
                    cid = float(npar)
                    par[npar, 0], par[npar, 1], par[npar, 2], par[npar, 3] = cid, lid, cpdg, proc
                    par[npar, 4] = ce
                    par[npar, 5], par[npar, 6], par[npar, 7] = x, y, z
                    par[npar, 8], par[npar, 9], par[npar, 10] = x, y, z
                    par[npar, 11] = 0.0
                    npar += 1
                    if cpdg > 0 and ce < e_local:
                        if ce > 0.0:
                            if local_walk:
                                dep, nd = short_electron_walk(dep, nd, x, y, z, cx, cy, cz, ce, cid,
                                                              lo, hi, spread_mm, merge)
                            else:
                                dep, nd = _point(dep, nd, x, y, z, ce, cid, lo, hi, spread_mm, merge)
                        continue
                    if ns >= stk.shape[0]:
                        stk = _grow(stk)
                    stk[ns, 0], stk[ns, 1] = cid, cpdg
                    stk[ns, 2], stk[ns, 3], stk[ns, 4] = x, y, z
                    stk[ns, 5], stk[ns, 6], stk[ns, 7] = cx, cy, cz
                    stk[ns, 8] = ce
                    ns += 1
                if k <= 0.0:
                    break
        else:
            positron = ipdg < 0
            while True:
                if st[6] < walk_below:
                    # the rest of the path is shorter than a few mm: finished by a short walk
                    dep, nd, ex, ey, ez = _walk(dep, nd, st[0], st[1], st[2], st[3], st[4], st[5], st[6],
                                                lid, lo, hi, spread_mm, merge)
                    st[0], st[1], st[2], st[6] = ex, ey, ez, 0.0
                    status = 1
                    kind = 0
                    de = 0.0
                    se, sux, suy, suz = 0.0, 0.0, 0.0, 0.0
                else:
                    (status, de, dx, dy, dz, kind, se, sux, suy, suz) = _lepton_step(
                        st, positron, k_cut, delta_cut, e_stop, step_max, max_loss_frac, lo, hi,
                        knock_lo)
                if de > 0.0:
                    dep, nd = deposit_along_segment(dep, nd, dx, dy, dz, st[0], st[1], st[2], de,
                                                    lid, lo, hi, spread_mm, merge)
                if kind == 3:
                    # a knock-on below delta_cut: deposited along its short path, as part of this particle
                    dep, nd = short_electron_walk(dep, nd, st[0], st[1], st[2], sux, suy, suz, se, lid,
                                                 lo, hi, spread_mm, merge)
                elif kind != 0:
                    if npar >= par.shape[0]:
                        par = _grow(par)
                    cid = float(npar)
                    cpdg = _PDG_G if kind == 1 else _PDG_E
                    par[npar, 0], par[npar, 1], par[npar, 2] = cid, lid, cpdg
                    par[npar, 3] = _P_BREM if kind == 1 else _P_IONI
                    par[npar, 4] = se
                    par[npar, 5], par[npar, 6], par[npar, 7] = st[0], st[1], st[2]
                    par[npar, 8], par[npar, 9], par[npar, 10] = st[0], st[1], st[2]
                    par[npar, 11] = 0.0
                    npar += 1
                    if ns >= stk.shape[0]:
                        stk = _grow(stk)
                    stk[ns, 0], stk[ns, 1] = cid, cpdg
                    stk[ns, 2], stk[ns, 3], stk[ns, 4] = st[0], st[1], st[2]
                    stk[ns, 5], stk[ns, 6], stk[ns, 7] = sux, suy, suz
                    stk[ns, 8] = se
                    ns += 1
                if status == 2:
                    escaped = st[6]
                    break
                if status == 1:
                    if positron:
                        # annihilation at rest: two back-to-back photons, isotropic
                        cth = 2.0 * np.random.random() - 1.0
                        sth = math.sqrt(1.0 - cth * cth)
                        phi = 2.0 * math.pi * np.random.random()
                        gx, gy, gz = sth * math.cos(phi), sth * math.sin(phi), cth
                        for sgn in (1.0, -1.0):
                            if npar >= par.shape[0]:
                                par = _grow(par)
                            if ns >= stk.shape[0]:
                                stk = _grow(stk)
                            cid = float(npar)
                            par[npar, 0], par[npar, 1], par[npar, 2] = cid, lid, _PDG_G
                            par[npar, 3], par[npar, 4] = _P_ANNIHIL, _ME
                            par[npar, 5], par[npar, 6], par[npar, 7] = st[0], st[1], st[2]
                            par[npar, 8], par[npar, 9], par[npar, 10] = st[0], st[1], st[2]
                            par[npar, 11] = 0.0
                            npar += 1
                            stk[ns, 0], stk[ns, 1] = cid, _PDG_G
                            stk[ns, 2], stk[ns, 3], stk[ns, 4] = st[0], st[1], st[2]
                            stk[ns, 5], stk[ns, 6], stk[ns, 7] = sgn * gx, sgn * gy, sgn * gz
                            stk[ns, 8] = _ME
                            ns += 1
                    break
        # end point and escaped energy of the particle just finished
        if lid < 0.0:
            primary[0], primary[1], primary[2], primary[3] = st[0], st[1], st[2], escaped
        else:
            i = int(lid)
            par[i, 8], par[i, 9], par[i, 10], par[i, 11] = st[0], st[1], st[2], escaped
    return dep[:nd].copy(), par[:npar].copy(), primary


@njit(cache=True, nogil=True)
def simulate_em(pdg: int, pos: np.ndarray, direction: np.ndarray, energy: float,
                world_lo: np.ndarray, world_hi: np.ndarray, k_cut: float = 0.2,
                delta_cut: float = 1.0, e_stop: float = 0.1, e_local: float = 0.3,
                photon_cut: float = 0.01, step_max: float = 1.0, max_loss_frac: float = 0.2,
                group_below: float = 0.0, knock_lo: float = 0.0,
                local_walk: bool = False, spread_mm: float = 0.0,
                merge: bool = False, walk_below: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Simulate an e-, e+ or photon and its cascade; :func:`simulate_em_ext` without ``primary``.

    Parameters
    ----------
    pdg, pos, direction, energy, world_lo, world_hi, k_cut, delta_cut, e_stop, e_local, \
photon_cut, step_max, max_loss_frac, group_below, knock_lo, local_walk, spread_mm, merge, \
walk_below
        As in :func:`simulate_em_ext` (same defaults).

    Returns
    -------
    deposits : ndarray (n, 5)
        x, y, z (mm), energy (MeV), local particle id (-1 = the given particle).
    particles : ndarray (m, 12)
        Columns :data:`EM_PARTICLE_COLUMNS`.
    """
    dep, par, _ = simulate_em_ext(pdg, pos, direction, energy, world_lo, world_hi, k_cut,
                                  delta_cut, e_stop, e_local, photon_cut, step_max, max_loss_frac,
                                  group_below, knock_lo, local_walk, spread_mm, merge, walk_below)
    return dep, par


def to_event_ids(deposits: np.ndarray, particles: np.ndarray, first_id: int,
                 given_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Renumber a cascade's output into an event's particle table.

    Parameters
    ----------
    deposits : ndarray (n, 5)
        From :func:`simulate_em`.
    particles : ndarray (m, 12)
        From :func:`simulate_em`.
    first_id : int
        Event id given to local id 0 (local id i becomes ``first_id + i``).
    given_id : int
        Event id of the particle that was simulated (local id -1).

    Returns
    -------
    deposits : ndarray (n, 5)
        A copy with the particle column in event ids (the ``DEPOSIT_COLUMNS`` layout).
    table : ndarray (m,) of PARTICLE_DTYPE
        The particle rows.
    """
    dep = deposits.copy()
    lid = dep[:, 4]
    dep[:, 4] = np.where(lid < 0, given_id, lid + first_id)
    table = np.zeros(particles.shape[0], dtype=PARTICLE_DTYPE)
    table["id"] = particles[:, 0].astype(np.int64) + first_id
    parent = particles[:, 1]
    table["parent"] = np.where(parent < 0, given_id, parent + first_id).astype(np.int32)
    table["pdg"] = particles[:, 2].astype(np.int32)
    table["process"] = particles[:, 3].astype(np.int8)
    table["energy"] = particles[:, 4]
    table["start"] = particles[:, 5:8]
    table["end"] = particles[:, 8:11]
    return dep, table
