"""F1 split by Michel category, and the thresholded copy of a sample, on a small simulated sample."""

import numpy as np
import pytest

from michelreco.analysis.metrics import score_files
from michelreco.errors import InputError
from michelreco.run.io import iter_events, iter_labels, write_solution
from michelreco.sim.generate import simulate_file
from michelreco.sim.robustness import CATEGORIES, NO_MICHEL, category_counts, michel_categories, threshold_sample


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """40 default events (seed 17) with their events, labels and truth."""
    prefix = tmp_path_factory.mktemp("rob") / "s"
    paths = simulate_file(prefix, 40, seed=17, workers=1, progress=False)
    events = [x for _, x in iter_events(paths.xyze)]
    labels = [lab for _, lab in iter_labels(paths.labels)]
    return prefix, events, labels, np.load(paths.truth)


def test_categories_of_michel_rows():
    m = np.zeros(4, [("attached", bool), ("contained", bool)])
    m["attached"] = [True, False, True, False]
    m["contained"] = [True, False, False, True]
    assert michel_categories(m).tolist() == [0, 1, 2, 1]


def test_perfect_and_empty_solutions(sample, tmp_path):
    prefix, events, labels, truth = sample
    perfect = tmp_path / "perfect.h5"
    write_solution(perfect, [np.flatnonzero(lab == 2).astype(np.int32) for lab in labels])
    counts = category_counts(prefix, perfect)
    cats = michel_categories(truth["michels"])
    mv = truth["michel_voxels"]
    for k, name in enumerate(CATEGORIES):
        n_true = int(np.sum(cats[mv[:, 2]] == k))
        assert counts[name].tp == n_true and counts[name].fp == 0 and counts[name].fn == 0
    assert counts[NO_MICHEL].fp == 0
    assert sum(c.tp for c in counts.values()) == sum(int((lab == 2).sum()) for lab in labels) > 0
    empty = tmp_path / "empty.h5"
    write_solution(empty, [np.zeros(0, np.int32) for _ in labels])
    counts = category_counts(prefix, empty)
    assert all(counts[name].tp == 0 and counts[name].recall == 0 for name in CATEGORIES)
    assert sum(c.fn for c in counts.values()) == sum(int((lab == 2).sum()) for lab in labels)


def test_false_positives_go_to_the_nearest_michels_category_and_sum_to_the_score(sample, tmp_path):
    prefix, events, labels, truth = sample
    rng = np.random.default_rng(0)
    rows = []
    for xyze, lab in zip(events, labels):
        michel = np.flatnonzero(lab == 2)
        found = list(michel[: len(michel) // 2])                 # half the Michel voxels
        others = np.flatnonzero(lab != 2)
        if others.size:
            found += list(rng.choice(others, size=min(5, others.size), replace=False))
        rows.append(np.unique(np.array(found, np.int64)).astype(np.int32))
    solution = tmp_path / "half.h5"
    write_solution(solution, rows)
    counts = category_counts(prefix, solution, radius_vox=1e9)   # every false positive has a nearest Michel
    scored = score_files(solution, sample[0].parent / "s_label.h5").pooled
    assert (sum(c.tp for c in counts.values()), sum(c.fp for c in counts.values()),
            sum(c.fn for c in counts.values())) == (scored.tp, scored.fp, scored.fn)
    has_michel = [bool((lab == 2).any()) for lab in labels]
    n_fp_in_michel_events = sum(len(np.setdiff1d(r, np.flatnonzero(lab == 2)))
                                for r, lab, h in zip(rows, labels, has_michel) if h)
    assert counts[NO_MICHEL].fp == scored.fp - n_fp_in_michel_events
    tight = category_counts(prefix, solution, radius_vox=0.5)    # no false positive is a Michel voxel
    assert tight[NO_MICHEL].fp == scored.fp


def test_thresholded_copy_remaps_the_michel_voxels(sample, tmp_path):
    prefix, events, labels, truth = sample
    out = threshold_sample(prefix, tmp_path / "cut", 0.13)
    cut_events = [x for _, x in iter_events(out.xyze)]
    cut_labels = [lab for _, lab in iter_labels(out.labels)]
    t = np.load(out.truth)
    for i, (xyze, lab, full, full_lab) in enumerate(zip(cut_events, cut_labels, events, labels)):
        keep = full[:, 3] > 0.13
        assert np.array_equal(xyze, full[keep]) and np.array_equal(lab, full_lab[keep])
        rows = t["michel_voxels"][t["michel_voxels"][:, 0] == i]
        assert np.array_equal(np.sort(rows[:, 1]), np.flatnonzero(lab == 2))
    assert t["n_voxels"].tolist() == [len(x) for x in cut_events]
    with pytest.raises(InputError, match="exists"):
        threshold_sample(prefix, tmp_path / "cut", 0.13)
    with pytest.raises(InputError, match="no such file"):
        category_counts(tmp_path / "nothing", tmp_path / "x.h5")
