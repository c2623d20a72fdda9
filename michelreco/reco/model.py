"""The learned selection: a gradient-boosted tree ensemble over candidate features, stored as plain data.

A model file is JSON: the trees as arrays (feature column, threshold, children, leaf values), the feature names
in the order the trees read them, the decision threshold on the probability, the package version and a
fingerprint of the training data. Loading one never runs code (no pickle). Inference is compiled, exactly the
arithmetic of scikit-learn's ``HistGradientBoostingClassifier``: raw score = baseline + sum of the leaves reached
(NaN goes where the tree was told), probability = logistic.

Two kernels find the leaves, with the same result:

- trees of at most 64 leaves (the shipped model has 15): the bit-vector traversal of QuickScorer (Lucchese et
  al., SIGIR 2015). Each tree's leaves are bits of a word, in left-to-right order; a node whose test sends a
  candidate right rules out the leaves of its left subtree; the leaf reached is the lowest bit left in each
  tree's word (``bits.lowest_bit``). The nodes are applied feature by feature, each to a block of candidates
  at once (vector instructions);
- larger trees: a walk from the root of each tree.

``decide`` may stop early (``TreeModel.early_exit``): most candidates are plainly not Michels, and the first
trees already say so; only the others go through the rest of the trees, whose leaves are added to the same
sums, so every score computed is the whole ensemble's, to the last bit.
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
from michelreco.reco.bits import lowest_bit
from michelreco.reco.cut_voxels import CUT_FEATURES
from michelreco.reco.model_file import TREE_KEYS, checked_tree, early_exit_of
from michelreco.reco.schema import FEATURES

if TYPE_CHECKING:
    from sklearn.ensemble import HistGradientBoostingClassifier

__all__ = ["MODEL_FORMAT", "MODEL_FEATURES", "TreeModel", "load_model", "default_model_path"]

MODEL_FORMAT = "michelreco-tree-ensemble/1"

# Features the model may read: everything but the bookkeeping columns (cluster number, peak position), which
# say where a candidate is, not what it is.
MODEL_FEATURES: tuple[str, ...] = tuple(f for f in FEATURES if f not in ("cluster", "peak_x", "peak_y", "peak_z"))


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


MAX_BITMASK_LEAVES = 64


ROW_BLOCK = 64     # candidates scored together: their words of 250 trees (128 kB) stay in the level-2 cache


@njit(cache=True, nogil=True)
def _add_leaves_bitmask(x, rows, acc, columns, col_ptr, threshold, tree, mask, nan_right, leaf_start, leaf_value):
    """Add to ``acc[r]``, for each row r of ``rows``, the leaves its trees send it to, by QuickScorer's bit vectors
    (trees of at most 64 leaves; module docstring).

    The nodes of feature-table column c are ``col_ptr[c]:col_ptr[c + 1]``, ascending in ``threshold``; node k
    of tree ``tree[k]`` clears the bits ``~mask[k]`` (the leaves of its left subtree) when the candidate goes
    right there. Tree t's leaf of rank j (left to right) has value ``leaf_value[leaf_start[t] + j]``.

    Each node is applied to a block of ``ROW_BLOCK`` rows at once: one test and one masked AND per row, no branch
    (vector instructions; about 40% faster than taking each row through its nodes up to its first left turn).
    Leaves are added tree after tree to each row's sum: the walk's sums to the last bit, and an ensemble split
    in two parts adds up, part after part, to the same sums as the whole.
    """
    n_trees = leaf_start.shape[0] - 1
    full = ~np.uint64(0)
    words = np.empty((n_trees, ROW_BLOCK), np.uint64)
    v = np.empty(ROW_BLOCK)
    total = np.empty(ROW_BLOCK)
    for b0 in range(0, rows.shape[0], ROW_BLOCK):
        m = min(ROW_BLOCK, rows.shape[0] - b0)
        words[:, :m] = full
        for c in columns:
            has_nan = False
            top = -np.inf
            for i in range(m):
                vi = x[rows[b0 + i], c]
                v[i] = vi
                has_nan |= vi != vi
                top = max(top, vi)
            for k in range(col_ptr[c], col_ptr[c + 1]):
                thr = threshold[k]
                if thr >= top and not has_nan:
                    break                              # every row goes left here and at the column's later nodes
                w = words[tree[k]]
                keep = mask[k]
                if has_nan:                            # a NaN goes right where the tree was told
                    go_nan = nan_right[k]
                    for i in range(m):
                        if v[i] > thr or (v[i] != v[i] and go_nan):
                            w[i] &= keep
                else:
                    for i in range(m):                 # all ones where the row goes left: the word unchanged
                        left = np.uint64(0) - np.uint64(v[i] <= thr)
                        w[i] &= keep | left
        for i in range(m):
            total[i] = acc[rows[b0 + i]]
        for t in range(n_trees):
            start = leaf_start[t]
            w = words[t]
            for i in range(m):
                total[i] += leaf_value[start + lowest_bit(w[i])]
        for i in range(m):
            acc[rows[b0 + i]] = total[i]


@njit(cache=True, nogil=True)
def _decide_early_exit(x, baseline, raw_below, logit, first, rest):
    """``TreeModel.decide`` with its early exit: the trees of ``first`` for every row, those of ``rest`` only for
    the rows whose raw score after ``first`` is at least ``raw_below`` (``first`` and ``rest``: tuples of
    ``_add_leaves_bitmask``'s arrays, the ensemble's trees in order)."""
    n = x.shape[0]
    acc = np.zeros(n)
    _add_leaves_bitmask(x, np.arange(n), acc, *first)
    alive = np.flatnonzero(baseline + acc >= raw_below)
    _add_leaves_bitmask(x, alive, acc, *rest)      # the same sums as the whole ensemble's
    out = np.zeros(n, np.bool_)
    for r in alive:
        out[r] = baseline + acc[r] >= logit
    return out


def _leaf_ranks(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leaves of a tree left to right: (leaf nodes in that order, and per node the first and the end rank of
    the leaves below it)."""
    n = len(left)
    lo, hi = np.zeros(n, np.int64), np.zeros(n, np.int64)
    leaves: list[int] = []
    stack = [(0, False)]
    while stack:                                    # in-order, without recursion
        node, done = stack.pop()
        if left[node] < 0:
            lo[node], hi[node] = len(leaves), len(leaves) + 1
            leaves.append(node)
        elif done:
            lo[node], hi[node] = lo[left[node]], hi[right[node]]
        else:
            stack += [(node, True), (int(right[node]), False), (int(left[node]), False)]
    return np.array(leaves, np.int64), lo, hi


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


