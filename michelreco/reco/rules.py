"""The rule engine: named rules over candidate features, with parameters that carry defaults and units.

A rule set is data: for each candidate kind (``candidates.KINDS``), a mapping of rule names to lists of
conditions ``[feature, op, parameter]``, where
``feature`` is one of ``candidates.FEATURES``, ``op`` is ``">="`` or ``"<="``, and ``parameter`` names a
value in ``PARAMETERS`` (overridable per finder). A rule is a list of conditions that must all hold, or
``{"any": [...]}`` / ``{"all": [...]}`` over conditions and such nested groups; a candidate is a Michel when
it passes every rule of its kind. Nothing is ever evaluated as code: the only
operations are the two comparisons of ``OPS``.
"""

from __future__ import annotations

import operator

import numpy as np
from numba import njit

from michelreco.reco.schema import FEATURE_INDEX as _COLUMN
from michelreco.reco.schema import FEATURES, KINDS, RULE_PARAMETERS
from michelreco.errors import InputError

__all__ = ["PARAMETERS", "DEFAULT_RULES", "ENTERING_RULES", "OPS", "RuleSet"]


PARAMETERS = RULE_PARAMETERS   # the hand rules' thresholds, with unit, range and meaning

OPS = {">=": operator.ge, "<=": operator.le}

# The default rule set (data): candidate kind -> rule name -> conditions [feature, op, parameter].
# Entering clusters (a Michel whose muon stopped outside) have no default rules: on simulated samples
# every rule set tried on them (ENTERING_RULES below, docs/algorithm.md) added more false voxels than
# true ones. Add ``"entering": ENTERING_RULES`` to a rule set to try them.
DEFAULT_RULES: dict[str, dict] = {
    "stopping_muon": {
        "stopping_track": [["muon_linearity", ">=", "min_muon_linearity"],
                           ["muon_width_mm", "<=", "max_muon_width_mm"],
                           ["muon_branches", "<=", "max_muon_branches"]],
        "long_or_entering": {"any": [["muon_length_mm", ">=", "min_muon_length_mm"],
                                     ["muon_face_gap", "<=", "max_muon_face_gap"]]},
        "bragg_peak": [["bragg_ratio", ">=", "min_bragg_ratio"],
                       ["peak_dedx", ">=", "min_peak_dedx_mev_cm"],
                       ["rise_ratio", ">=", "min_rise_ratio"],
                       ["baseline_dedx", ">=", "min_baseline_dedx_mev_cm"],
                       ["baseline_dedx", "<=", "max_baseline_dedx_mev_cm"]],
        "attached": [["attach_gap_mm", "<=", "max_attach_gap_mm"]],
        "track_ends_at_peak": [["crossing_mm", "<=", "max_crossing_mm"]],
        "kink": {"any": [["michel_cos", "<=", "max_michel_cos"],
                         ["drop_ratio", ">=", "min_collinear_drop_ratio"]]},
        "electron_after_peak": [["drop_ratio", ">=", "min_drop_ratio"]],
        "electron_size": [["n_voxels", ">=", "min_michel_voxels"],
                          ["n_voxels", "<=", "max_michel_voxels"],
                          ["energy_mev", ">=", "min_michel_energy_mev"],
                          ["energy_mev", "<=", "max_michel_energy_mev"]],
        "not_a_track": [["linear_extent_mm", "<=", "max_michel_linear_extent_mm"]],
    },
}

ENTERING_RULES: dict[str, list] = {
    "electron_size": [["n_voxels", ">=", "min_michel_voxels"],
                      ["n_voxels", "<=", "max_michel_voxels"],
                      ["energy_mev", ">=", "min_michel_energy_mev"],
                      ["energy_mev", "<=", "max_michel_energy_mev"]],
    "electron_dedx": [["michel_dedx", "<=", "max_entering_dedx_mev_cm"]],
    "wiggly": [["tortuosity", ">=", "min_entering_tortuosity"]],
    "not_a_track": [["linear_extent_mm", "<=", "max_michel_linear_extent_mm"]],
}

