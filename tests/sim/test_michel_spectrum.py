"""Michel spectrum toy MC: tree level against x^2(3-2x) (docs/simulation.md §8), radiative and bound variants."""

import math

import numpy as np
import pytest
from scipy import stats

from michelreco.sim import michel_spectrum as ms
from michelreco.sim.constants import ALPHA_FS, M_E, MICHEL_ENDPOINT_MEV
from michelreco.sim.rng import seed_numba

W = 52.83  # reference endpoint (docs/simulation.md §8), MeV (total energy)


def _chi2_pvalue(e, cdf, edges):
    counts, _ = np.histogram(e, edges)
    expected = np.diff(cdf(edges)) * e.size
    keep = expected > 20
    chi2 = np.sum((counts[keep] - expected[keep]) ** 2 / expected[keep])
    return stats.chi2.sf(chi2, keep.sum() - 1)


def test_tree_matches_x2_3_minus_2x():
    e = ms.sample_michel_energy(1_000_000, np.random.default_rng(1), "tree")
    # independent CDF of 2x^2(3-2x): 2x^3 - x^4, with the reference endpoint
    def cdf(v):
        x = np.clip(v / W, 0, 1)
        return 2 * x ** 3 - x ** 4
    assert _chi2_pvalue(e, cdf, np.linspace(0, W, 61)) > 1e-3
    assert stats.kstest(e, cdf).pvalue > 1e-3
    # mean 0.7 W = 36.98 MeV, within 4 standard errors
    assert abs(e.mean() - 36.98) < 4 * e.std() / math.sqrt(e.size) + 0.01
    assert e.max() <= MICHEL_ENDPOINT_MEV
    assert e.max() == pytest.approx(W, abs=0.02)
    assert e.min() >= M_E


def test_kinetic_option():
    a = ms.sample_michel_energy(1000, np.random.default_rng(3), "tree")
    b = ms.sample_michel_energy(1000, np.random.default_rng(3), "tree", kinetic=True)
    assert np.allclose(a - b, M_E)


def test_radiative_correction_total_rate():
    # the first-order correction integrates to the known total-rate factor 1 + a/2pi (25/4 - pi^2)
    x = np.linspace(M_E / W, 1.0, 400001)
    rad = np.trapezoid(ms._radiative_unnormalized(x), x)
    tree = np.trapezoid(x * x * (3 - 2 * x), x)
    assert rad / tree == pytest.approx(1 + ALPHA_FS / (2 * math.pi) * (25 / 4 - math.pi ** 2), abs=2e-4)


def test_radiative_variant():
    rng = np.random.default_rng(2)
    e = ms.sample_michel_energy(1_000_000, rng, "radiative")
    tree = ms.sample_michel_energy(1_000_000, rng, "tree")
    sem = e.std() / math.sqrt(e.size)
    # radiation softens the spectrum: a lower mean (first order: ~0.4 MeV), same endpoint
    assert tree.mean() - e.mean() > 0.2
    assert 36.3 < e.mean() < 36.95
    assert e.max() <= MICHEL_ENDPOINT_MEV
    # the peak moves below the endpoint
    grid = np.linspace(1, W, 2000)
    peak = grid[np.argmax(ms.michel_pdf(grid, "radiative"))]
    assert 47.0 < peak < 52.0
    # sampler agrees with the pdf
    assert stats.kstest(e, lambda v: ms.michel_cdf(v, "radiative")).pvalue > 1e-3
    assert abs(e.mean() - np.trapezoid(grid * ms.michel_pdf(grid, "radiative"), grid)) < 5 * sem


def test_bound_variant_has_tail_and_lower_mean():
    rng = np.random.default_rng(4)
    e = ms.sample_michel_energy(300_000, rng, "bound")
    free = ms.sample_michel_energy(300_000, rng, "radiative")
    above = np.mean(e > MICHEL_ENDPOINT_MEV)
    assert 0.002 < above < 0.1          # Doppler tail above the free endpoint
    assert e.mean() < free.mean() - 0.5  # binding and Coulomb energy lower it
    assert e.min() >= M_E
    assert stats.kstest(e, lambda v: ms.michel_cdf(v, "bound")).pvalue > 1e-3
    g = np.linspace(0, 80, 8001)
    assert np.trapezoid(ms.michel_pdf(g, "bound"), g) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("variant", ["tree", "radiative", "bound"])
def test_numba_sampler_same_distribution(variant):
    seed_numba(12)
    a = np.array([ms.sample_michel_energy_nb(ms.VARIANTS[variant]) for _ in range(50_000)])
    b = ms.sample_michel_energy(50_000, np.random.default_rng(12), variant)
    assert stats.ks_2samp(a, b).pvalue > 1e-3


def test_unknown_variant():
    with pytest.raises(ValueError):
        ms.sample_michel_energy(10, np.random.default_rng(0), "loop")
    with pytest.raises(ValueError):
        ms.michel_pdf(30.0, "loop")