def _bitmask_layout(trees: list[dict], columns: np.ndarray, n_columns: int) -> tuple | None:
    """The node and leaf arrays of ``_add_leaves_bitmask`` for ``trees`` (feature-table ``columns`` of the model's
    features), or None when a tree has more than 64 leaves."""
    col, thr, tree_of, masks, nan_right, leaf_values, leaf_start = [], [], [], [], [], [], [0]
    for t, tree in enumerate(trees):
        left, right = np.asarray(tree["left"], np.int64), np.asarray(tree["right"], np.int64)
        leaves, lo, hi = _leaf_ranks(left, right)
        if len(leaves) > MAX_BITMASK_LEAVES:
            return None
        inner = np.flatnonzero(left >= 0)
        for node in inner:                      # going right rules out the leaves below the left child
            ruled_out = (1 << int(hi[left[node]])) - (1 << int(lo[left[node]]))
            masks.append(~ruled_out & 0xFFFFFFFFFFFFFFFF)
        col.append(columns[np.asarray(tree["feature"], np.int64)[inner]])
        thr.append(np.asarray(tree["threshold"], np.float64)[inner])
        nan_right.append(~np.asarray(tree["missing_left"], np.bool_)[inner])
        tree_of.append(np.full(len(inner), t, np.int64))
        leaf_values.append(np.asarray(tree["value"], np.float64)[leaves])
        leaf_start.append(leaf_start[-1] + len(leaves))
    if not trees:
        return None
    col_all, thr_all = np.concatenate(col), np.concatenate(thr)
    order = np.lexsort((thr_all, col_all))      # by column, then threshold (stable: tree order on ties)
    col_ptr = np.searchsorted(col_all[order], np.arange(n_columns + 1))
    return (np.unique(col_all).astype(np.int64), col_ptr.astype(np.int64), thr_all[order],
            np.concatenate(tree_of)[order], np.array(masks, np.uint64)[order],
            np.concatenate(nan_right)[order], np.array(leaf_start, np.int64), np.concatenate(leaf_values))