_OP_GE, _OP_LE, _OP_ALL, _OP_ANY, _OP_END = range(5)


@njit(cache=True, nogil=True)
def _run_program(features, kind_col, program, kind_start, values):
    """Run a compiled rule set (``RuleSet._compile``) on every candidate; a kind with no program fails."""
    n = features.shape[0]
    out = np.zeros(n, np.bool_)
    stack = np.empty(program.shape[0], np.bool_)
    for c in range(n):
        pc = kind_start[int(features[c, kind_col])]
        if pc < 0:
            continue
        top = 0
        while program[pc, 0] != _OP_END:
            op, a, b = program[pc, 0], program[pc, 1], program[pc, 2]
            if op == _OP_GE:
                stack[top] = features[c, a] >= values[b]
                top += 1
            elif op == _OP_LE:
                stack[top] = features[c, a] <= values[b]
                top += 1
            else:
                acc = op == _OP_ALL
                for i in range(top - a, top):
                    acc = (acc and stack[i]) if op == _OP_ALL else (acc or stack[i])
                top -= a
                stack[top] = acc
                top += 1
            pc += 1
        out[c] = stack[0]
    return out


class RuleSet:
    """A validated rule set; ``evaluate`` judges a whole feature table at once.

    Parameters
    ----------
    rules : mapping, optional
        Candidate kind -> rule name -> list of ``[feature, op, parameter]`` conditions, or
        ``{"any": [...]}`` (default ``DEFAULT_RULES``). A kind left out has no Michels.
    """

    def __init__(self, rules: dict | None = None):
        rules = DEFAULT_RULES if rules is None else rules
        if not isinstance(rules, dict) or not rules:
            raise InputError("a rule set must be a mapping of candidate kinds to rules")
        # kind index -> rule name -> compiled rule: (column, op, parameter) or (mode, [parts])
        self.rules: dict[int, dict[str, tuple]] = {}
        for kind, kind_rules in rules.items():
            if kind not in KINDS:
                raise InputError(f"unknown candidate kind '{kind}' (known: {', '.join(KINDS)})")
            if not isinstance(kind_rules, dict) or not kind_rules:
                raise InputError(f"rules of '{kind}': expected a mapping of rule names to conditions")
            self.rules[KINDS.index(kind)] = {name: self._rule(name, spec) for name, spec in kind_rules.items()}
        self._compile()

    @property
    def kinds(self) -> list[str]:
        """Candidate kinds this rule set judges."""
        return [KINDS[k] for k in self.rules]

    @classmethod
    def _rule(cls, name: str, spec):
        """Compile a rule: a condition (column, op, parameter) or a group ("all"|"any", [parts])."""
        if isinstance(spec, dict):
            if len(spec) != 1 or next(iter(spec)) not in ("any", "all"):
                raise InputError(f"rule '{name}': a group must be {{any: [...]}} or {{all: [...]}}")
            mode, parts = next(iter(spec.items()))
            return cls._group(name, mode, parts)
        if isinstance(spec, list) and (not spec or all(isinstance(p, (list, dict)) for p in spec)):
            return cls._group(name, "all", spec)
        return cls._condition(name, spec)

    @classmethod
    def _group(cls, name: str, mode: str, parts):
        """Compile a group: (mode, its compiled parts), refusing an empty one."""
        if not isinstance(parts, list) or not parts:
            raise InputError(f"rule '{name}': expected a non-empty list of conditions")
        return mode, [cls._rule(name, p) for p in parts]

    @staticmethod
    def _condition(name: str, cond) -> tuple[int, str, str]:
        """Compile one ``[feature, op, parameter]`` condition to (column, op, parameter)."""
        if not (isinstance(cond, (list, tuple)) and len(cond) == 3 and all(isinstance(c, str) for c in cond)):
            raise InputError(f"rule '{name}': condition {cond!r} is not [feature, op, parameter]")
        feature, op, param = cond
        if feature not in _COLUMN:
            raise InputError(f"rule '{name}': unknown feature '{feature}' (known: {', '.join(FEATURES)})")
        if op not in OPS:
            raise InputError(f"rule '{name}': unknown operator '{op}' (use >= or <=)")
        if param not in PARAMETERS:
            raise InputError(f"rule '{name}': unknown parameter '{param}'")
        return _COLUMN[feature], op, param

    @classmethod
    def _check(cls, rule, features: np.ndarray, params: dict) -> np.ndarray:
        """Does each candidate of ``features`` pass one compiled rule?"""
        if len(rule) == 3:
            col, op, param = rule
            return OPS[op](features[:, col], params[param])
        mode, parts = rule
        checks = [cls._check(p, features, params) for p in parts]
        return np.logical_and.reduce(checks) if mode == "all" else np.logical_or.reduce(checks)

    def evaluate(self, features: np.ndarray, params: dict) -> dict[str, np.ndarray]:
        """Pass/fail of every rule (``"kind/rule"``) for every candidate; rules of other kinds pass."""
        out = {}
        kind = features[:, _COLUMN["kind"]]
        for k, kind_rules in self.rules.items():
            mine = kind == k
            for name, rule in kind_rules.items():
                out[f"{KINDS[k]}/{name}"] = self._check(rule, features, params) | ~mine
        return out

    def passed(self, features: np.ndarray, params: dict) -> np.ndarray:
        """Candidates that pass every rule of their kind (a kind with no rules passes nothing).

        The same verdict as all of ``evaluate``, from the compiled program: one call per event instead of
        a numpy call per condition.
        """
        return self.run(features, self.values(params))

    def values(self, params: dict) -> np.ndarray:
        """The parameter values the compiled program reads, in its order."""
        return np.array([params[name] for name in self._param_names], dtype=np.float64)

    def run(self, features: np.ndarray, values: np.ndarray) -> np.ndarray:
        """``passed`` with the parameter values already gathered by ``values``."""
        return _run_program(features, _COLUMN["kind"], self._program, self._kind_start, values)

    def _compile(self) -> None:
        """Postfix program of the rule set: rows (op, column or count, parameter index)."""
        names: list[str] = []
        code: list[tuple[int, int, int]] = []

        def emit(rule: tuple) -> None:
            """Append a compiled rule's postfix rows to ``code``, its parameters to ``names``."""
            if len(rule) == 3:
                col, op, param = rule
                if param not in names:
                    names.append(param)
                code.append((_OP_GE if op == ">=" else _OP_LE, col, names.index(param)))
                return
            mode, parts = rule
            for part in parts:
                emit(part)
            code.append((_OP_ALL if mode == "all" else _OP_ANY, len(parts), 0))

        kind_start = np.full(len(KINDS) + 1, -1, np.int64)
        for k, kind_rules in sorted(self.rules.items()):
            kind_start[k] = len(code)
            for rule in kind_rules.values():
                emit(rule)
            code.append((_OP_ALL, len(kind_rules), 0))
            code.append((_OP_END, 0, 0))
        self._param_names = names
        self._program = np.array(code, dtype=np.int64).reshape(-1, 3)
        self._kind_start = kind_start

    @classmethod
    def _explain(cls, rule, row: np.ndarray, params: dict) -> str:
        """'' when the rule holds for one candidate, else what failed, with the numbers."""
        if len(rule) == 3:
            col, op, param = rule
            if OPS[op](row[col], params[param]):
                return ""
            return f"{FEATURES[col]} = {row[col]:.4g}, needs {op} {param} = {params[param]:g}"
        mode, parts = rule
        failed = [msg for msg in (cls._explain(p, row, params) for p in parts) if msg]
        if mode == "all":
            return failed[0] if failed else ""
        return "" if len(failed) < len(parts) else "none of: " + " | ".join(failed)

    def reasons(self, row: np.ndarray, params: dict) -> dict[str, str]:
        """For one candidate, each rule of its kind: "pass", or "fail: " and what failed."""
        out = {}
        for name, rule in self.rules.get(int(row[_COLUMN["kind"]]), {}).items():
            msg = self._explain(rule, row[None, :][0], params)
            out[name] = "pass" if not msg else "fail: " + msg
        return out
