"""The rule engine: rule sets are validated data, evaluated per candidate kind, with reasons."""

import numpy as np
import pytest

from michelreco.reco.candidates import FEATURES, KINDS
from michelreco.errors import InputError
from michelreco.reco.rules import DEFAULT_RULES, ENTERING_RULES, PARAMETERS, RuleSet

COL = {name: k for k, name in enumerate(FEATURES)}
PARAMS = {name: p.default for name, p in PARAMETERS.items()}


def _rows(**columns):
    n = len(next(iter(columns.values())))
    out = np.zeros((n, len(FEATURES)))
    for name, values in columns.items():
        out[:, COL[name]] = values
    return out


def test_all_any_and_nested_groups():
    rules = RuleSet({"stopping_muon": {
        "size": [["n_voxels", ">=", "min_michel_voxels"], ["n_voxels", "<=", "max_michel_voxels"]],
        "kink": {"any": [["michel_cos", "<=", "max_michel_cos"], ["drop_ratio", ">=", "min_collinear_drop_ratio"]]},
        "nested": {"any": [["energy_mev", ">=", "max_michel_energy_mev"],
                           {"all": [["energy_mev", ">=", "min_michel_energy_mev"],
                                    ["energy_mev", "<=", "max_michel_energy_mev"]]}]},
    }})
    feats = _rows(n_voxels=[10, 10, 2, 10, 10], michel_cos=[0.0, 1.0, 0.0, 1.0, 0.0],
                  drop_ratio=[1.0, 9.0, 1.0, 1.0, 1.0], energy_mev=[20, 20, 20, 20, 0.1])
    verdict = rules.evaluate(feats, PARAMS)
    assert list(verdict["stopping_muon/size"]) == [True, True, False, True, True]
    assert list(verdict["stopping_muon/kink"]) == [True, True, True, False, True]
    assert list(verdict["stopping_muon/nested"]) == [True, True, True, True, False]
    assert list(rules.passed(feats, PARAMS)) == [True, True, False, False, False]
    why = rules.reasons(feats[3], PARAMS)
    assert why["size"] == "pass" and why["kink"].startswith("fail: none of: michel_cos = 1")
    assert "n_voxels = 2, needs >= min_michel_voxels" in rules.reasons(feats[2], PARAMS)["size"]


def test_kinds_are_judged_apart_and_a_kind_without_rules_passes_nothing():
    feats = _rows(kind=[0, 1], n_voxels=[10, 10], energy_mev=[20, 20])
    only_muons = RuleSet({"stopping_muon": {"size": [["n_voxels", ">=", "min_michel_voxels"]]}})
    assert list(only_muons.passed(feats, PARAMS)) == [True, False]
    both = RuleSet({"stopping_muon": {"size": [["n_voxels", ">=", "min_michel_voxels"]]},
                    "entering": {"size": [["n_voxels", ">=", "max_michel_voxels"]]}})
    assert list(both.passed(feats, PARAMS)) == [True, False] and both.kinds == list(KINDS)


@pytest.mark.parametrize("rules, message", [
    ({"nope": {"r": [["n_voxels", ">=", "min_michel_voxels"]]}}, "unknown candidate kind 'nope'"),
    ({"stopping_muon": {"r": [["n_vox", ">=", "min_michel_voxels"]]}}, "unknown feature 'n_vox'"),
    ({"stopping_muon": {"r": [["n_voxels", ">", "min_michel_voxels"]]}}, "unknown operator '>'"),
    ({"stopping_muon": {"r": [["n_voxels", ">=", "min_x"]]}}, "unknown parameter 'min_x'"),
    ({"stopping_muon": {"r": [["n_voxels", ">="]]}}, "is not \\[feature, op, parameter\\]"),
    ({"stopping_muon": {"r": {"either": []}}}, "a group must be"),
    ({"stopping_muon": {"r": []}}, "non-empty"),
    ({"stopping_muon": {"r": "__import__('os')"}}, "is not \\[feature, op, parameter\\]"),
    ([], "mapping of candidate kinds"),
])
def test_bad_rule_sets_are_refused_with_the_reason(rules, message):
    with pytest.raises(InputError, match=message):
        RuleSet(rules)


def test_shipped_rule_sets_compile_and_use_known_parameters():
    RuleSet(DEFAULT_RULES)
    RuleSet({"stopping_muon": DEFAULT_RULES["stopping_muon"], "entering": ENTERING_RULES})
    for p in PARAMETERS.values():
        assert isinstance(p.default, float) and p.doc


def test_compiled_verdict_equals_the_rule_by_rule_verdict():
    rng = np.random.default_rng(9)
    nested = {"stopping_muon": {**DEFAULT_RULES["stopping_muon"],
                                "deep": {"any": [{"all": [["energy_mev", ">=", "min_michel_energy_mev"],
                                                          {"any": [["michel_cos", "<=", "max_michel_cos"],
                                                                   ["drop_ratio", ">=", "min_drop_ratio"]]}]},
                                                 ["n_voxels", ">=", "max_michel_voxels"]]}},
              "entering": ENTERING_RULES}
    for rules in (DEFAULT_RULES, nested):
        rs = RuleSet(rules)
        for _ in range(20):
            feats = rng.normal(size=(200, len(FEATURES))) * 50 + 20
            feats[:, COL["kind"]] = rng.integers(0, len(KINDS), 200)
            params = {k: v * rng.uniform(0.5, 1.5) for k, v in PARAMS.items()}
            by_rule = np.isin(feats[:, COL["kind"]], [KINDS.index(k) for k in rs.kinds])
            for verdict in rs.evaluate(feats, params).values():
                by_rule &= verdict
            assert np.array_equal(rs.passed(feats, params), by_rule)