@dataclass
class TreeModel:
    """A binary tree ensemble over named features of a table (candidates by default), with its threshold.

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
    early_exit : dict, optional
        ``decide``'s shortcut (Cambazoglu et al., WSDM 2010): a candidate whose raw score after the first
        ``trees`` trees is below ``raw_below`` is rejected without the rest, at thresholds of at least
        ``from_probability``. Training sets ``raw_below`` below every training candidate that the whole model
        scores at ``from_probability`` or more (``michelreco.run.train.early_exit_for``).
    schema : tuple of str
        The columns of the tables it reads: the candidate features (``schema.FEATURES``) or, for a cut model,
        ``cut_voxels.CUT_FEATURES``.
    cut_model : TreeModel, optional
        Decides the voxels at the cut of the taken candidates again (``michelreco.reco.cut_voxels``).
    """

    features: tuple[str, ...]
    baseline: float
    trees: list[dict[str, np.ndarray]]
    threshold: float = 0.5
    meta: dict[str, Any] = field(default_factory=dict)
    early_exit: dict[str, float] | None = None
    schema: tuple[str, ...] = FEATURES
    cut_model: TreeModel | None = None

    def __post_init__(self) -> None:
        """Check the feature names and lay the trees out for the compiled walk."""
        index = {name: k for k, name in enumerate(self.schema)}
        unknown = [f for f in self.features if f not in index]
        if unknown:
            raise InputError(f"model made for another feature set: unknown features {', '.join(unknown)}")
        self._columns = np.array([index[f] for f in self.features], np.int64)
        try:
            self.early_exit = early_exit_of(self.early_exit, len(self.trees))
        except KeyError as err:
            raise InputError(f"damaged early exit (no entry {err})") from None
        except (TypeError, ValueError) as err:
            raise InputError(f"damaged early exit ({err})") from None
        self._bitmask = _bitmask_layout(self.trees, self._columns, len(self.schema))
        self._walk: tuple | None = None             # laid out when first needed (loading stays fast)
        self._parts: tuple | None = None            # the early exit's split and its two parts, likewise

    def _walk_layout(self) -> tuple:
        """All trees laid out for the compiled walk: children side by side, columns of the feature table."""
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
        return (np.where(leaf, 0, cat["column"]).astype(np.int64),
                np.where(leaf, np.inf, cat["threshold"].astype(np.float64)),     # a leaf is never left ...
                np.where(leaf, np.arange(len(child)), child),                    # ... and its own child
                ~cat["missing_left"].astype(np.bool_) & ~leaf, cat["value"].astype(np.float64),
                np.array(roots, np.int64), np.array(depths, np.int64))

    # -- scores ---------------------------------------------------------------------------------------
    def _table(self, features: np.ndarray) -> np.ndarray:
        """A feature table as the kernels read it, refused unless (C, len(schema))."""
        x = np.ascontiguousarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.schema):
            raise InputError(f"a feature table must have {len(self.schema)} columns, got shape {x.shape}")
        return x

    def raw_scores(self, features: np.ndarray) -> np.ndarray:
        """Log-odds of every candidate of a feature table (C, len(FEATURES))."""
        x = self._table(features)
        if self._bitmask is not None:
            acc = np.zeros(x.shape[0])
            _add_leaves_bitmask(x, np.arange(x.shape[0]), acc, *self._bitmask)
            return self.baseline + acc
        return self._walk_scores(x)

    def _walk_scores(self, x: np.ndarray) -> np.ndarray:
        """``raw_scores`` by walking every tree from its root (any tree size; the bit-vector kernel's reference)."""
        if self._walk is None:
            self._walk = self._walk_layout()
        return _raw_scores(x, *self._walk, self.baseline)

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
        logit = math.log(t / (1.0 - t))
        if self.early_exit is None or self._bitmask is None or t < self.early_exit["from_probability"]:
            return self.raw_scores(features) >= logit
        x = self._table(features)
        k = int(self.early_exit["trees"])
        if self._parts is None or self._parts[0] != k:         # laid out again if the exit was changed
            self._parts = (k, _bitmask_layout(self.trees[:k], self._columns, len(self.schema)),
                           _bitmask_layout(self.trees[k:], self._columns, len(self.schema)))
        return _decide_early_exit(x, self.baseline, self.early_exit["raw_below"], logit, *self._parts[1:])

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
        out = {"format": MODEL_FORMAT, "features": list(self.features), "baseline": self.baseline,
               "threshold": self.threshold, "meta": self.meta,
               "trees": [{k: np.asarray(t[k]).tolist() for k in TREE_KEYS} for t in self.trees]}
        if self.early_exit is not None:
            out["early_exit"] = dict(self.early_exit)
        if self.cut_model is not None:
            out["cut_voxels"] = self.cut_model.to_dict()
        return out

    def to_json(self) -> str:
        """The model file's text (``michelreco.run.train.save_model`` writes it)."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Any, where: str = "model", schema: tuple[str, ...] = FEATURES) -> TreeModel:
        """Build a model from ``to_dict`` data (its cut model too), refusing anything else with one line."""
        if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
            raise InputError(f"{where}: not a michelreco model (expected format {MODEL_FORMAT!r})")
        try:
            features = tuple(str(f) for f in data["features"])
            trees = [checked_tree(t, len(features), k) for k, t in enumerate(data["trees"])]
            threshold = float(data["threshold"])
            baseline = float(data["baseline"])
            if not (0.0 <= threshold <= 1.0 and math.isfinite(baseline)):
                raise ValueError("threshold or baseline out of range")
        except KeyError as err:
            raise InputError(f"{where}: damaged model file (no entry {err})") from None
        except (TypeError, ValueError) as err:
            raise InputError(f"{where}: damaged model file ({err})") from None
        cut = data.get("cut_voxels") if schema == FEATURES else None      # a cut model has none of its own
        cut_model = None if cut is None else cls.from_dict(cut, f"{where} (cut voxels)", CUT_FEATURES)
        try:
            return cls(features, baseline, trees, threshold, dict(data.get("meta") or {}), data.get("early_exit"),
                       schema, cut_model)
        except InputError as err:
            raise InputError(f"{where}: {err}") from None

    @classmethod
    def from_sklearn(cls, clf: HistGradientBoostingClassifier, features: tuple[str, ...], threshold: float = 0.5,
                     meta: dict | None = None, schema: tuple[str, ...] = FEATURES) -> TreeModel:
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
        schema : tuple of str
            The columns of the tables the model will read (``features`` among them).

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
        return cls(tuple(features), float(np.ravel(clf._baseline_prediction)[0]), trees, threshold, meta or {},
                   schema=tuple(schema))


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
