"""Toy Monte Carlo of the Michel electron energy spectrum: free muon decay and decay in orbit.

Energies are **total** electron energies ``E`` in MeV unless ``kinetic=True`` is asked for
(``T = E - m_e``). ``x = E / W`` with the endpoint ``W = (m_mu^2 + m_e^2) / (2 m_mu) = 52.83 MeV``.

Variants
--------
``"tree"``
    Tree-level V-A spectrum of unpolarized muons with the electron mass neglected,
    ``dN/dx = 2 x^2 (3 - 2x)`` on ``[m_e/W, 1]`` (mean ``0.7 W = 36.98 MeV``). Sampled exactly: it
    is the equal mixture of Beta(4, 1) (``U**(1/4)``) and Beta(3, 2); draws below ``x0 = m_e/W``
    (probability 2e-6) are redrawn.
``"radiative"``
    First-order QED correction of the isotropic spectrum (Behrends-Finkelstein-Sirlin 1956,
    Kinoshita-Sirlin 1959; the function used by Geant4's ``G4MuonDecayChannelWithSpin``),
    ``dN/dx ~ x^2 [(3 - 2x) + (alpha/2pi) f(x)]`` with
    ``f = (6-4x) R(x) + (6-6x) ln x + (1-x)/(3x^2) [(5+17x-34x^2)(w + ln x) - 22x + 34x^2]``,
    ``R = 2 Li2(x) - pi^2/3 - 2 + w (3/2 + 2 ln((1-x)/x)) - ln x (2 ln x - 1) + (3 ln x - 1 - 1/x) ln(1-x)``,
    ``w = ln(m_mu/m_e)``. The pdf is clipped at zero (it turns negative only within ~e^-50 of
    the endpoint), tabulated and sampled by rejection. The correction integrates to the known
    total-rate factor ``1 + (alpha/2pi)(25/4 - pi^2)``; it lowers the mean from 36.98 to about
    36.58 MeV and moves the maximum of the spectrum from 52.8 to about 49.5 MeV. (The reference
    table of docs/simulation.md §8 quotes "about 51.5 / 36.9 MeV"; the formula above, which is
    Geant4's, gives 49.5 / 36.58 - the spectrum is flat within 1% between 47 and 51.5 MeV.)
``"bound"``
    Toy model of a mu- decaying in the 1s orbit of argon ("decay in orbit"), not the full
    Watanabe/Czarnecki calculation. The muon has the hydrogenic 1s momentum distribution
    ``|phi(p)|^2 p^2 ~ p^2 / (1 + (p/p0)^2)^4`` with ``p0 = Z_eff alpha m_mu`` and total energy
    ``m_mu - E_b``, ``E_b = (Z_eff alpha)^2 m_mu / 2`` (``Z_eff = BOUND_Z_EFF = 15.5``,
    E_b = 0.67 MeV); it decays like a free particle of invariant mass
    ``m* = sqrt((m_mu - E_b)^2 - p^2)`` with the radiative spectrum, isotropically in its frame;
    the electron is boosted to the lab (Doppler smearing) and loses the Coulomb energy
    ``2 E_b`` (the mean 1s potential, virial theorem) climbing out of the nucleus. The spectrum is
    smeared, its mean drops by ~2 MeV and it has a tail above ``W`` (to ~60 MeV). Nuclear
    recoil (the true DIO tail to ~100 MeV, at the 1e-6 level) is not modelled.

Vectorized numpy samplers take an ``np.random.Generator``; :func:`sample_michel_energy_nb` is the
numba scalar equivalent (numba's ``np.random`` state, seeded with ``rng.seed_numba``).
"""

from functools import lru_cache
import math

import numpy as np
from numba import njit
from scipy.special import spence

from michelreco.sim.constants import ALPHA_FS, M_E, M_MU, MICHEL_ENDPOINT_MEV

__all__ = [
    "VARIANTS", "VARIANT_TREE", "VARIANT_RADIATIVE", "VARIANT_BOUND",
    "BOUND_Z_EFF", "BOUND_BINDING_MEV", "BOUND_COULOMB_MEV",
    "tree_pdf_x", "radiative_pdf_x", "michel_pdf", "michel_cdf",
    "sample_michel_energy", "sample_michel_energy_nb",
]

VARIANT_TREE, VARIANT_RADIATIVE, VARIANT_BOUND = 0, 1, 2
VARIANTS = {"tree": VARIANT_TREE, "radiative": VARIANT_RADIATIVE, "bound": VARIANT_BOUND}

_W = MICHEL_ENDPOINT_MEV
_X0 = M_E / MICHEL_ENDPOINT_MEV   # lowest x: an electron at rest
_OMEGA = math.log(M_MU / M_E)

