"""Pooled, per-event and per-block scores with exact integer counting."""

import numpy as np
import pytest

from michelreco.errors import InputError
from michelreco.run.io import write_solution
from michelreco.analysis.metrics import score_files, score_rows


def _hand_case():
    labels = [np.array([2, 2, 1, 2, 0]),   # predicted 0, 1, 4: TP 2, FP 1, FN 1
              np.array([1, 1]),            # nothing, nothing: empty event, perfect
              np.array([2, 2]),            # missed: FN 2
              np.array([0, 0, 0])]         # FP 1
    preds = [np.array([0, 1, 4]), np.array([], int), np.array([], int), np.array([2])]
    return preds, labels


def test_hand_worked_counts():
    preds, labels = _hand_case()
    table = score_rows(preds, labels)
    assert list(table.tp) == [2, 0, 0, 0] and list(table.fp) == [1, 0, 0, 1] and list(table.fn) == [1, 0, 2, 0]
    c = table.pooled
    assert (c.tp, c.fp, c.fn) == (2, 2, 3)
    assert c.precision == pytest.approx(0.5) and c.recall == pytest.approx(0.4)
    assert c.f1 == pytest.approx(4 / 9)
    per = table.per_event()
    assert list(per["empty"]) == [False, True, False, False]
    assert per["f1"][1] == 1.0 and per["precision"][1] == 1.0
    assert per["f1"][0] == pytest.approx(2 / 3) and per["recall"][2] == 0.0 and per["precision"][3] == 0.0
    assert list(table.has_michel) == [True, False, True, False]
    assert table.subset(~table.has_michel).pooled.fp == 1
    blocks = table.per_block(3)
    assert [(lo, hi) for lo, hi, _ in blocks] == [(0, 3), (3, 4)]
    assert (blocks[0][2].tp, blocks[0][2].fp, blocks[0][2].fn) == (2, 1, 3)


def test_truth_as_solution_scores_one(tiny_sample):
    _, lab_path, _, labels = tiny_sample
    sol = lab_path.with_name("truth_solution.h5")
    write_solution(sol, [np.flatnonzero(lab == 2) for lab in labels])
    c = score_files(sol, lab_path).pooled
    assert c.fp == 0 and c.fn == 0 and c.tp == sum(int((lab == 2).sum()) for lab in labels) > 0
    assert c.f1 == 1.0


def test_exact_counts_on_large_totals():
    # 10^6 events: totals beyond 2^24, where float32 sums would drift; the pooled counts must stay exact,
    # the pooled F1 must be the ratio of the integer sums (not the mean of per-event F1), and the blocks
    # must add up to the whole.
    from fractions import Fraction

    from michelreco.analysis.metrics import ScoreTable
    rng = np.random.default_rng(1)
    n = 1_000_000
    tp, fp, fn = (rng.integers(0, 60, n) for _ in range(3))
    t = ScoreTable(tp, fp, fn)
    sums = [sum(int(v) for v in a.tolist()) for a in (tp, fp, fn)]
    assert sums[0] > 2 ** 24
    c = t.pooled
    assert (c.tp, c.fp, c.fn) == tuple(sums)
    assert c.f1 == float(Fraction(2 * sums[0], 2 * sums[0] + sums[1] + sums[2]))
    assert abs(c.f1 - float(np.mean(t.per_event()["f1"]))) > 1e-3
    blocks = t.per_block(4096)
    assert sum(b[2].tp for b in blocks) == sums[0] and blocks[-1][1] == n


def test_event_range_solution_scored_with_start(tiny_sample, tmp_path):
    import h5py

    _, lab_path, _, labels = tiny_sample
    truth = [np.flatnonzero(lab == 2) for lab in labels]
    part = tmp_path / "part.h5"
    write_solution(part, truth[2:5])                   # events 2, 3, 4: scored against those labels
    with pytest.raises(InputError, match="give its first event with --start"):
        score_files(part, lab_path)
    table = score_files(part, lab_path, start=2)
    assert len(table) == 3 and table.first_event == 2 and table.pooled.fp == table.pooled.fn == 0
    assert [lo for lo, _, _ in table.per_block(2)] == [2, 4]
    with h5py.File(part, "a") as f:                    # as find-michels --start 2 records it
        f["solution"].attrs["first_event"] = 2
    assert score_files(part, lab_path).pooled == table.pooled
    with pytest.raises(InputError, match="event 1: solution index 24 but the event has no voxels"):
        score_files(part, lab_path, start=1)                         # an explicit --start wins
    with pytest.raises(InputError, match="holds events 4..6 but .* has only 6 events"):
        score_files(part, lab_path, start=4)
    csv_path = tmp_path / "per_event.csv"
    table.write_per_event_csv(csv_path)
    assert [line.split(",")[0] for line in csv_path.read_text().splitlines()[1:]] == ["2", "3", "4"]


def test_score_files_checks(tiny_sample, tmp_path):
    _, lab_path, _, labels = tiny_sample
    short = tmp_path / "short.h5"
    write_solution(short, [[]] * 5)
    with pytest.raises(InputError, match="has 5 events but .* has 6"):
        score_files(short, lab_path)
    bad = tmp_path / "bad.h5"
    write_solution(bad, [[0, 0]] + [[]] * 5)
    with pytest.raises(InputError, match="event 0: duplicated"):
        score_files(bad, lab_path)
    oob = tmp_path / "oob.h5"
    write_solution(oob, [[]] * 2 + [[len(labels[2])]] + [[]] * 3)
    with pytest.raises(InputError, match="event 2: solution index 25 out of range"):
        score_files(oob, lab_path)
