"""What a model file must hold, checked before any kernel sees it: each tree's arrays and the early exit.

A model file is data (``michelreco.reco.model``), read from disk and possibly damaged or written by hand. The
compiled kernels index arrays with its numbers, so every number is checked for its kind and range here, and a
failure raises ``ValueError`` naming what is wrong, which ``TreeModel.from_dict`` turns into one line.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["TREE_KEYS", "checked_tree", "early_exit_of"]

# each array of a tree and the kind of number it holds: whole numbers (i), numbers (f), booleans (b)
_TREE_KINDS = {"feature": "i", "threshold": "f", "left": "i", "right": "i", "missing_left": "b", "value": "f",
               "count": "i"}
_DTYPES = {"i": np.int64, "f": np.float64, "b": np.bool_}
_WORDS = {"i": "whole numbers", "f": "numbers", "b": "true/false values"}
_ACCEPTED = {"i": "iu", "f": "iuf", "b": "b"}     # numpy kinds a JSON list of that kind comes back as
TREE_KEYS = tuple(_TREE_KINDS)


def checked_tree(entry: Any, n_features: int, number: int = 0) -> dict[str, np.ndarray]:
    """One tree of a model file as typed arrays, refused (``ValueError``) unless every array is a list of numbers
    of its kind, all of one length, children after their parent and inside the tree, features inside the
    feature list, split thresholds not NaN and leaf values finite: the compiled walk must never leave the arrays.
    ``number`` (the tree's position in the file) names it in the message."""
    if not isinstance(entry, dict):
        raise ValueError(f"tree {number} is not a mapping")
    tree = {}
    for key, kind in _TREE_KINDS.items():
        raw = np.asarray(entry[key])
        if raw.ndim != 1 or (raw.size and raw.dtype.kind not in _ACCEPTED[kind]):
            raise ValueError(f"tree {number}: {key!r} is not a list of {_WORDS[kind]}")
        tree[key] = raw.astype(_DTYPES[kind])
    n = len(tree["value"])
    if n == 0 or any(len(a) != n for a in tree.values()):
        raise ValueError(f"tree {number}: arrays of different lengths")
    left, right = tree["left"], tree["right"]
    inner = left >= 0
    node = np.flatnonzero(inner)
    if (np.any(left[inner] <= node) or np.any(right[inner] <= node) or np.any(left[inner] >= n)
            or np.any(right[inner] >= n) or np.any(tree["feature"][inner] < 0)
            or np.any(tree["feature"][inner] >= n_features)):
        raise ValueError(f"tree {number}: structure out of bounds")
    if np.isnan(tree["threshold"][inner]).any() or not np.isfinite(tree["value"]).all():
        raise ValueError(f"tree {number}: a split threshold that is not a number or a leaf value not finite")
    return tree


def early_exit_of(data: Any, n_trees: int) -> dict[str, float] | None:
    """A model file's early-exit entry, checked (None when it has none: files written before it existed)."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ValueError("not a mapping")
    if isinstance(data["trees"], bool) or not isinstance(data["trees"], int):
        raise ValueError("a whole number of trees expected")
    out = {"trees": data["trees"], "raw_below": float(data["raw_below"]),
           "from_probability": float(data["from_probability"])}
    if not (0 < out["trees"] < n_trees and math.isfinite(out["raw_below"]) and 0.0 < out["from_probability"] < 1.0):
        raise ValueError("out of range")
    return out
