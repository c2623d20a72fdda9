"""Stopping power and CSDA range of mu and p in liquid argon against the PDG table (docs/simulation.md §8)."""

import math

import pytest

from michelreco.sim.constants import LAR_MIP_DEDX_MEV_MM, M_MU, M_P, M_PI
from michelreco.sim.stopping import (
    csda_range_mm, dedx_mev_per_mm, dedx_table_mev_per_mm, density_effect,
    kinetic_energy_from_range, restricted_dedx_mev_per_mm, wmax_mev,
)

# docs/simulation.md §8 (PDG tables, rho = 1.396 g/cm3): T [MeV]: (dE/dx [MeV/cm], range [cm])
MUON = {10: (7.94, 0.70), 20: (4.89, 2.38), 50: (2.94, 10.8), 100: (2.33, 30.4),
        200: (2.12, 76.2), 300: (2.11, 124.0), 500: (2.16, 217.0), 1000: (2.30, 441.0)}
PROTON = {10: (42.7, 0.135), 20: (25.0, 0.454), 50: (12.3, 2.30), 100: (7.28, 7.82),
          200: (4.53, 26.0), 300: (3.57, 51.2), 500: (2.80, 116.0)}
CASES = [(M_MU, t, v) for t, v in MUON.items()] + [(M_P, t, v) for t, v in PROTON.items()]


@pytest.mark.parametrize("mass,t,ref", CASES)
def test_dedx_matches_pdg_table(mass, t, ref):
    # no shell correction: 10-MeV protons are ~2% high, everything else within 1.5%
    assert dedx_mev_per_mm(t, mass) * 10.0 == pytest.approx(ref[0], rel=0.03)
    assert dedx_table_mev_per_mm(t, mass) * 10.0 == pytest.approx(ref[0], rel=0.03)


@pytest.mark.parametrize("mass,t,ref", CASES)
def test_csda_range_matches_pdg_table(mass, t, ref):
    assert csda_range_mm(t, mass) / 10.0 == pytest.approx(ref[1], rel=0.04)


def test_minimum_ionization():
    # the muon dE/dx minimum (near beta*gamma ~ 3.5) is the PDG minimum-ionizing value
    ts = [M_MU * (math.exp(0.01 * i) - 1.0) for i in range(50, 500)]
    smin = min(dedx_mev_per_mm(t, M_MU) for t in ts)
    assert smin == pytest.approx(LAR_MIP_DEDX_MEV_MM, rel=0.01)


def test_range_inverse_and_scaling():
    for mass in (M_MU, M_PI, M_P):
        for t in (0.05, 1.0, 4.12, 37.0, 250.0, 3000.0):
            assert kinetic_energy_from_range(csda_range_mm(t, mass), mass) == pytest.approx(t, rel=1e-6)
    # beta*gamma scaling: at equal T/M the range scales with M; a pion lies between mu and p
    r_pi = csda_range_mm(100.0, M_PI)
    assert csda_range_mm(100.0 * M_MU / M_PI, M_MU) * M_PI / M_MU == pytest.approx(r_pi, rel=0.01)
    # z^2: charge 2 loses 4x as much and stops in 1/4 of the range
    assert dedx_mev_per_mm(100.0, M_P, 2.0) == pytest.approx(4.0 * dedx_mev_per_mm(100.0, M_P))
    assert csda_range_mm(100.0, M_P, 2.0) == pytest.approx(csda_range_mm(100.0, M_P) / 4.0)


def test_range_is_integral_of_inverse_stopping_power():
    # dR/dT = 1/S: a finite difference of the range table against the direct Bethe formula
    for mass, t in ((M_MU, 30.0), (M_P, 150.0)):
        h = 1e-3 * t
        drdt = (csda_range_mm(t + h, mass) - csda_range_mm(t - h, mass)) / (2 * h)
        assert drdt == pytest.approx(1.0 / dedx_mev_per_mm(t, mass), rel=2e-3)


def test_wmax_and_restricted_loss():
    # heavy-particle limit: Wmax -> 2 me beta^2 gamma^2 for a slow proton
    g = 1.0 + 50.0 / M_P
    assert wmax_mev(50.0, M_P) == pytest.approx(2 * 0.51099895 * (g * g - 1.0), rel=3e-3)
    full = dedx_mev_per_mm(1000.0, M_MU)
    restr = restricted_dedx_mev_per_mm(1000.0, M_MU, 1.0)
    assert restr < full
    # a cut above Wmax changes nothing
    assert restricted_dedx_mev_per_mm(10.0, M_P, 1.0) == pytest.approx(dedx_mev_per_mm(10.0, M_P))


def test_density_effect_limits():
    assert density_effect(0.5) == 0.0  # below x0 = 0.2 (insulator, delta0 = 0)
    # high-energy limit 2 ln(beta gamma) - C
    assert density_effect(1e4) == pytest.approx(2 * math.log(1e4) - 5.2146)