# Bound-muon toy model parameters (model choices, see the module docstring).
BOUND_Z_EFF = 15.5  # effective charge seen by the 1s muon in argon (finite nuclear size), ~15-16
BOUND_BINDING_MEV = 0.5 * (BOUND_Z_EFF * ALPHA_FS) ** 2 * M_MU    # hydrogenic 1s binding, 0.67 MeV
BOUND_COULOMB_MEV = 2.0 * BOUND_BINDING_MEV                       # <|V|> of the 1s orbit (virial)
_BOUND_P0 = BOUND_Z_EFF * ALPHA_FS * M_MU                         # 1s momentum scale, MeV/c
_BOUND_E_MU = M_MU - BOUND_BINDING_MEV
_BOUND_MAX_BETA = 0.9  # muon momenta beyond 0.9 E_mu (weight < 1e-7) are redrawn


def tree_pdf_x(x: np.ndarray) -> np.ndarray:
    """Tree-level Michel pdf in ``x = E/W``: ``2 x^2 (3 - 2x)`` on ``[0, 1]``, zero elsewhere.

    Parameters
    ----------
    x : array_like
        Energy fraction ``E/W``.

    Returns
    -------
    ndarray
        Probability density per unit x (integrates to 1; the 2e-6 below ``m_e/W`` is ignored).
    """
    x = np.asarray(x, dtype=np.float64)
    return np.where((x >= 0.0) & (x <= 1.0), 2.0 * x * x * (3.0 - 2.0 * x), 0.0)


def _radiative_unnormalized(x):
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros_like(x)
    ok = (x > _X0) & (x < 1.0)
    xx = x[ok]
    lx = np.log(xx)
    l1x = np.log1p(-xx)
    li2 = spence(1.0 - xx)  # scipy's spence(z) = Li2(1 - z)
    r = (2.0 * li2 - np.pi ** 2 / 3.0 - 2.0 + _OMEGA * (1.5 + 2.0 * (l1x - lx))
         - lx * (2.0 * lx - 1.0) + (3.0 * lx - 1.0 - 1.0 / xx) * l1x)
    f = ((6.0 - 4.0 * xx) * r + (6.0 - 6.0 * xx) * lx
         + (1.0 - xx) / (3.0 * xx * xx) * ((5.0 + 17.0 * xx - 34.0 * xx * xx) * (_OMEGA + lx)
                                           - 22.0 * xx + 34.0 * xx * xx))
    val = xx * xx * ((3.0 - 2.0 * xx) + ALPHA_FS / (2.0 * np.pi) * f)
    out[ok] = np.maximum(val, 0.0)
    return out


# Radiative pdf tabulated on a fine grid in x (used by the numpy and numba samplers).
_RAD_N = 40001
_RAD_X = np.linspace(_X0, 1.0, _RAD_N)
_RAD_DX = (1.0 - _X0) / (_RAD_N - 1)
_rad_raw = _radiative_unnormalized(_RAD_X)
_RAD_NORM = float(np.sum(0.5 * (_rad_raw[1:] + _rad_raw[:-1])) * _RAD_DX)
_RAD_PDF = _rad_raw / _RAD_NORM
_RAD_PMAX = float(_RAD_PDF.max()) * 1.001
del _rad_raw


def radiative_pdf_x(x: np.ndarray) -> np.ndarray:
    """Michel pdf in ``x = E/W`` with first-order radiative corrections (normalized on [m_e/W, 1]).

    Parameters
    ----------
    x : array_like
        Energy fraction ``E/W``.

    Returns
    -------
    ndarray
        Probability density per unit x.
    """
    return _radiative_unnormalized(x) / _RAD_NORM


@njit(cache=True, nogil=True)
def _rad_pdf_interp(x):
    f = (x - _X0) / _RAD_DX
    if f < 0.0 or f >= _RAD_N - 1:
        return 0.0
    i = int(f)
    w = f - i
    return _RAD_PDF[i] * (1.0 - w) + _RAD_PDF[i + 1] * w


