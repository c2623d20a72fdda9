"""Mean stopping power and CSDA range of heavy charged particles (mu, pi, p) in liquid argon.

The stopping power is the Bethe formula of the PDG review ("Passage of particles through
matter", eq. 34.5) with the Sternheimer density-effect correction and the exact maximum energy
transfer to a free electron, ``Wmax``. Radiative losses (negligible below a few GeV for muons in
argon), shell, Barkas and Bloch corrections are not included: the tabulated values agree with the
PDG/NIST tables of docs/simulation.md §8 to about 2% from 10 MeV up (protons at 10 MeV: +2%, the
missing shell correction).

Below ``beta*gamma = 0.05`` (protons under 1.2 MeV, muons under 0.13 MeV) the Bethe formula is
no longer valid; there the stopping power is continued proportional to the velocity (the
Lindhard-Scharff electronic-stopping regime), which is only needed so that the range integral
starts at zero; those energies contribute micrometres of range.

The CSDA range is the integral of 1/(dE/dx); it is tabulated once at import for the three masses
the simulator uses (muon, charged pion, proton) on a grid uniform in ``ln(T/M)``. Other masses
are served from the nearest tabulated mass by the usual ``beta*gamma`` scaling
(``R(T, M) = (M/M_t) R_t(T M_t / M)``), exact apart from the small mass dependence of ``Wmax``.
A charge ``z`` scales dE/dx by ``z**2`` and the range by ``1/z**2``.

All energies are kinetic energies in MeV, lengths in mm.
"""

import math

import numpy as np
from numba import njit

from michelreco.sim.constants import (
    K_MEV_CM2_MOL, LAR_DENSITY_G_CM3, LAR_I_MEV, LAR_Z_OVER_A, M_E, M_MU, M_P, M_PI, STERNHEIMER,
)

__all__ = [
    "TABLE_MASSES", "wmax_mev", "density_effect", "dedx_mev_per_mm", "restricted_dedx_mev_per_mm",
    "dedx_table_mev_per_mm", "csda_range_mm", "kinetic_energy_from_range",
]

# Material factor K (Z/A) rho in MeV/mm: 0.307075 * 0.4509 * 1.396 / 10.
_KZA_RHO_MEV_MM = K_MEV_CM2_MOL * LAR_Z_OVER_A * LAR_DENSITY_G_CM3 / 10.0
_I2 = LAR_I_MEV * LAR_I_MEV
_LN10 = math.log(10.0)
_SH_C = STERNHEIMER["C"]
_SH_X0 = STERNHEIMER["x0"]
_SH_X1 = STERNHEIMER["x1"]
_SH_A = STERNHEIMER["a"]
_SH_K = STERNHEIMER["k"]
_SH_D0 = STERNHEIMER["delta0"]
_BG_LOW = 0.05  # below this beta*gamma the Bethe formula is replaced by a velocity-proportional law

# Masses with a precomputed range table, MeV: muon, charged pion, proton.
TABLE_MASSES = np.array([M_MU, M_PI, M_P])
# Table grid: u = ln(T/M), uniform, from T/M = 1e-6 to 200 (a 100-MeV proton is T/M = 0.107).
_U_MIN = math.log(1.0e-6)
_U_MAX = math.log(200.0)
_N_GRID = 3001
_DU = (_U_MAX - _U_MIN) / (_N_GRID - 1)


@njit(cache=True, nogil=True)
def wmax_mev(t_mev: float, mass_mev: float) -> float:
    """Maximum kinetic energy (MeV) transferable to a free electron (PDG eq. 34.4).

    Parameters
    ----------
    t_mev : float
        Kinetic energy of the projectile, MeV.
    mass_mev : float
        Projectile mass, MeV.

    Returns
    -------
    float
        ``2 me b^2 g^2 / (1 + 2 g me/M + (me/M)^2)`` in MeV.
    """
    gamma = 1.0 + t_mev / mass_mev
    bg2 = gamma * gamma - 1.0
    r = M_E / mass_mev
    return 2.0 * M_E * bg2 / (1.0 + 2.0 * gamma * r + r * r)


@njit(cache=True, nogil=True)
def density_effect(betagamma: float) -> float:
    """Sternheimer density-effect correction ``delta`` for liquid argon (PDG eq. 34.7).

    Parameters
    ----------
    betagamma : float
        ``beta*gamma`` of the projectile.

    Returns
    -------
    float
        ``delta(beta*gamma)`` (dimensionless); zero for an insulator below ``x0``.
    """
    x = math.log10(betagamma)
    if x >= _SH_X1:
        return 2.0 * _LN10 * x - _SH_C
    if x >= _SH_X0:
        return 2.0 * _LN10 * x - _SH_C + _SH_A * (_SH_X1 - x) ** _SH_K
    return _SH_D0 * 10.0 ** (2.0 * (x - _SH_X0))


