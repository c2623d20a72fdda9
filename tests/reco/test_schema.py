"""michelreco.reco.schema: parameters checked against their ranges everywhere; help lists every parameter."""

import inspect
import math

import numpy as np
import pytest

from michelreco import MichelFinder
from michelreco.config import check_params
from michelreco.errors import InputError
from michelreco.reco import candidates, features
from michelreco.reco.schema import ALL_PARAMETERS, FEATURES, SETTINGS, check_value, parameter_table


@pytest.mark.parametrize("name, value", [
    ("max_chains", 0), ("min_branch_hops", 0), ("window_nodes", 0), ("baseline_mm", -5.0),
    ("eps_voxels", 0.0), ("max_peak_from_end_mm", math.nan), ("min_muon_linearity", 1.5),
    ("max_michel_cos", -2.0), ("clustering", "kdtree"), ("energy_threshold_mev", -0.1),
])
def test_out_of_range_values_are_refused_naming_the_parameter(name, value):
    with pytest.raises(InputError, match=name):
        MichelFinder(**{name: value})
    with pytest.raises(InputError, match=name):
        check_params({name: value}, MichelFinder().get_params(), where="grid.yaml")


def test_in_range_values_pass_and_ints_become_floats():
    assert check_value("baseline_mm", 100) == 100.0 and isinstance(check_value("baseline_mm", 100), float)
    assert check_value("max_chains", 3) == 3
    with pytest.raises(InputError, match="must be int"):
        check_value("max_chains", 3.5)


def test_ordered_pairs_are_checked_against_the_current_values():
    with pytest.raises(InputError, match="rise_lo_mm"):
        MichelFinder(rise_lo_mm=40.0)            # the default rise_hi_mm is 30
    assert MichelFinder(rise_lo_mm=40.0, rise_hi_mm=50.0).get_params()["rise_lo_mm"] == 40.0


def test_every_parameter_is_in_the_signature_help_and_table():
    sig = inspect.signature(MichelFinder)
    table = parameter_table()
    for name, spec in ALL_PARAMETERS.items():
        assert sig.parameters[name].default == spec.default
        assert f"{name} :" in MichelFinder.__doc__
        assert name in table
    assert "{parameters}" not in MichelFinder.__doc__


def test_kernel_columns_follow_the_names():
    assert FEATURES[features.F_PEAK] == "peak_dedx" and FEATURES[features.F_COS] == "michel_cos"
    assert FEATURES[features.F_PZ] == "peak_z" and SETTINGS[candidates.S_MINPEAK] == "min_candidate_peak_dedx_mev_cm"
    assert SETTINGS[features.S_MUSKIP] == "muon_skip_mm"
    assert all(name in ALL_PARAMETERS for name in SETTINGS)


@pytest.mark.parametrize("bad, match", [
    (np.array([[1.0, 2.0, np.nan, 0.5]]), "NaN"),
    (np.array([[1.0, 2.0, 800.0, 0.5]]), "0..767"),
    (np.array([[-1.0, 2.0, 3.0, 0.5]]), "0..767"),
    (np.zeros((3, 3)), "shape"),
])
def test_find_refuses_events_the_kernels_cannot_take(bad, match):
    with pytest.raises(InputError, match=match):
        MichelFinder().find(bad)


def test_find_michels_help_params_lists_every_parameter(capsys):
    from michelreco.cli import find_michels_main

    with pytest.raises(SystemExit) as stop:
        find_michels_main(["--help-params"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert all(f"  {name} = " in out for name in ALL_PARAMETERS)
