"""michelreco.reco.bits, and the voxel lists it orders (features.voxels_of_nodes) against a plain sort."""

import numpy as np
from numba import njit

from michelreco.reco.bits import lowest_bit
from michelreco.reco.features import voxels_of_nodes


@njit
def _lowest(words):
    return np.array([lowest_bit(w) for w in words])


def test_lowest_bit_of_every_position_and_of_mixed_words():
    rng = np.random.default_rng(1)
    single = np.uint64(1) << np.arange(64, dtype=np.uint64)
    mixed = rng.integers(1, 2 ** 63, 500, dtype=np.int64).astype(np.uint64) | single[rng.integers(0, 64, 500)]
    words = np.concatenate([single, mixed, [np.uint64(2 ** 64 - 1)]])
    expected = [(int(w) & -int(w)).bit_length() - 1 for w in words]
    assert _lowest(words).tolist() == expected


def test_voxels_of_nodes_are_the_sorted_union_of_the_nodes_lists():
    rng = np.random.default_rng(2)
    n = 5000
    words = np.zeros(n // 64 + 1, np.uint64)            # the bit set, shared by every call as in the finder
    for trial in range(200):
        node_first = np.full(n, -1, np.int64)
        node_next = np.full(n, -1, np.int64)
        spread = rng.choice([40, 300, n])                # ranges within one word, several, the whole event
        start = rng.integers(0, n - spread + 1)
        voxels = start + rng.choice(spread, rng.integers(1, min(spread, 120)), replace=False)
        owner = rng.choice(voxels, rng.integers(1, len(voxels) + 1), replace=False)   # the nodes
        lists = {int(v): [] for v in owner}
        for v in voxels:                                 # each voxel hangs from one node, ascending per node
            lists[int(owner[rng.integers(len(owner))])].append(int(v))
        for node, members in lists.items():
            members.sort()
            for a, b in zip(members, members[1:]):
                node_next[a] = b
            node_first[node] = members[0] if members else -1
        marked = rng.permutation(owner)[: rng.integers(1, len(owner) + 1)]
        expected = sorted(v for node in marked for v in lists[int(node)])
        assert voxels_of_nodes(marked, node_first, node_next, words).tolist() == expected, trial
        assert not words.any()                            # left clear for the next call
    assert voxels_of_nodes(np.array([7]), np.full(10, -1, np.int64), np.full(10, -1, np.int64), words).size == 0