@njit(cache=True, nogil=True)
def _bethe(t_mev, mass_mev, tup_mev):
    """Bethe stopping power for z = 1 with energy transfers up to ``tup_mev`` (MeV/mm).

    ``tup_mev >= Wmax`` gives the full mean loss; a smaller value the restricted loss (PDG 34.12).
    """
    gamma = 1.0 + t_mev / mass_mev
    bg2 = gamma * gamma - 1.0
    beta2 = bg2 / (gamma * gamma)
    wmax = wmax_mev(t_mev, mass_mev)
    tup = min(tup_mev, wmax)
    delta = density_effect(math.sqrt(bg2))
    bracket = (0.5 * math.log(2.0 * M_E * bg2 * tup / _I2)
               - 0.5 * beta2 * (1.0 + tup / wmax) - 0.5 * delta)
    return _KZA_RHO_MEV_MM / beta2 * bracket


@njit(cache=True, nogil=True)
def _t_low(mass_mev):
    """Kinetic energy (MeV) at which beta*gamma = _BG_LOW."""
    return mass_mev * (math.sqrt(1.0 + _BG_LOW * _BG_LOW) - 1.0)


@njit(cache=True, nogil=True)
def dedx_mev_per_mm(t_mev: float, mass_mev: float, charge: float = 1.0) -> float:
    """Mean (unrestricted) electronic stopping power in liquid argon, MeV/mm.

    Parameters
    ----------
    t_mev : float
        Kinetic energy, MeV.
    mass_mev : float
        Projectile mass, MeV (any heavy particle: mu, pi, p, ...).
    charge : float, optional
        Projectile charge in units of e (default 1.0); the loss scales with its square.

    Returns
    -------
    float
        ``-<dE/dx>`` in MeV/mm (Bethe with density effect; velocity-proportional below
        ``beta*gamma = 0.05``).
    """
    tl = _t_low(mass_mev)
    z2 = charge * charge
    if t_mev >= tl:
        return z2 * _bethe(t_mev, mass_mev, 1.0e30)
    s_low = _bethe(tl, mass_mev, 1.0e30)
    # beta ~ sqrt(T) at these energies: S proportional to velocity
    return z2 * s_low * math.sqrt(max(t_mev, 0.0) / tl)


@njit(cache=True, nogil=True)
def restricted_dedx_mev_per_mm(t_mev: float, mass_mev: float, tcut_mev: float,
                               charge: float = 1.0) -> float:
    """Restricted stopping power (energy transfers below ``tcut_mev`` only), MeV/mm.

    Parameters
    ----------
    t_mev : float
        Kinetic energy, MeV.
    mass_mev : float
        Projectile mass, MeV.
    tcut_mev : float
        Largest energy transfer counted, MeV; equals the full loss when ``tcut_mev >= Wmax``.
    charge : float, optional
        Projectile charge in units of e (default 1.0).

    Returns
    -------
    float
        Restricted ``-dE/dx`` in MeV/mm (PDG eq. 34.12).
    """
    tl = _t_low(mass_mev)
    if t_mev < tl or tcut_mev >= wmax_mev(t_mev, mass_mev):
        return dedx_mev_per_mm(t_mev, mass_mev, charge)
    return charge * charge * _bethe(t_mev, mass_mev, tcut_mev)


def _build_tables():
    """dE/dx (MeV/mm) and CSDA range (mm) on the ln(T/M) grid for TABLE_MASSES, z = 1."""
    u = _U_MIN + _DU * np.arange(_N_GRID)
    n_m = TABLE_MASSES.size
    dedx = np.empty((n_m, _N_GRID))
    rtab = np.empty((n_m, _N_GRID))
    for i in range(n_m):
        m = TABLE_MASSES[i]
        t = m * np.exp(u)
        s = np.array([dedx_mev_per_mm(tt, m, 1.0) for tt in t])
        dedx[i] = s
        # first point: S ~ sqrt(T) below it, so R(T0) = 2 T0 / S0
        integrand = t / s  # dR/du = T / S
        rtab[i, 0] = 2.0 * t[0] / s[0]
        rtab[i, 1:] = rtab[i, 0] + np.cumsum(0.5 * (integrand[1:] + integrand[:-1]) * _DU)
    return dedx, rtab