# --- bound muon: numerical pdf for tests and plots --------------------------------------------
@lru_cache(maxsize=1)
def _bound_table():
    """Total-energy grid (MeV) and pdf (per MeV) of the bound-muon toy model."""
    n_t = 600
    t = (np.arange(n_t) + 0.5) * (0.5 * np.pi / n_t)
    w = np.sin(t) ** 2 * np.cos(t) ** 4
    p = _BOUND_P0 * np.tan(t)
    keep = p < _BOUND_MAX_BETA * _BOUND_E_MU
    t, w, p = t[keep], w[keep] / w[keep].sum(), p[keep]
    beta = p / _BOUND_E_MU
    mstar = np.sqrt(_BOUND_E_MU ** 2 - p ** 2)
    gamma = _BOUND_E_MU / mstar
    wstar = (mstar ** 2 + M_E ** 2) / (2.0 * mstar)
    # H(x) = integral of pdf(x)/x: the isotropic (massless) boost spreads E* uniformly over
    # [g(1-b) E*, g(1+b) E*], so the lab density is a difference of H
    hx = _RAD_PDF / _RAD_X
    h_cum = np.concatenate(([0.0], np.cumsum(0.5 * (hx[1:] + hx[:-1]) * _RAD_DX)))
    e_lab = np.linspace(0.0, 75.0, 3001)
    pdf = np.zeros_like(e_lab)
    for bi, gi, wi, wsi in zip(beta, gamma, w, wstar):
        x_hi = np.clip(e_lab / (gi * (1.0 - bi) * wsi), _X0, 1.0)
        x_lo = np.clip(e_lab / (gi * (1.0 + bi) * wsi), _X0, 1.0)
        dh = np.interp(x_hi, _RAD_X, h_cum) - np.interp(x_lo, _RAD_X, h_cum)
        pdf += wi * dh / (2.0 * bi * gi * wsi)
    e_out = e_lab - BOUND_COULOMB_MEV
    keep = e_out >= M_E
    e_out, pdf = e_out[keep], pdf[keep]
    pdf /= np.sum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(e_out))
    return e_out, pdf


def michel_pdf(e_mev: np.ndarray, variant: str = "tree") -> np.ndarray:
    """Probability density of the Michel electron's total energy, per MeV.

    Parameters
    ----------
    e_mev : array_like
        Total electron energy, MeV.
    variant : {"tree", "radiative", "bound"}, optional
        Spectrum model (default "tree"), see the module docstring.

    Returns
    -------
    ndarray
        Density per MeV of total energy.
    """
    e = np.asarray(e_mev, dtype=np.float64)
    if variant == "tree":
        return tree_pdf_x(e / _W) / _W
    if variant == "radiative":
        return radiative_pdf_x(e / _W) / _W
    if variant == "bound":
        eg, pg = _bound_table()
        return np.interp(e, eg, pg, left=0.0, right=0.0)
    raise ValueError(f"unknown Michel spectrum variant {variant!r}; use one of {list(VARIANTS)}")


def michel_cdf(e_mev: np.ndarray, variant: str = "tree") -> np.ndarray:
    """Cumulative distribution of the Michel electron's total energy (MeV).

    Parameters
    ----------
    e_mev : array_like
        Total electron energy, MeV.
    variant : {"tree", "radiative", "bound"}, optional
        Spectrum model (default "tree").

    Returns
    -------
    ndarray
        ``P(E <= e_mev)``.
    """
    e = np.asarray(e_mev, dtype=np.float64)
    if variant == "tree":
        x = np.clip(e / _W, 0.0, 1.0)
        return 2.0 * x ** 3 - x ** 4
    if variant == "radiative":
        pdf = _RAD_PDF
        cum = np.concatenate(([0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * _RAD_DX)))
        return np.interp(e / _W, _RAD_X, cum / cum[-1], left=0.0, right=1.0)
    if variant == "bound":
        eg, pg = _bound_table()
        cum = np.concatenate(([0.0], np.cumsum(0.5 * (pg[1:] + pg[:-1]) * np.diff(eg))))
        return np.interp(e, eg, cum / cum[-1], left=0.0, right=1.0)
    raise ValueError(f"unknown Michel spectrum variant {variant!r}; use one of {list(VARIANTS)}")


# --- numpy samplers ---------------------------------------------------------------------------
def _tree_x(n, rng):
    x = np.empty(n)
    todo = np.arange(n)
    while todo.size:
        m = todo.size
        half = rng.random(m) < 0.5
        xs = np.where(half, rng.random(m) ** 0.25, rng.beta(3.0, 2.0, m))
        ok = xs >= _X0
        x[todo[ok]] = xs[ok]
        todo = todo[~ok]
    return x


def _radiative_x(n, rng):
    x = np.empty(n)
    filled = 0
    acc = 1.0 / (_RAD_PMAX * (1.0 - _X0))
    while filled < n:
        m = int((n - filled) / acc * 1.05) + 16
        xs = _X0 + (1.0 - _X0) * rng.random(m)
        keep = xs[rng.random(m) * _RAD_PMAX < np.interp(xs, _RAD_X, _RAD_PDF)]
        k = min(keep.size, n - filled)
        x[filled:filled + k] = keep[:k]
        filled += k
    return x


