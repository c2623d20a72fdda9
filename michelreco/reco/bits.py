"""Bit tricks for the compiled kernels: the position of a word's lowest set bit, and sets of small integers.

The lowest set bit of a 64-bit word is found with one multiplication by a de Bruijn sequence and a table
lookup (Leiserson, Prokop and Randall, "Using de Bruijn sequences to index a 1 in a computer word", 1998):
portable, and without the compiler intrinsics numba keeps in an internal module.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["lowest_bit"]

_DEBRUIJN64 = np.uint64(0x03F79D71B4CB0A89)
_INDEX = np.zeros(64, np.int64)
for _bit in range(64):
    _INDEX[((int(_DEBRUIJN64) << _bit) & 0xFFFFFFFFFFFFFFFF) >> 58] = _bit


@njit(cache=True, nogil=True, inline="always")
def lowest_bit(word):
    """Index (0..63) of the lowest set bit of a non-zero uint64 word."""
    low = word & (~word + np.uint64(1))          # the lowest set bit alone
    return _INDEX[(low * _DEBRUIJN64) >> np.uint64(58)]