_DEDX_TABLE, _RANGE_TABLE = _build_tables()
_LN_DEDX_TABLE = np.log(_DEDX_TABLE)
_LN_RANGE_TABLE = np.log(_RANGE_TABLE)


@njit(cache=True, nogil=True)
def _table_row(mass_mev):
    """Row of the table whose mass is nearest to ``mass_mev`` and the ratio mass/row mass."""
    best = 0
    bd = 1.0e300
    for i in range(TABLE_MASSES.size):
        r = mass_mev / TABLE_MASSES[i]
        d = max(r, 1.0 / r)  # nearest in ratio, without a log per call
        if d < bd:
            bd = d
            best = i
    return best, mass_mev / TABLE_MASSES[best]


@njit(cache=True, nogil=True)
def _interp_u(row_ln, u):
    """Linear interpolation of a ln-valued table row at u = ln(T/M); clamps at the grid ends."""
    f = (u - _U_MIN) / _DU
    if f <= 0.0:
        return row_ln[0], 0
    if f >= _N_GRID - 1:
        return row_ln[_N_GRID - 1], 1
    i = int(f)
    w = f - i
    return row_ln[i] * (1.0 - w) + row_ln[i + 1] * w, 2


@njit(cache=True, nogil=True)
def dedx_table_mev_per_mm(t_mev: float, mass_mev: float, charge: float = 1.0) -> float:
    """Mean stopping power from the precomputed table (fast path of :func:`dedx_mev_per_mm`).

    Parameters
    ----------
    t_mev : float
        Kinetic energy, MeV.
    mass_mev : float
        Projectile mass, MeV.
    charge : float, optional
        Charge in units of e (default 1.0).

    Returns
    -------
    float
        ``-<dE/dx>`` in MeV/mm, log-log interpolated.
    """
    row, ratio = _table_row(mass_mev)
    if t_mev <= 0.0:
        return 0.0
    u = math.log(t_mev / mass_mev)
    v, where = _interp_u(_LN_DEDX_TABLE[row], u)
    s = math.exp(v)
    if where == 0:
        s *= math.exp(0.5 * (u - _U_MIN))  # velocity-proportional below the grid
    return charge * charge * s


@njit(cache=True, nogil=True)
def csda_range_mm(t_mev: float, mass_mev: float, charge: float = 1.0) -> float:
    """CSDA range (path length to rest with mean losses) in liquid argon, mm.

    Parameters
    ----------
    t_mev : float
        Kinetic energy, MeV.
    mass_mev : float
        Projectile mass, MeV.
    charge : float, optional
        Charge in units of e (default 1.0); the range scales as ``1/charge**2``.

    Returns
    -------
    float
        Range in mm (0 for ``t_mev <= 0``).
    """
    if t_mev <= 0.0:
        return 0.0
    row, ratio = _table_row(mass_mev)
    u = math.log(t_mev / mass_mev)  # same T/M as T/ratio on the tabulated mass
    v, where = _interp_u(_LN_RANGE_TABLE[row], u)
    r = math.exp(v)
    if where == 0:
        r *= math.exp(0.5 * (u - _U_MIN))  # R ~ sqrt(T) below the grid
    return r * ratio / (charge * charge)


@njit(cache=True, nogil=True)
def kinetic_energy_from_range(range_mm: float, mass_mev: float, charge: float = 1.0) -> float:
    """Inverse of :func:`csda_range_mm`: kinetic energy (MeV) whose CSDA range is ``range_mm``.

    Parameters
    ----------
    range_mm : float
        Residual range, mm.
    mass_mev : float
        Projectile mass, MeV.
    charge : float, optional
        Charge in units of e (default 1.0).

    Returns
    -------
    float
        Kinetic energy in MeV (0 for ``range_mm <= 0``).
    """
    if range_mm <= 0.0:
        return 0.0
    row, ratio = _table_row(mass_mev)
    lr = math.log(range_mm * charge * charge / ratio)
    tab = _LN_RANGE_TABLE[row]
    if lr <= tab[0]:
        u = _U_MIN + 2.0 * (lr - tab[0])
        return mass_mev * math.exp(u)
    if lr >= tab[_N_GRID - 1]:
        return mass_mev * math.exp(_U_MAX)
    lo = 0
    hi = _N_GRID - 1
    while hi - lo > 1:  # the range is monotonic in u: bisection
        mid = (lo + hi) >> 1
        if tab[mid] <= lr:
            lo = mid
        else:
            hi = mid
    w = (lr - tab[lo]) / (tab[hi] - tab[lo])
    u = _U_MIN + _DU * (lo + w)
    return mass_mev * math.exp(u)
