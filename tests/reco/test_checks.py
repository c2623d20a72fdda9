"""michelreco.reco.checks: the compiled input check, its fast value pass against the voxel-by-voxel tests."""

import itertools

import numpy as np
import pytest

from michelreco.reco.checks import (DUPLICATE, NEGATIVE_ENERGY, NON_FINITE, NOT_INTEGER, OK, OUT_OF_GRID,
                                   value_problem, xyze_problem)

BAD_VALUES = (np.nan, np.inf, -np.inf, -1.0, 768.0, 767.5, 3.25, -0.5)


def _reference(xyze):
    """The tests of each voxel in their reporting order, in plain Python."""
    for i, row in enumerate(xyze.astype(np.float64)):
        if not np.isfinite(row).all():
            return NON_FINITE, i
        for v in row[:3]:
            if v < 0 or v > 767:
                return OUT_OF_GRID, i
            if v != np.floor(v):
                return NOT_INTEGER, i
        if row[3] < 0:
            return NEGATIVE_ENERGY, i
    return OK, -1


@pytest.mark.parametrize("column, value", list(itertools.product(range(4), BAD_VALUES)))
def test_value_pass_reports_what_the_voxel_tests_report(column, value):
    rng = np.random.default_rng(column)
    xyze = np.column_stack([rng.integers(0, 768, (50, 3)), rng.uniform(0, 2, 50)]).astype(np.float32)
    xyze[17, column] = value
    xyze[30, (column + 1) % 4] = value                   # a later problem is not the one reported
    code, voxel, _ = value_problem(xyze, 768)
    assert (code, voxel) == _reference(xyze) and code != OK


def test_duplicates_are_found_only_by_the_full_check():
    xyze = np.array([[1, 2, 3, 1.0], [4, 5, 6, 1.0], [1, 2, 3, 0.0], [4, 5, 6, 2.0]], np.float32)
    assert value_problem(xyze, 768) == (OK, -1, -1)
    assert xyze_problem(xyze, 768) == (DUPLICATE, 2, 0)
    xyze[3, 3] = np.nan                                  # a bad value comes first, wherever it is
    assert xyze_problem(xyze, 768)[:2] == (NON_FINITE, 3)