def _bound_e(n, rng):
    e = np.empty(n)
    filled = 0
    while filled < n:
        m = int((n - filled) * 1.6) + 16
        t = rng.random(m) * (0.5 * np.pi)
        keep = rng.random(m) * (4.0 / 27.0) < np.sin(t) ** 2 * np.cos(t) ** 4
        p = _BOUND_P0 * np.tan(t[keep])
        p = p[p < _BOUND_MAX_BETA * _BOUND_E_MU]
        k = p.size
        mstar = np.sqrt(_BOUND_E_MU ** 2 - p ** 2)
        beta = p / _BOUND_E_MU
        gamma = _BOUND_E_MU / mstar
        wstar = (mstar ** 2 + M_E ** 2) / (2.0 * mstar)
        estar = _radiative_x(k, rng) * wstar
        pstar = np.sqrt(np.maximum(estar ** 2 - M_E ** 2, 0.0))
        cth = 2.0 * rng.random(k) - 1.0
        el = gamma * (estar + beta * pstar * cth) - BOUND_COULOMB_MEV
        el = el[el >= M_E]
        k = min(el.size, n - filled)
        e[filled:filled + k] = el[:k]
        filled += k
    return e


def sample_michel_energy(n: int, rng: np.random.Generator, variant: str = "tree",
                         kinetic: bool = False) -> np.ndarray:
    """Draw Michel electron energies.

    Parameters
    ----------
    n : int
        Number of draws.
    rng : numpy.random.Generator
        Source of randomness (the result is reproducible from its seed).
    variant : {"tree", "radiative", "bound"}, optional
        Spectrum model (default "tree"), see the module docstring.
    kinetic : bool, optional
        Return kinetic energies ``E - m_e`` instead of total energies (default False).

    Returns
    -------
    ndarray, shape (n,)
        Total (or kinetic) electron energies, MeV. Free decays end at ``W = 52.83 MeV``
        (total energy); the bound variant has a tail above it.
    """
    if variant == "tree":
        e = _tree_x(n, rng) * _W
    elif variant == "radiative":
        e = _radiative_x(n, rng) * _W
    elif variant == "bound":
        e = _bound_e(n, rng)
    else:
        raise ValueError(f"unknown Michel spectrum variant {variant!r}; use one of {list(VARIANTS)}")
    return e - M_E if kinetic else e


# --- numba scalar sampler ---------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _tree_x_nb():
    while True:
        if np.random.random() < 0.5:
            x = np.random.random() ** 0.25
        else:
            x = np.random.beta(3.0, 2.0)
        if x >= _X0:
            return x


@njit(cache=True, nogil=True)
def _radiative_x_nb():
    while True:
        x = _X0 + (1.0 - _X0) * np.random.random()
        if np.random.random() * _RAD_PMAX < _rad_pdf_interp(x):
            return x


@njit(cache=True, nogil=True)
def _bound_e_nb():
    while True:
        t = np.random.random() * (0.5 * math.pi)
        st = math.sin(t)
        ct = math.cos(t)
        if np.random.random() * (4.0 / 27.0) >= st * st * ct ** 4:
            continue
        p = _BOUND_P0 * st / ct
        if p >= _BOUND_MAX_BETA * _BOUND_E_MU:
            continue
        mstar = math.sqrt(_BOUND_E_MU ** 2 - p * p)
        beta = p / _BOUND_E_MU
        gamma = _BOUND_E_MU / mstar
        estar = _radiative_x_nb() * (mstar * mstar + M_E * M_E) / (2.0 * mstar)
        pstar = math.sqrt(max(estar * estar - M_E * M_E, 0.0))
        e = gamma * (estar + beta * pstar * (2.0 * np.random.random() - 1.0)) - BOUND_COULOMB_MEV
        if e >= M_E:
            return e


@njit(cache=True, nogil=True)
def sample_michel_energy_nb(variant: int) -> float:
    """Numba scalar Michel sampler: one total electron energy (MeV).

    Parameters
    ----------
    variant : int
        ``VARIANT_TREE`` (0), ``VARIANT_RADIATIVE`` (1) or ``VARIANT_BOUND`` (2).

    Returns
    -------
    float
        Total energy, MeV (subtract ``M_E`` for the kinetic energy). Same distributions as
        :func:`sample_michel_energy`, drawn from numba's ``np.random`` state.
    """
    if variant == VARIANT_TREE:
        return _tree_x_nb() * _W
    if variant == VARIANT_RADIATIVE:
        return _radiative_x_nb() * _W
    return _bound_e_nb()
