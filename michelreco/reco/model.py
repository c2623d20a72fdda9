"""The learned selection: a gradient-boosted tree ensemble over candidate features, stored as plain data.

A model file is JSON: the trees as arrays (feature column, threshold, children, leaf values), the feature names
in the order the trees read them, the decision threshold on the probability, the package version and a
fingerprint of the training data. Loading one never runs code (no pickle). Inference is a compiled walk over
the concatenated tree arrays, exactly the arithmetic of scikit-learn's ``HistGradientBoostingClassifier``:
raw score = baseline + sum of the leaves reached (NaN goes where the tree was told), probability = logistic.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit

from michelreco.errors import InputError
from michelreco.reco.schema import FEATURE_INDEX, FEATURES

if TYPE_CHECKING:
    from sklearn.ensemble import HistGradientBoostingClassifier

__all__ = ["MODEL_FORMAT", "MODEL_FEATURES", "TreeModel", "load_model", "default_model_path"]

MODEL_FORMAT = "michelreco-tree-ensemble/1"

# Features the model may read: everything but the bookkeeping columns (cluster number, peak position), which
# say where a candidate is, not what it is.
MODEL_FEATURES: tuple[str, ...] = tuple(f for f in FEATURES if f not in ("cluster", "peak_x", "peak_y", "peak_z"))

_TREE_KEYS = ("feature", "threshold", "left", "right", "missing_left", "value", "count")


def default_model_path() -> Path:
    """Where is the model shipped with the package?"""
    return Path(str(resources.files("michelreco") / "data" / "default_model.json"))


@njit(cache=True, nogil=True)
def _raw_scores(x, column, threshold, child, nan_right, value, roots, depth, baseline):
    """Raw score (log-odds) of every row of ``x``: baseline plus the leaf each tree sends the row to.

    Node arrays of all trees, concatenated; an inner node's children are ``child`` (left) and ``child + 1``
    (right); a leaf is its own child with threshold +inf, so every row takes exactly ``depth[t]`` steps in tree
    t. The rows step together, without branches (the next node is computed, not chosen): the walks of
    different candidates overlap in the processor instead of waiting on each comparison. ``column`` is the
    feature-table column each node tests; a NaN goes right where ``nan_right``.
    """
    n = x.shape[0]
    node = np.empty(n, np.int64)
    acc = np.zeros(n)
    for t in range(roots.shape[0]):
        node[:] = roots[t]
        for _ in range(depth[t]):
            for r in range(n):
                k = node[r]
                v = x[r, column[k]]
                node[r] = child[k] + ((v > threshold[k]) | ((v != v) & nan_right[k]))
        for r in range(n):
            acc[r] += value[node[r]]
    out = np.empty(n)
    for r in range(n):
        out[r] = baseline + acc[r]
    return out


def _sibling_order(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """A breadth-first order of a tree's nodes in which every node's two children are neighbours."""
    order, k = [0], 0
    while k < len(order):
        node = order[k]
        if left[node] >= 0:
            order += [int(left[node]), int(right[node])]
        k += 1
    return np.array(order, np.int64)


def _depth(left: np.ndarray, right: np.ndarray) -> int:
    """Edges on the longest path from the root (node 0) to a leaf."""
    depth = np.zeros(len(left), np.int64)
    for node in range(len(left)):                   # children come after their parent (checked on loading)
        if left[node] >= 0:
            depth[left[node]] = depth[right[node]] = depth[node] + 1
    return int(depth.max()) if len(depth) else 0


@dataclass
class TreeModel:
    """A binary tree ensemble over named candidate features, with its decision threshold.

    Attributes
    ----------
    features : tuple of str
        Feature names, in the order the trees' ``feature`` indices refer to.
    baseline : float
        Raw score (log-odds) before any tree.
    trees : list of dict
        Per tree, equal-length arrays ``feature``, ``threshold``, ``left``, ``right`` (-1 at a leaf),
        ``missing_left``, ``value`` (leaf values; raw-score units) and ``count`` (training samples per node).
    threshold : float
        A candidate is a Michel when its probability is at least this.
    meta : dict
        Package version, training fingerprint and settings, validation scores: for people, never executed.
    """

    features: tuple[str, ...]
    baseline: float
    trees: list[dict[str, np.ndarray]]
    threshold: float = 0.5
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Check the feature names and lay the trees out for the compiled walk."""
        unknown = [f for f in self.features if f not in FEATURE_INDEX]
        if unknown:
            raise InputError(f"model made for another feature set: unknown features {', '.join(unknown)}")
        self._columns = np.array([FEATURE_INDEX[f] for f in self.features], np.int64)
        self._flatten()

    def _flatten(self) -> None:
        """Lay all trees out for the compiled walk: children side by side, columns of the feature table."""
        parts: dict[str, list] = {"column": [], "threshold": [], "child": [], "missing_left": [], "value": []}
        roots, depths, offset = [], [], 0
        for tree in self.trees:
            left, right = np.asarray(tree["left"], np.int64), np.asarray(tree["right"], np.int64)
            order = _sibling_order(left, right)
            new_index = np.empty(len(order), np.int64)
            new_index[order] = np.arange(len(order))
            inner = left[order] >= 0
            parts["child"].append(np.where(inner, new_index[np.maximum(left[order], 0)] + offset, -1))
            parts["column"].append(self._columns[np.asarray(tree["feature"], np.int64)[order]])
            parts["threshold"].append(np.asarray(tree["threshold"], np.float64)[order])
            parts["missing_left"].append(np.asarray(tree["missing_left"], np.bool_)[order])
            parts["value"].append(np.asarray(tree["value"], np.float64)[order])
            roots.append(offset)
            depths.append(_depth(left, right))
            offset += len(order)
        cat = {k: np.concatenate(v) if v else np.empty(0) for k, v in parts.items()}
        child = cat["child"].astype(np.int64)
        leaf = child < 0
        self._child = np.where(leaf, np.arange(len(child)), child)         # a leaf is its own child ...
        self._threshold = np.where(leaf, np.inf, cat["threshold"].astype(np.float64))    # ... never left
        self._column = np.where(leaf, 0, cat["column"]).astype(np.int64)
        self._nan_right = ~cat["missing_left"].astype(np.bool_) & ~leaf
        self._value = cat["value"].astype(np.float64)
        self._roots = np.array(roots, np.int64)
        self._depth = np.array(depths, np.int64)

    # -- scores ---------------------------------------------------------------------------------------
    def raw_scores(self, features: np.ndarray) -> np.ndarray:
        """Log-odds of every candidate of a feature table (C, len(FEATURES))."""
        x = np.ascontiguousarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(FEATURES):
            raise InputError(f"a feature table must have {len(FEATURES)} columns, got shape {x.shape}")
        return _raw_scores(x, self._column, self._threshold, self._child, self._nan_right, self._value,
                           self._roots, self._depth, self.baseline)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Probability that each candidate is a Michel (logistic of the raw score)."""
        return 1.0 / (1.0 + np.exp(-self.raw_scores(features)))

    def decide(self, features: np.ndarray, threshold: float | None = None) -> np.ndarray:
        """Which candidates are Michels: probability at or above the threshold (the model's by default)."""
        t = self.threshold if threshold is None else threshold
        if t <= 0.0:
            return np.ones(features.shape[0], bool)
        if t >= 1.0:
            return np.zeros(features.shape[0], bool)
        return self.raw_scores(features) >= math.log(t / (1.0 - t))

    @property
    def expected_score(self) -> float:
        """The raw score of an average training candidate: the baseline plus each tree's count-weighted mean."""
        return self.baseline + sum(float(self._expected_values(tree)[0]) for tree in self.trees)

    def contributions(self, row: np.ndarray) -> dict[str, float]:
        """How much each feature moved one candidate's raw score away from ``expected_score`` (the changes of the
        expected value along each tree's path, summed per feature); the two add up to the raw score."""
        x = np.asarray(row, dtype=np.float64)[self._columns]
        out = dict.fromkeys(self.features, 0.0)
        for tree in self.trees:
            expected = self._expected_values(tree)
            node = 0
            while tree["left"][node] >= 0:
                f = int(tree["feature"][node])
                v = x[f]
                go_left = bool(tree["missing_left"][node]) if math.isnan(v) else v <= tree["threshold"][node]
                child = int(tree["left"][node] if go_left else tree["right"][node])
                out[self.features[f]] += expected[child] - expected[node]
                node = child
        return out

    @staticmethod
    def _expected_values(tree: dict) -> np.ndarray:
        """Every node's count-weighted mean of its leaves (cached on the tree)."""
        if "_expected" not in tree:
            left, right = np.asarray(tree["left"]), np.asarray(tree["right"])
            count = np.maximum(np.asarray(tree["count"], np.float64), 1e-12)
            exp = np.asarray(tree["value"], np.float64).copy()
            for node in range(len(exp) - 1, -1, -1):        # children come after their parent
                if left[node] >= 0:
                    a, b = left[node], right[node]
                    exp[node] = (exp[a] * count[a] + exp[b] * count[b]) / (count[a] + count[b])
            tree["_expected"] = exp
        return tree["_expected"]

    # -- files ------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The model as plain JSON-able data."""
        return {"format": MODEL_FORMAT, "features": list(self.features), "baseline": self.baseline,
                "threshold": self.threshold, "meta": self.meta,
                "trees": [{k: np.asarray(t[k]).tolist() for k in _TREE_KEYS} for t in self.trees]}

    def to_json(self) -> str:
        """The model file's text (``michelreco.run.train.save_model`` writes it)."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Any, where: str = "model") -> TreeModel:
        """Build a model from ``to_dict`` data, refusing anything else with one line."""
        if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
            raise InputError(f"{where}: not a michelreco model (expected format {MODEL_FORMAT!r})")
        try:
            features = tuple(str(f) for f in data["features"])
            trees = []
            for t in data["trees"]:
                tree = {k: np.asarray(t[k]) for k in _TREE_KEYS}
                n = len(tree["value"])
                if any(len(tree[k]) != n for k in _TREE_KEYS) or n == 0:
                    raise ValueError("tree arrays of different lengths")
                left, right = tree["left"].astype(np.int64), tree["right"].astype(np.int64)
                inner = left >= 0
                # children after their parent and inside the tree; features inside the feature list: the
                # compiled walk must never leave the arrays
                if (np.any(left[inner] <= np.flatnonzero(inner)) or np.any(right[inner] <= np.flatnonzero(inner))
                        or np.any(left[inner] >= n) or np.any(right[inner] >= n)
                        or np.any(tree["feature"][inner] < 0) or np.any(tree["feature"][inner] >= len(features))
                        or not np.all(np.isfinite(np.asarray(tree["value"], np.float64)))):
                    raise ValueError("tree structure out of bounds")
                tree["left"], tree["right"] = left, right
                trees.append(tree)
            threshold = float(data["threshold"])
            baseline = float(data["baseline"])
            if not (0.0 <= threshold <= 1.0 and math.isfinite(baseline)):
                raise ValueError("threshold or baseline out of range")
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(f"{where}: damaged model file ({err})") from None
        try:
            return cls(features, baseline, trees, threshold, dict(data.get("meta") or {}))
        except InputError as err:
            raise InputError(f"{where}: {err}") from None

    @classmethod
    def from_sklearn(cls, clf: HistGradientBoostingClassifier, features: tuple[str, ...], threshold: float = 0.5,
                     meta: dict | None = None) -> TreeModel:
        """Copy a fitted binary ``HistGradientBoostingClassifier`` (numeric features only).

        Parameters
        ----------
        clf : sklearn.ensemble.HistGradientBoostingClassifier
            Fitted on the columns ``features``, in that order.
        features : tuple of str
            The feature names of its columns.
        threshold : float
            The decision threshold on the probability.
        meta : dict, optional
            The record kept with the model (training, scores).

        Returns
        -------
        TreeModel
            The same trees as data, giving the same raw scores.
        """
        if clf.n_trees_per_iteration_ != 1:
            raise ValueError("only binary classifiers are supported")
        trees = []
        for (predictor,) in clf._predictors:
            nodes = predictor.nodes
            if nodes["is_categorical"].any():
                raise ValueError("categorical splits are not supported")
            leaf = nodes["is_leaf"].astype(bool)
            trees.append({
                "feature": np.where(leaf, 0, nodes["feature_idx"]).astype(np.int64),
                "threshold": nodes["num_threshold"].astype(np.float64),
                "left": np.where(leaf, -1, nodes["left"].astype(np.int64)),
                "right": np.where(leaf, -1, nodes["right"].astype(np.int64)),
                "missing_left": nodes["missing_go_to_left"].astype(bool),
                "value": np.where(leaf, nodes["value"], 0.0).astype(np.float64),
                "count": nodes["count"].astype(np.int64),
            })
        return cls(tuple(features), float(np.ravel(clf._baseline_prediction)[0]), trees, threshold, meta or {})


def load_model(path: str | PathLike | None = None) -> TreeModel:
    """Read a model file (the shipped default when ``path`` is None); one-line ``InputError`` when it is not one."""
    path = default_model_path() if path in (None, "", "default") else Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such model file")
    try:
        data = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(f"{path}: damaged model file (not JSON)") from None
    return TreeModel.from_dict(data, where=str(path))
