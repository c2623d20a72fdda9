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
    # 10^6 events x 7 voxels: float accumulation of per-event F1 would drift; integer sums do not
    n = 1_000_000
    from michelreco.analysis.metrics import ScoreTable
    t = ScoreTable(np.full(n, 3), np.full(n, 1), np.full(n, 3))
    assert t.pooled.tp == 3 * n and t.pooled.f1 == 6 / 10


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
    with pytest.raises(InputError, match="event 2: solution index out of range"):
        score_files(oob, lab_path)
